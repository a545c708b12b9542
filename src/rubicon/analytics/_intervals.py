"""Per-agent horizon intervals from bootstrap fits, under METR's rule or the censored rule.

See :mod:`rubicon.analytics.settings` for the two rules. Both return the bounds, the
per-sample horizons (for joint trend bootstraps) and a note that says exactly which resamples
were left out or censored, and how many.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Resamples:
    """One agent's bootstrap fits and why some are special.

    Attributes:
        a: (B,) intercepts (NaN where not fitted).
        b: (B,) slopes (NaN where not fitted).
        no_success: (B,) the agent has no successes in the resample.
        no_failure: (B,) the agent has no failures in the resample.
        x_min: log2 of the agent's shortest task.
    """

    a: Array
    b: Array
    no_success: Mask
    no_failure: Mask
    x_min: float

    @property
    def fitted(self) -> Mask:
        return np.asarray(~self.no_success & ~self.no_failure)

    @property
    def flat(self) -> Mask:
        """Fitted resamples whose slope is not negative (success does not fall with length)."""
        with np.errstate(invalid="ignore"):
            return np.asarray(self.fitted & (self.b >= 0))


def _formula(r: Resamples, p: float) -> Array:
    logit = math.log(p / (1 - p))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.asarray((logit - r.a) / r.b)


def metr_interval(
    r: Resamples, p: float, ci: float
) -> tuple[float | None, float | None, str | None, Array]:
    """METR's rule: leave out one-class resamples, keep the formula's value for flat slopes.

    Returns:
        (low, high, note, horizons in minutes with NaN for left-out resamples).
    """
    nb = len(r.a)
    with np.errstate(over="ignore"):
        h = np.where(r.fitted, np.exp2(_formula(r, p)), np.nan)
    kept = int(np.count_nonzero(~np.isnan(h)))
    parts = []
    if kept < nb:
        why = []
        if r.no_success.any():
            why.append(f"{int(r.no_success.sum())} without successes")
        if r.no_failure.any():
            why.append(f"{int(r.no_failure.sum())} without failures")
        parts.append(f"CI over {kept} of {nb} resamples ({', '.join(why)} left out, as in "
                     "METR's code)")
    n_flat = int(r.flat.sum())
    if n_flat:
        parts.append(f"{n_flat} resample(s) with slope >= 0 kept at the formula's value, as in "
                     "METR's code")
    if kept == 0:
        return None, None, "; ".join(parts + ["no resample could be fitted"]), h
    alpha = (1 - ci) / 2
    lo, hi = np.nanquantile(h, [alpha, 1 - alpha])
    low = float(lo) if np.isfinite(lo) else None
    high = float(hi) if np.isfinite(hi) else None
    return low, high, "; ".join(parts) or None, h


def censored_interval(
    r: Resamples, p: float, ci: float
) -> tuple[float | None, float | None, str | None, Array]:
    """Censored rule: one-class and flat resamples count as horizon 0 or infinity.

    Returns:
        (low, high, note, horizons in minutes with 0/inf for censored resamples).
    """
    nb = len(r.a)
    logit = math.log(p / (1 - p))
    with np.errstate(invalid="ignore"):
        neg = r.fitted & (r.b < 0)
        flat_high = r.flat & (r.a + r.b * r.x_min >= logit)
    flat_low = r.flat & ~flat_high
    log2h = np.full(nb, np.nan)
    log2h[neg] = _formula(r, p)[neg]
    log2h[r.no_success | flat_low] = -np.inf
    log2h[r.no_failure | flat_high] = np.inf
    alpha = (1 - ci) / 2
    big = 1e300
    lo, hi = np.quantile(np.clip(log2h, -big, big), [alpha, 1 - alpha])
    notes = []
    with np.errstate(over="ignore"):
        low: float | None = float(np.exp2(lo))
        high: float | None = float(np.exp2(hi))
    if lo <= -1e200:
        low = None
        notes.append(
            f"lower bound not estimable: {int((r.no_success | flat_low).sum())} of {nb} "
            f"resamples put the horizon at 0 ({int(r.no_success.sum())} had no successes, "
            f"{int(flat_low.sum())} a slope >= 0 with success below {p:.0%} everywhere)"
        )
    if hi >= 1e200:
        high = None
        notes.append(
            f"upper bound not estimable: {int((r.no_failure | flat_high).sum())} of {nb} "
            f"resamples put the horizon at infinity ({int(r.no_failure.sum())} had no "
            f"failures, {int(flat_high.sum())} a slope >= 0 with success above {p:.0%} at "
            "the shortest task)"
        )
    with np.errstate(over="ignore"):
        return low, high, "; ".join(notes) or None, np.exp2(log2h)


def fmt_precise(minutes: float) -> str:
    """Minutes with enough digits to tell a value from a nearby limit (e.g. 0.09999)."""
    return f"{minutes:.4g} min"


def ratio_text(ratio: float, limit: float) -> str:
    """The ratio with as many digits as it takes not to read as the limit itself."""
    for digits in range(2, 12):
        text = f"{ratio:.{digits}g}"
        if float(text) != limit:
            return text
    return f"{ratio!r}"
