"""Returns of self-improvement: do successive gains grow or shrink? (docs/LINEAGE.md,
"Returns meter").

Input is a sequence of `Step`s, one per promotion (a lineage's promoted generation, or a
campaign's promoted experiment), each with its gain over its parent, the gain's interval when
known, and the wall hours spent finding it. Two statistics of the gain sequence g_1..g_n:

- ratio: the median of the successive ratios g_{k+1}/g_k (> 1: gains grow);
- slope: the least-squares slope of ln g_k on k (> 0: gains grow; exp(slope) is the typical
  ratio per step).

Intervals come from a parametric bootstrap over the steps' own intervals: each replicate draws
every gain from a split normal with the gain as its mode and the interval's two halves as its
+/- quantiles (at the interval's coverage), then recomputes both statistics. Steps without an
interval are held fixed (the text of `Trend.method` counts them). The records carry no per-task
scores, so nothing is resampled below the gains. Gains at or below zero (in a draw, or a point
gain) are floored at FLOOR_FRACTION of the largest point gain before taking logs: a gain that
cannot be told from zero widens the log-slope interval, as it should.

The verdict follows the slope's interval: above 0 "increasing", below 0 "decreasing",
otherwise "not distinguishable at this sample size".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Protocol, TypeVar

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]
FLOOR_FRACTION = 0.01
INCREASING, DECREASING = "increasing", "decreasing"
UNDECIDED = "not distinguishable at this sample size"
TOO_FEW = "too few gains to tell (need at least 2)"


@dataclass(frozen=True)
class Estimate:
    value: float
    lo: float | None = None
    hi: float | None = None

    def text(self, fmt: str = ".3g") -> str:
        if self.lo is None or self.hi is None or abs(self.hi - self.lo) <= 1e-6 * max(
                1.0, abs(self.value)):
            return format(self.value, fmt)
        return f"{self.value:{fmt}} [{self.lo:{fmt}}, {self.hi:{fmt}}]"


@dataclass(frozen=True)
class Step:
    """One promotion: its gain over its parent (interval at `level` coverage when known), the
    wall hours spent finding it (None when unknown), and what the incumbent reached."""

    label: str
    index: int
    gain: float
    lo: float | None = None
    hi: float | None = None
    level: float = 0.95
    hours: float | None = None
    value: float | None = None  # the capability / incumbent value after this step

    def per_hour(self) -> Step | None:
        """The same step with gain per wall hour (None when the hours are unknown or zero)."""
        if not self.hours or self.hours <= 0:
            return None
        h = self.hours
        return Step(self.label, self.index, self.gain / h, None if self.lo is None else self.lo / h,
                    None if self.hi is None else self.hi / h, self.level, self.hours, self.value)


@dataclass
class Trend:
    """Whether the gains of `n` steps grow or shrink, with bootstrap intervals."""

    n: int
    ratio: Estimate | None
    slope: Estimate | None
    verdict: str
    method: str
    # successive point ratios g_{k+1}/g_k (None after a gain <= 0)
    ratios: list[float | None] = field(default_factory=list)
    fit: tuple[float, float] | None = None  # (intercept, slope) of ln g on the step index


def _floor(gains: Sequence[float]) -> float:
    top = max((g for g in gains if g > 0), default=0.0)
    return FLOOR_FRACTION * top if top > 0 else 1e-12


def _stats(x: Array, logs: Array) -> tuple[Array, Array, Array]:
    """Per row of `logs` (replicates x steps): median successive ratio, slope, intercept."""
    ratio = np.exp(np.median(np.diff(logs, axis=1), axis=1))
    xc = x - x.mean()
    slope = (logs - logs.mean(axis=1, keepdims=True)) @ xc / float(xc @ xc)
    intercept = logs.mean(axis=1) - slope * x.mean()
    return ratio, slope, intercept


def _draws(steps: Sequence[Step], n: int, rng: np.random.Generator) -> Array:
    out = np.empty((n, len(steps)))
    for j, s in enumerate(steps):
        if s.lo is None or s.hi is None:
            out[:, j] = s.gain
            continue
        zq = NormalDist().inv_cdf(0.5 + s.level / 2)
        down, up = max(s.gain - s.lo, 0.0) / zq, max(s.hi - s.gain, 0.0) / zq
        z = rng.standard_normal(n)
        out[:, j] = s.gain + np.where(z < 0, z * down, z * up)
    return out


def trend(steps: Sequence[Step], *, bootstrap: int = 2000, ci: float = 0.95,
          seed: int = 0) -> Trend:
    """Ratio and log-slope of the gains of `steps` (in order), with `ci` bootstrap intervals."""
    gains = [s.gain for s in steps]
    n = len(steps)
    if n < 2:
        return Trend(n, None, None, TOO_FEW, "no statistic from fewer than 2 gains")
    floor = _floor(gains)
    x = np.array([float(s.index) for s in steps])
    if float(np.ptp(x)) == 0.0:
        x = np.arange(n, dtype=float)
    logs = np.log(np.maximum(np.array(gains), floor))[None, :]
    r0, b0, a0 = (float(v[0]) for v in _stats(x, logs))
    ratios = [b / a if a > 0 else None for a, b in zip(gains, gains[1:], strict=False)]
    fixed = sum(1 for s in steps if s.lo is None or s.hi is None)
    method = (f"parametric bootstrap ({bootstrap} draws) of each gain from its interval; "
              f"gains <= 0 floored at {floor:.3g}")
    if fixed:
        method += f"; {fixed} of {n} gains have no interval and are held fixed"
    if bootstrap <= 0 or fixed == n:
        why = "no gain has an interval" if fixed == n else "bootstrap switched off"
        return Trend(n, Estimate(r0), Estimate(b0), UNDECIDED,
                     f"{why}: no interval, no verdict", ratios, (a0, b0))
    rng = np.random.default_rng(seed)
    draws = np.log(np.maximum(_draws(steps, bootstrap, rng), floor))
    rs, bs, _ = _stats(x, draws)
    q = [(1 - ci) / 2 * 100, (1 + ci) / 2 * 100]
    r_lo, r_hi = (float(v) for v in np.percentile(rs, q))
    b_lo, b_hi = (float(v) for v in np.percentile(bs, q))
    verdict = INCREASING if b_lo > 0 else DECREASING if b_hi < 0 else UNDECIDED
    return Trend(n, Estimate(r0, r_lo, r_hi), Estimate(b0, b_lo, b_hi), verdict,
                 method + f"; {ci:.0%} percentile intervals", ratios, (a0, b0))


def cumulative(rates: Sequence[float | None]) -> list[float | None]:
    """Running product of pass rates (None where no rate is known so far; a step without a
    rate carries the product forward)."""
    out: list[float | None] = []
    acc: float | None = None
    for r in rates:
        if r is not None:
            acc = (1.0 if acc is None else acc) * r
        out.append(acc)
    return out


class PromotionRow(Protocol):
    """What `campaign_steps` reads of a campaign row (rubicon.report's Row has these)."""

    @property
    def id(self) -> int: ...
    @property
    def seq(self) -> int: ...
    @property
    def objective(self) -> float | None: ...
    @property
    def ratio_low(self) -> float | None: ...
    @property
    def ratio_high(self) -> float | None: ...
    @property
    def finished_min(self) -> float | None: ...
    @property
    def kept(self) -> bool: ...


R = TypeVar("R", bound=PromotionRow)


def promotions(rows: Sequence[R]) -> list[R]:
    """The kept rows (the baseline first) with an objective, in the order they finished."""
    return sorted((r for r in rows if r.kept and r.objective is not None
                   and r.finished_min is not None), key=lambda r: (r.finished_min or 0.0, r.seq))


def campaign_steps(rows: Sequence[PromotionRow], maximize: bool,
                   level: float = 0.9) -> list[Step]:
    """One step per promotion of a campaign, in the order they finished: the relative gain of
    the incumbent (previous incumbent objective / new one - 1 when minimizing, the inverse when
    maximizing), its interval from the promoted experiment's paired ratio interval against the
    incumbent it beat, and the hours since the previous promotion (the baseline counts as one).
    The store's ratio is oriented "lower is better" in both directions (measure.protocol:
    candidate/incumbent when minimizing, incumbent/candidate when maximizing), so the
    improvement factor is its inverse either way.

    The point gain is the geometric middle of the paired ratio interval when there is one (the
    paired runs are what decided the promotion), else the ratio of the two median objectives.
    """
    kept = promotions(rows)
    steps: list[Step] = []
    for k, (prev, cur) in enumerate(zip(kept, kept[1:], strict=False), start=1):
        assert prev.objective is not None and cur.objective is not None
        lo = hi = None
        rl, rh = cur.ratio_low, cur.ratio_high
        if rl and rh and rl > 0 and rh > 0:  # worse / better: < 1 when the candidate is better
            f_lo, f_hi = 1 / rh, 1 / rl
            lo, hi = f_lo - 1, f_hi - 1
            gain = math.sqrt(f_lo * f_hi) - 1
        elif prev.objective > 0 and cur.objective > 0:
            ratio = cur.objective / prev.objective
            gain = (ratio if maximize else 1 / ratio) - 1
        else:
            continue
        hours = ((cur.finished_min or 0.0) - (prev.finished_min or 0.0)) / 60
        steps.append(Step(f"#{cur.id}", k, gain, lo, hi, level, hours, cur.objective))
    return steps
