"""Seeding, gradient norms and the learning-rate schedule."""

import math
import random
from math import inf

import numpy as np
import torch


def set_seed(seed):
    """Seed every generator the sweep uses (Python, NumPy, torch)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def grad_norm(parameters, max_norm=inf):
    """Total gradient norm; clips to `max_norm` (no clipping by default)."""
    return float(torch.nn.utils.clip_grad_norm_(parameters, max_norm))


def warmup_cosine(warmup, total):
    """Multiplier of the base learning rate at each step: linear warmup, then cosine to 0."""

    def factor(step):
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor
