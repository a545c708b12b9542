"""Train/validation splits."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

IntArray = NDArray[np.int64]


def train_val_split(n_rows: int, val_fraction: float, seed: int,
                    groups: ArrayLike | None = None) -> tuple[IntArray, IntArray]:
    """Split row indices 0..n_rows-1 into (train, validation), each sorted.

    Without `groups`, the rows are shuffled with `np.random.default_rng(seed)` and the first
    round(val_fraction * n_rows) go to validation.

    With `groups` (one label per row, e.g. a patient or user id), no group is ever on both
    sides: whole groups, in an order shuffled with the seed, go to validation until it holds
    at least round(val_fraction * n_rows) rows, so that it is about `val_fraction` of the data.

    The same arguments always give the same split; different seeds give different ones.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    if n_rows < 2:
        raise ValueError(f"need at least 2 rows to split, got {n_rows}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(n_rows)
    n_val = int(round(val_fraction * n_rows))
    if groups is not None:
        g = np.asarray(groups)
        if g.shape != (n_rows,):
            raise ValueError(f"groups must have one label per row: shape {g.shape} != ({n_rows},)")
        # keep the rows of each group next to each other so that they stay on one side
        order = order[np.argsort(g[order], kind="stable")]
    val = np.sort(order[:n_val]).astype(np.int64)
    train = np.sort(order[n_val:]).astype(np.int64)
    return train, val
