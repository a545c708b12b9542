"""The token corpus and its (context, next token) windows."""

import numpy as np
import torch


def load_corpus(path):
    """Train and validation token streams (LongTensors) from the .npz file at `path`."""
    d = np.load(path)
    return torch.from_numpy(d["train"].astype(np.int64)), torch.from_numpy(d["val"].astype(np.int64))


def windows(tokens, context):
    """All (context tokens, next token) pairs of a stream: X is (N, context), y is (N,)."""
    X = tokens.unfold(0, context, 1)[:-1]
    y = tokens[context:]
    return X, y
