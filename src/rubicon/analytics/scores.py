"""Statistics of benchmark scores (pure functions): a bootstrap interval for a mean."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rubicon.errors import AnalyticsError


def bootstrap_mean(values: Sequence[float], n_samples: int = 2000, ci: float = 0.95,
                   seed: int = 0) -> tuple[float, float, float]:
    """The mean of `values` and a percentile bootstrap interval over them.

    With one value the interval is that value (nothing to resample); with few values it is
    narrow and optimistic, so report how many values it rests on.

    Args:
        values: the scores (e.g. one per attempt).
        n_samples: bootstrap resamples.
        ci: interval coverage in (0, 1).
        seed: random seed (reproducible intervals).

    Returns:
        (mean, low, high).

    Raises:
        AnalyticsError: no values, or an invalid `ci` or `n_samples`.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        raise AnalyticsError("bootstrap_mean needs at least one value")
    if not 0 < ci < 1:
        raise AnalyticsError(f"ci must be in (0, 1), found {ci}")
    if n_samples < 1:
        raise AnalyticsError(f"n_samples must be >= 1, found {n_samples}")
    mean = float(x.mean())
    if x.size == 1:
        return mean, mean, mean
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(n_samples, x.size))].mean(axis=1)
    tail = (1 - ci) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return mean, float(low), float(high)


__all__ = ["bootstrap_mean"]
