"""Evaluation metrics for sequence models; padding (targets == pad_id) is ignored."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from seqtrain.losses import masked_cross_entropy


def sequence_lengths(targets: ArrayLike, pad_id: int = 0) -> NDArray[np.int64]:
    """Number of non-padding tokens in each row of a (B, T) batch."""
    t = np.asarray(targets)
    return (t != pad_id).sum(axis=-1).astype(np.int64)


def masked_accuracy(logits: ArrayLike, targets: ArrayLike, pad_id: int = 0) -> float:
    """Fraction of non-padding positions whose arg-max prediction is the target (0.0 if none)."""
    x = np.asarray(logits, dtype=np.float64)
    t = np.asarray(targets)
    mask = t != pad_id
    n = int(mask.sum())
    if n == 0:
        return 0.0
    hits = (x.argmax(axis=-1) == t) & mask
    return float(hits.sum()) / n


def perplexity(logits: ArrayLike, targets: ArrayLike, pad_id: int = 0) -> float:
    """exp of the mean cross-entropy over non-padding tokens."""
    loss = masked_cross_entropy(logits, targets, pad_id=pad_id, reduction="mean")
    assert isinstance(loss, float)
    return math.exp(loss)
