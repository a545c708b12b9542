"""Exponential trend of frontier horizons against release date, and forecasts from it.

The model is log2(horizon) = intercept + slope * (release date in days), fitted by least
squares to the frontier (models that were state of the art at release). Doubling time is
1/slope days. Uncertainty comes from a bootstrap that redraws each model's horizon from its
own uncertainty: joint bootstrap samples of the horizons when they are available (METR's
approach), else a log-normal matched to the model's interval (split at the estimate, so
asymmetric intervals stay asymmetric). Two rules (``method``):

* ``metr`` (METR's compute_trendline_ci): the frontier models are fixed; in each sample the
  trend is refitted to the models whose resampled horizon is a number of at least 0.001 min
  (at least two are needed); samples with a non-positive slope are left out of the
  doubling-time interval.
* ``resample-models``: the frontier models are also resampled with replacement; a
  non-positive slope counts as an infinite doubling time. Wider: it adds the uncertainty of
  which models happen to be on the frontier.

Forecasts are statements about the trend line, not about any single future model.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from rubicon.errors import AnalyticsError

Array = npt.NDArray[np.float64]
EPOCH = dt.date(1970, 1, 1)
TREND_METHODS = ("metr", "resample-models")
#: METR drops resampled horizons below this many minutes before refitting a trend
MIN_SAMPLE_MINUTES = 1e-3
#: METR's convention: a work-month is 167 working hours
WORK_MONTH_MINUTES = 167 * 60.0
_SEC, _MIN, _HOUR = 1 / 60, 1.0, 60.0
WORK_DAY_MINUTES = 8 * 60.0
WORK_WEEK_MINUTES = 40 * 60.0
_UNITS: dict[str, tuple[float, str | None]] = {}
for _names, _value, _reading in (
    (("s", "sec", "secs", "second", "seconds"), _SEC, None),
    (("m", "min", "mins", "minute", "minutes"), _MIN, None),
    (("h", "hr", "hrs", "hour", "hours"), _HOUR, None),
    (("work-day", "work-days", "workday", "workdays"), WORK_DAY_MINUTES, None),
    (("work-week", "work-weeks", "workweek", "workweeks"), WORK_WEEK_MINUTES, None),
    (("work-month", "work-months", "workmonth", "workmonths"), WORK_MONTH_MINUTES, None),
    (("d", "day", "days"), WORK_DAY_MINUTES, "work-day of 8 h"),
    (("w", "wk", "week", "weeks"), WORK_WEEK_MINUTES, "work-week of 40 h"),
    (("mo", "month", "months"), WORK_MONTH_MINUTES, "work-month of 167 h"),
):
    for _n in _names:
        _UNITS[_n] = (_value, _reading)
_DURATION = re.compile(r"\s*([0-9]*\.?[0-9]+(?:e[+-]?\d+)?)?\s*([a-z-]+)\s*")


def parse_duration(text: str) -> float:
    """Parse a task length such as ``100h``, ``30 min``, ``1 work-month``, ``2 days`` into minutes.

    Units: s, min, h, work-day (8 h), work-week (40 h), work-month (167 h, METR's convention).
    ``day``, ``week`` and ``month`` are read as work time (8 h, 40 h, 167 h), because a time
    horizon is measured in a professional's working hours; write ``24h`` for a calendar day.

    Args:
        text: the duration.

    Returns:
        Minutes.

    Raises:
        AnalyticsError: unreadable duration; the message lists the units.
    """
    m = _DURATION.fullmatch(text.lower())
    if m and m.group(2) in _UNITS:
        value = float(m.group(1)) if m.group(1) else 1.0
        if value > 0:
            return value * _UNITS[m.group(2)][0]
    raise AnalyticsError(
        f"cannot read duration {text!r}; write a positive number and a unit, e.g. 100h, 30min, "
        "2 days, 1 work-month (units: s, min, h, day = work-day of 8 h, week = work-week of "
        "40 h, month = work-month of 167 h)"
    )


def duration_reading(text: str) -> str | None:
    """How a duration with a calendar-sounding unit was read, e.g. for ``"2 days"``:
    ``"'2 days' read as 2 work-days of 8 h = 16 h of work"``; None for unambiguous units."""
    m = _DURATION.fullmatch(text.lower())
    if not m or m.group(2) not in _UNITS or _UNITS[m.group(2)][1] is None:
        return None
    value = float(m.group(1)) if m.group(1) else 1.0
    reading = _UNITS[m.group(2)][1]
    return f"{text.strip()!r} read as {value:g} x {reading} = {format_minutes(parse_duration(text))} of work"


def format_minutes(minutes: float) -> str:
    """Human-readable task length: seconds, minutes or hours."""
    if minutes < 1:
        return f"{minutes * 60:.0f} s" if minutes * 60 >= 1 else f"{minutes * 60:.2g} s"
    if minutes < 60:
        return f"{minutes:.3g} min"
    return f"{minutes / 60:.3g} h"


def to_days(d: dt.date) -> float:
    """Days since 1970-01-01."""
    return float((d - EPOCH).days)


def from_days(days: float) -> dt.date:
    """Inverse of :func:`to_days`, rounded to the nearest day (clamped to year 1..9999)."""
    days = min(max(days, to_days(dt.date(1, 1, 1))), to_days(dt.date(9999, 12, 31)))
    return EPOCH + dt.timedelta(days=round(days))


@dataclass(frozen=True)
class ModelPoint:
    """One model's horizon at its release date.

    Attributes:
        name: model / agent name.
        release_date: release date.
        minutes: horizon, minutes (> 0).
        ci_low: lower interval bound (optional).
        ci_high: upper interval bound (optional).
    """

    name: str
    release_date: dt.date
    minutes: float
    ci_low: float | None = None
    ci_high: float | None = None


def frontier(points: Sequence[ModelPoint]) -> list[ModelPoint]:
    """Models that were state of the art at release.

    A model is on the frontier when its horizon exceeds that of every model released strictly
    before it (METR's "SOTA at release").

    Args:
        points: models with release dates.

    Returns:
        The frontier, ordered by release date.
    """
    out: list[ModelPoint] = []
    pts = sorted(points, key=lambda p: (p.release_date, -p.minutes))
    for p in pts:
        earlier = [q.minutes for q in pts if q.release_date < p.release_date]
        if not earlier or p.minutes > max(earlier):
            out.append(p)
    return out


def quantiles_with_inf(values: Array, qs: Sequence[float]) -> Array:
    """Quantiles of values that may be +-inf (numpy's interpolation would make inf - inf = NaN
    with a RuntimeWarning): infinities are held at +-1e300 and come back as infinities."""
    big = 1e300
    out = np.quantile(np.clip(values, -big, big), qs)
    return np.where(out >= 1e299, np.inf, np.where(out <= -1e299, -np.inf, out))


@dataclass(frozen=True)
class Interval:
    """A point estimate with a bootstrap interval (any of them may be None).

    Attributes:
        value: point estimate.
        low: lower bound.
        high: upper bound.
        note: caveat, e.g. why a bound is missing.
    """

    value: float | None
    low: float | None
    high: float | None
    note: str | None = None


@dataclass(frozen=True)
class Trend:
    """A fitted exponential trend with bootstrap samples.

    Attributes:
        points: the points the trend was fitted to.
        intercept: log2 minutes at day 0 (1970-01-01).
        slope: doublings per day.
        r_squared: fit quality on log2 horizons.
        samples: (B, 2) bootstrap (intercept, slope) pairs.
        ci: interval coverage.
        method: ``metr`` or ``resample-models`` (module docstring).
        n_unfit: bootstrap samples that could not be fitted (fewer than two usable models).
    """

    points: tuple[ModelPoint, ...]
    intercept: float
    slope: float
    r_squared: float
    samples: Array
    ci: float
    method: str = "metr"
    n_unfit: int = 0

    @property
    def doubling_days(self) -> Interval:
        """Doubling time in days, with its bootstrap interval."""
        alpha = (1 - self.ci) / 2
        s = self.samples[:, 1]
        pos = s > 0
        value = 1 / self.slope if self.slope > 0 else None
        note = None if self.slope > 0 else "the trend does not grow: no doubling time"
        if self.method == "metr":
            notes = [note] if note else []
            n_flat = int(len(s) - pos.sum())
            if n_flat:
                notes.append(f"{n_flat} of {len(s)} resamples with a non-positive slope left "
                             "out, as in METR's code")
            if self.n_unfit:
                notes.append(f"{self.n_unfit} resamples had fewer than two usable models")
            if not pos.any():
                return Interval(value, None, None, "; ".join(notes + ["no resample grows"]))
            lo, hi = np.percentile(1 / s[pos], [100 * alpha, 100 * (1 - alpha)])
            return Interval(value, float(lo), float(hi), "; ".join(notes) or None)
        if not len(s) or pos.mean() < 1 - alpha:
            return Interval(value, None, None, note or "too many resamples do not grow")
        d = np.where(pos, 1 / np.where(pos, s, 1), np.inf)
        lo, hi = quantiles_with_inf(d, [alpha, 1 - alpha])
        return Interval(value, float(lo), float(hi) if np.isfinite(hi) else None, note)

    def predict(self, when: dt.date) -> float:
        """Trend horizon (minutes) at a date."""
        return float(2.0 ** (self.intercept + self.slope * to_days(when)))

    def band(self, dates: Sequence[dt.date]) -> tuple[Array, Array, Array]:
        """Trend line and bootstrap band (minutes) at the dates: (median, low, high)."""
        alpha = (1 - self.ci) / 2
        t = np.array([to_days(d) for d in dates])
        line = np.exp2(np.clip(self.intercept + self.slope * t, -1000.0, 1000.0))
        if not len(self.samples):
            return line, line, line
        y = self.samples[:, :1] + self.samples[:, 1:] * t[None, :]
        lo, hi = np.quantile(np.clip(y, -1000.0, 1000.0), [alpha, 1 - alpha], axis=0)
        return line, np.exp2(lo), np.exp2(hi)

    def crossing(self, minutes: float) -> tuple[dt.date | None, dt.date | None, dt.date | None]:
        """Date the trend reaches ``minutes``: (estimate, low, high); None if never/unbounded."""
        alpha = (1 - self.ci) / 2
        target = math.log2(minutes)
        est = from_days((target - self.intercept) / self.slope) if self.slope > 0 else None
        if not len(self.samples):
            return est, None, None
        a, b = self.samples[:, 0], self.samples[:, 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(b > 0, (target - a) / np.where(b > 0, b, 1), np.inf)
        lo, hi = quantiles_with_inf(t, [alpha, 1 - alpha])
        return (
            est,
            from_days(float(lo)) if np.isfinite(lo) else None,
            from_days(float(hi)) if np.isfinite(hi) else None,
        )

    def probability_by(self, minutes: float, when: dt.date) -> float:
        """Share of bootstrap trends that reach ``minutes`` on or before ``when``."""
        if not len(self.samples):
            raise AnalyticsError("the trend has no bootstrap samples; refit with n_bootstrap > 0")
        y = self.samples[:, 0] + self.samples[:, 1] * to_days(when)
        return float(np.mean(y >= math.log2(minutes)))


def _ols(t: Array, y: Array, m: Array | None = None) -> tuple[Array, Array]:
    """Least squares for many rows of y (B, n) against t (B, n), optionally masked (0/1 m)."""
    if m is None:
        tm = t.mean(axis=1, keepdims=True)
        ym = y.mean(axis=1, keepdims=True)
        sxx = ((t - tm) ** 2).sum(axis=1)
        sxy = ((t - tm) * (y - ym)).sum(axis=1)
    else:
        n = m.sum(axis=1, keepdims=True)
        nz = np.where(n > 0, n, 1)
        y = np.where(m > 0, y, 0.0)
        tm = (m * t).sum(axis=1, keepdims=True) / nz
        ym = (m * y).sum(axis=1, keepdims=True) / nz
        sxx = (m * (t - tm) ** 2).sum(axis=1)
        sxy = (m * (t - tm) * (y - ym)).sum(axis=1)
    ok = sxx > 1e-9 * np.maximum(1.0, (t * t).max(axis=1))
    slope = np.where(ok, sxy / np.where(ok, sxx, 1), np.nan)
    return ym[:, 0] - np.where(ok, slope, 0.0) * tm[:, 0], slope


def fit_trend(
    points: Sequence[ModelPoint],
    samples: npt.ArrayLike | None = None,
    n_bootstrap: int = 1000,
    ci: float = 0.95,
    seed: int = 42,
    method: str = "metr",
) -> Trend:
    """Fit log2(horizon) against release date and bootstrap it.

    Args:
        points: the models to fit (usually :func:`frontier` of all models).
        samples: optional (B, len(points)) joint bootstrap horizons in minutes (e.g. from
            :func:`estimate_horizons`; NaN, inf or 0 where a resample has no horizon);
            replaces the log-normal redraw from intervals.
        n_bootstrap: bootstrap samples when ``samples`` is not given.
        ci: interval coverage.
        seed: random seed.
        method: ``metr`` (fixed models, METR's rule) or ``resample-models``.

    Returns:
        The :class:`Trend`.

    Raises:
        AnalyticsError: fewer than two distinct release dates, non-positive horizons, an
            unknown method.
    """
    if method not in TREND_METHODS:
        raise AnalyticsError(f"unknown trend method {method!r}; choose one of "
                             f"{', '.join(TREND_METHODS)}")
    pts = list(points)
    if len({p.release_date for p in pts}) < 2:
        raise AnalyticsError(
            "a trend needs models with at least two different release dates; found "
            f"{len(pts)} model(s). Pass release dates (--release-dates) or more agents"
        )
    if any(not p.minutes > 0 for p in pts):
        raise AnalyticsError("every horizon in a trend must be a positive number of minutes")
    t = np.array([to_days(p.release_date) for p in pts])
    y = np.log2([p.minutes for p in pts])
    a, b = _ols(t[None, :], y[None, :])
    resid = y - (a[0] + b[0] * t)
    ss = float(((y - y.mean()) ** 2).sum())
    r2 = 1 - float((resid**2).sum()) / ss if ss > 0 else 1.0
    rng = np.random.default_rng(seed)
    n = len(pts)
    if samples is not None:
        raw = np.asarray(samples, dtype=np.float64)
        if raw.ndim != 2 or raw.shape[1] != n:
            raise AnalyticsError(f"samples must have shape (B, {n}), found {raw.shape}")
        nb = raw.shape[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            if method == "metr":
                usable = np.isfinite(raw) & (raw >= MIN_SAMPLE_MINUTES)
                ys = np.where(usable, np.log2(np.where(usable, raw, 1.0)), 0.0)
            else:
                usable = None
                ys = np.log2(np.clip(np.nan_to_num(raw, nan=0.0), 1e-300, 1e300))
    else:
        nb = n_bootstrap
        usable = None
        z = rng.standard_normal((nb, n))
        up = np.array(
            [(math.log2(p.ci_high / p.minutes) / 1.96) if p.ci_high else 0.0 for p in pts]
        )
        down = np.array(
            [(math.log2(p.minutes / p.ci_low) / 1.96) if p.ci_low else 0.0 for p in pts]
        )
        ys = y[None, :] + z * np.where(z > 0, up[None, :], down[None, :])
    if method == "resample-models":
        idx = rng.integers(0, n, size=(nb, n))
        ab, bb = _ols(t[idx], np.take_along_axis(ys, idx, axis=1))
    else:
        ts = np.broadcast_to(t, (nb, n))
        ab, bb = _ols(ts, ys, None if usable is None else usable.astype(np.float64))
    ok = np.isfinite(bb)
    return Trend(
        points=tuple(pts),
        intercept=float(a[0]),
        slope=float(b[0]),
        r_squared=r2,
        samples=np.stack([ab[ok], bb[ok]], axis=1),
        ci=ci,
        method=method,
        n_unfit=int((~ok).sum()),
    )
