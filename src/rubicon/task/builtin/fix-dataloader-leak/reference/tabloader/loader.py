"""Datasets ready for training: split, standardized, and served in mini-batches."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from tabloader.scaling import Standardizer
from tabloader.split import train_val_split


@dataclass
class Datasets:
    """Standardized train and validation data, the row indices they came from, and the scaler
    (fit on the training rows only, so nothing about validation reaches training)."""

    X_train: NDArray[np.float64]
    y_train: NDArray[np.generic]
    X_val: NDArray[np.float64]
    y_val: NDArray[np.generic]
    train_idx: NDArray[np.int64]
    val_idx: NDArray[np.int64]
    scaler: Standardizer


def make_datasets(X: ArrayLike, y: ArrayLike, val_fraction: float = 0.2, seed: int = 0,
                  groups: ArrayLike | None = None) -> Datasets:
    """Split rows with `train_val_split`, standardize features, return both sides."""
    x = np.asarray(X, dtype=np.float64)
    t = np.asarray(y)
    if len(x) != len(t):
        raise ValueError(f"X has {len(x)} rows but y has {len(t)}")
    train, val = train_val_split(len(x), val_fraction, seed, groups)
    scaler = Standardizer().fit(x[train])
    return Datasets(scaler.transform(x[train]), t[train], scaler.transform(x[val]), t[val],
                    train, val, scaler)


def iter_batches(n_rows: int, batch_size: int, shuffle: bool = True, seed: int = 0,
                 drop_last: bool = False) -> Iterator[NDArray[np.int64]]:
    """Row indices of one epoch's mini-batches: every row once (the last batch may be smaller
    unless `drop_last`), in an order shuffled with the seed when `shuffle`."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = (np.random.default_rng(seed).permutation(n_rows) if shuffle
             else np.arange(n_rows)).astype(np.int64)
    for start in range(0, n_rows, batch_size):
        batch = order[start:start + batch_size]
        if drop_last and len(batch) < batch_size:
            return
        yield batch
