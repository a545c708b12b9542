"""Time horizons per agent: logistic fit of success on task length plus bootstrap intervals.

Method after METR (Kwa et al. 2025, "Measuring AI Ability to Complete Long Tasks"): for each
agent, fit P(success) = sigmoid(a + b log2(human minutes)) with task weights and an L2 penalty
on b; the p-horizon is the length where the curve crosses p. Confidence intervals come from a
hierarchical bootstrap (families, tasks, runs) drawn jointly across agents. As in METR's code,
bootstrap weights are the original normalised weights times each run's multiplicity (not
re-normalised).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from rubicon.analytics._records import RunRecords
from rubicon.analytics.bootstrap import hierarchical_counts
from rubicon.analytics.logistic import LogisticFit, fit_logistic_batch, horizon_log2
from rubicon.analytics.settings import HorizonSettings, get_settings
from rubicon.analytics.trend import ModelPoint
from rubicon.analytics.weighting import task_weights
from rubicon.errors import AnalyticsError

DEFAULT_LEVELS = (0.5, 0.8)
#: a point estimate further than this factor outside the tested task lengths is not reported
EXTRAPOLATION_LIMIT = 10.0


@dataclass(frozen=True)
class Horizon:
    """One horizon (task length at a success level) with its interval.

    Attributes:
        level: success probability, e.g. 0.5.
        minutes: point estimate, or None when it cannot be estimated (see ``reason``).
        ci_low: lower interval bound, or None when unbounded / not estimable.
        ci_high: upper interval bound, or None when unbounded / not estimable.
        reason: why ``minutes`` or a bound is None, or a caveat (e.g. extrapolation).
    """

    level: float
    minutes: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    reason: str | None = None


@dataclass(frozen=True)
class AgentHorizons:
    """Everything estimated for one agent.

    Attributes:
        agent: alias.
        n_runs: runs of this agent.
        n_tasks: distinct tasks it ran.
        n_families: distinct task families it ran.
        weighted_success: weighted mean score (weights sum to 1).
        fit: the logistic fit, or None when it cannot be estimated.
        horizons: one :class:`Horizon` per requested level.
        samples: (B, levels) bootstrap horizons in minutes (inf/0 for unbounded), or None.
        release_date: ISO release date if known.
    """

    agent: str
    n_runs: int
    n_tasks: int
    n_families: int
    weighted_success: float
    fit: LogisticFit | None
    horizons: tuple[Horizon, ...]
    samples: npt.NDArray[np.float64] | None = None
    release_date: str | None = None

    def horizon(self, level: float = 0.5) -> Horizon:
        """The horizon at ``level`` (raises KeyError if it was not computed)."""
        for h in self.horizons:
            if abs(h.level - level) < 1e-9:
                return h
        raise KeyError(level)


@dataclass(frozen=True)
class HorizonReport:
    """Horizons of all agents under one setting.

    Attributes:
        agents: per-agent results in order of first appearance.
        settings: weighting and regularization used.
        levels: success levels.
        n_bootstrap: bootstrap samples (0 = no intervals).
        ci: interval coverage, e.g. 0.95.
        seed: random seed.
        notes: caveats about the data as a whole (e.g. a single task family).
    """

    agents: tuple[AgentHorizons, ...]
    settings: HorizonSettings
    levels: tuple[float, ...]
    n_bootstrap: int
    ci: float
    seed: int
    notes: tuple[str, ...] = field(default=())

    def agent(self, name: str) -> AgentHorizons:
        """Result for one agent; AnalyticsError naming the known agents otherwise."""
        for a in self.agents:
            if a.agent == name:
                return a
        known = ", ".join(a.agent for a in self.agents)
        raise AnalyticsError(f"no agent {name!r} in this report; agents: {known}")


def _fmt_min(m: float) -> str:
    return f"{m:.3g} min"


def _quantile_bounds(
    log2h: npt.NDArray[np.float64], ci: float
) -> tuple[float | None, float | None, str | None]:
    """Percentile interval of log2 horizons that may contain +-inf (unbounded samples)."""
    alpha = (1 - ci) / 2
    big = 1e300
    v = np.clip(log2h, -big, big)
    lo, hi = np.quantile(v, [alpha, 1 - alpha])
    notes = []
    low: float | None = float(2.0**lo)
    high: float | None = float(2.0**hi)
    if lo <= -1e200:
        low = None
        notes.append("lower bound not estimable (many resamples had no successes)")
    if hi >= 1e200:
        high = None
        notes.append("upper bound not estimable (many resamples had no failures)")
    return low, high, "; ".join(notes) or None


def estimate_horizons(
    records: RunRecords,
    settings: HorizonSettings | str | None = None,
    levels: tuple[float, ...] = DEFAULT_LEVELS,
    n_bootstrap: int = 1000,
    ci: float = 0.95,
    seed: int = 42,
) -> HorizonReport:
    """Estimate p-horizons per agent with hierarchical bootstrap intervals.

    Args:
        records: validated runs (see :func:`load_runs`).
        settings: a :class:`HorizonSettings` or preset name (default ``metr-2025``).
        levels: success levels, each in (0, 1).
        n_bootstrap: bootstrap samples; 0 skips intervals.
        ci: interval coverage in (0, 1).
        seed: random seed (results are reproducible for a given seed).

    Returns:
        A :class:`HorizonReport`. A horizon that cannot be estimated (an agent with no successes
        or no failures, a single task length, a non-negative slope) is None with a reason.

    Raises:
        AnalyticsError: invalid levels, ci or n_bootstrap.
    """
    if settings is None or isinstance(settings, str):
        settings = get_settings(settings or "metr-2025")
    if not levels or any(not 0 < p < 1 for p in levels):
        raise AnalyticsError(f"success levels must be in (0, 1), found {levels}")
    if not 0 < ci < 1:
        raise AnalyticsError(f"ci must be in (0, 1), found {ci}")
    if n_bootstrap < 0:
        raise AnalyticsError(f"n_bootstrap must be >= 0, found {n_bootstrap}")
    notes: list[str] = []
    n_fam = len(np.unique(records.family))
    levels_bs = "ftr"
    if n_fam == 1:
        levels_bs = "tr"
        notes.append(
            "only one task family: the family level of the bootstrap has nothing to resample, "
            "so intervals reflect task and run resampling only and are likely too narrow"
        )
    weights = task_weights(records, settings.weighting)
    x_all = np.log2(records.human_minutes)
    counts = None
    if n_bootstrap > 0:
        rng = np.random.default_rng(seed)
        counts = hierarchical_counts(records, n_bootstrap, rng, levels_bs)
    agents: list[AgentHorizons] = []
    for name in records.agents:
        m = records.agent == name
        rows = np.flatnonzero(m)
        x, y, w = x_all[rows], records.score[rows], weights[rows]
        ws = float(np.sum(w * y))
        base = dict(
            agent=name,
            n_runs=int(len(rows)),
            n_tasks=int(len(np.unique(records.task[rows]))),
            n_families=int(len(np.unique(records.family[rows]))),
            weighted_success=ws,
            release_date=(
                records.release_dates[name].isoformat() if name in records.release_dates else None
            ),
        )
        reason = None
        if not np.any(y > 0):
            reason = "no successes: the horizon is below the shortest task"
        elif not np.any(y < 1):
            reason = "no failures: the horizon is above the longest task"
        elif np.ptp(x) == 0:
            reason = "every run has the same task length: success cannot be related to length"
        if reason is not None:
            lo, hi = (
                float(records.human_minutes[rows].min()),
                float(records.human_minutes[rows].max()),
            )
            reason += f" ({_fmt_min(lo)} to {_fmt_min(hi)})"
            agents.append(
                AgentHorizons(
                    **base,  # type: ignore[arg-type]
                    fit=None,
                    horizons=tuple(Horizon(p, None, None, None, reason) for p in levels),
                )
            )
            continue
        a, b, _ = fit_logistic_batch(x, y, w[None, :], settings.regularization)
        fit = LogisticFit(float(a[0]), float(b[0]))
        samples = None
        log2s = None
        if counts is not None:
            wb = counts[:, rows] * w[None, :]
            pos = (wb * y[None, :]).sum(axis=1)
            neg = (wb * (1 - y[None, :])).sum(axis=1)
            ok = (pos > 0) & (neg > 0)
            ab, bb, _ = fit_logistic_batch(x, y, wb[ok], settings.regularization)
            log2s = np.empty((n_bootstrap, len(levels)))
            for j, p in enumerate(levels):
                col = np.empty(n_bootstrap)
                col[ok] = horizon_log2(ab, bb, p, float(x.min()))
                col[~ok & (pos <= 0)] = -np.inf
                col[~ok & (pos > 0)] = np.inf
                log2s[:, j] = col
            samples = np.exp2(log2s)
        hs = []
        for j, p in enumerate(levels):
            est = fit.horizon(p)
            note = None
            lo_b: float | None = None
            hi_b: float | None = None
            if est is None:
                note = "fitted success does not fall with task length (slope >= 0)"
            else:
                lo_m, hi_m = (
                    float(records.human_minutes[rows].min()),
                    float(records.human_minutes[rows].max()),
                )
                if est < lo_m / EXTRAPOLATION_LIMIT or est > hi_m * EXTRAPOLATION_LIMIT:
                    note = (
                        f"not estimable: the fit puts it at {_fmt_min(est)}, more than "
                        f"{EXTRAPOLATION_LIMIT:g}x outside the task lengths "
                        f"({_fmt_min(lo_m)} to {_fmt_min(hi_m)})"
                    )
                    est = None
                elif est < lo_m:
                    note = f"extrapolated below the shortest task ({_fmt_min(lo_m)})"
                elif est > hi_m:
                    note = f"extrapolated above the longest task ({_fmt_min(hi_m)})"
            if log2s is not None:
                lo_b, hi_b, qnote = _quantile_bounds(log2s[:, j], ci)
                if qnote:
                    note = f"{note}; {qnote}" if note else qnote
            hs.append(Horizon(p, est, lo_b, hi_b, note))
        agents.append(
            AgentHorizons(
                **base,  # type: ignore[arg-type]
                fit=fit,
                horizons=tuple(hs),
                samples=samples,
            )
        )
    return HorizonReport(
        agents=tuple(agents),
        settings=settings,
        levels=tuple(levels),
        n_bootstrap=n_bootstrap,
        ci=ci,
        seed=seed,
        notes=tuple(notes),
    )


def agent_points(
    report: HorizonReport,
    release_dates: Mapping[str, dt.date] | None = None,
    level: float = 0.5,
) -> tuple[list[ModelPoint], npt.NDArray[np.float64] | None, list[str]]:
    """Turn a report into trend points (agents with a release date and an estimable horizon).

    Args:
        report: output of :func:`estimate_horizons`.
        release_dates: alias -> release date; falls back to dates carried by the records.
        level: success level of the horizon to use.

    Returns:
        (points, joint bootstrap samples (B, len(points)) or None, messages about agents
        left out and why).
    """
    pts: list[ModelPoint] = []
    cols: list[npt.NDArray[np.float64]] = []
    skipped: list[str] = []
    j = list(report.levels).index(level) if level in report.levels else None
    if j is None:
        raise AnalyticsError(f"level {level} was not computed; levels: {report.levels}")
    for a in report.agents:
        date = (release_dates or {}).get(a.agent)
        if date is None and a.release_date:
            date = dt.date.fromisoformat(a.release_date)
        h = a.horizons[j]
        if date is None:
            skipped.append(f"{a.agent}: no release date")
            continue
        if h.minutes is None:
            skipped.append(f"{a.agent}: {h.reason}")
            continue
        pts.append(ModelPoint(a.agent, date, h.minutes, h.ci_low, h.ci_high))
        if a.samples is not None:
            cols.append(a.samples[:, j])
    samples = np.stack(cols, axis=1) if cols and len(cols) == len(pts) else None
    return pts, samples, skipped
