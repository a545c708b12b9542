"""Feature standardization."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


class Standardizer:
    """Scales each feature to zero mean and unit variance, with statistics from `fit`.

    A constant feature gets scale 1 (it is only centred)."""

    def __init__(self) -> None:
        self.mean_: NDArray[np.float64] | None = None
        self.scale_: NDArray[np.float64] | None = None

    def fit(self, X: ArrayLike) -> Standardizer:
        x = np.asarray(X, dtype=np.float64)
        if x.ndim != 2 or len(x) == 0:
            raise ValueError(f"fit needs a non-empty 2-D array, got shape {x.shape}")
        self.mean_ = x.mean(axis=0)
        std = x.std(axis=0)
        self.scale_ = np.where(std > 0, std, 1.0)
        return self

    def transform(self, X: ArrayLike) -> NDArray[np.float64]:
        if self.mean_ is None or self.scale_ is None:
            raise RuntimeError("call fit before transform")
        return (np.asarray(X, dtype=np.float64) - self.mean_) / self.scale_

    def fit_transform(self, X: ArrayLike) -> NDArray[np.float64]:
        return self.fit(X).transform(X)
