"""Time horizons per agent: logistic fit of success on task length plus bootstrap intervals.

Method after METR (Kwa et al. 2025, "Measuring AI Ability to Complete Long Tasks"): for each
agent, fit P(success) = sigmoid(a + b log2(human minutes)) with task weights and an L2 penalty
on b; the p-horizon is the length where the curve crosses p. Confidence intervals come from a
hierarchical bootstrap (families, tasks, runs) drawn jointly across agents. As in METR's code,
bootstrap weights are the original normalised weights times each run's multiplicity (not
re-normalised). Memory is bounded: one agent at a time, in blocks of bootstrap samples, from
grouped sufficient statistics (see :mod:`rubicon.analytics.bootstrap`).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from rubicon.analytics._intervals import (
    Resamples,
    censored_interval,
    fmt_precise,
    metr_interval,
    ratio_text,
)
from rubicon.analytics._records import RunRecords
from rubicon.analytics.bootstrap import agent_cells, draw_task_counts, resample_stats
from rubicon.analytics.logistic import LogisticFit, fit_logistic_stats
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
        fitted_minutes: the fitted curve's value even when ``minutes`` is withheld (far
            extrapolation), or None when the slope is not negative.
    """

    level: float
    minutes: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    reason: str | None = None
    fitted_minutes: float | None = None


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
        samples: (B, levels) bootstrap horizons in minutes, or None. Under the ``metr``
            interval rule a left-out resample is NaN; under ``censored`` it is 0 or inf.
        release_date: ISO release date if known.
        fit_samples: (B, 2) bootstrap (intercept, slope) pairs, NaN where the resample could
            not be fitted (no successes or no failures), or None.
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
    fit_samples: npt.NDArray[np.float64] | None = None

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


#: bootstrap samples x length columns held at once per agent (bounds memory on big data)
BLOCK_CELLS = 2_000_000
#: agents bootstrapped at once (numpy releases the GIL in its array loops)
WORKERS = min(2, os.cpu_count() or 1)


def _point_note(
    est: float | None, lo_m: float, hi_m: float
) -> tuple[float | None, str | None]:
    """Withhold far extrapolations; say exactly how far outside the tested lengths they are."""
    if est is None:
        return None, "fitted success does not fall with task length (slope >= 0)"
    lim = EXTRAPOLATION_LIMIT
    if est < lo_m / lim or est > hi_m * lim:
        below = est < lo_m
        ratio = lo_m / est if below else est / hi_m
        side = (f"below the shortest task ({_fmt_min(lo_m)})" if below
                else f"above the longest task ({_fmt_min(hi_m)})")
        return None, (
            f"not estimable: the fit puts it at {fmt_precise(est)}, "
            f"{ratio_text(ratio, lim)}x {side}; estimates more than {lim:g}x outside the "
            "tested task lengths are withheld"
        )
    if est < lo_m:
        return est, f"extrapolated below the shortest task ({_fmt_min(lo_m)})"
    if est > hi_m:
        return est, f"extrapolated above the longest task ({_fmt_min(hi_m)})"
    return est, None


def _bootstrap_agent(
    records: RunRecords,
    rows: npt.NDArray[np.int64],
    weights: npt.NDArray[np.float64],
    task_counts: npt.NDArray[np.int64],
    rng: np.random.Generator,
    resample_runs: bool,
    lam: float,
    start: tuple[float, float],
) -> Resamples:
    x = np.log2(records.human_minutes[rows])
    cells = agent_cells(records.task_codes[rows].astype(np.int64), x,
                        records.score[rows], weights[rows])
    nb = task_counts.shape[0]
    a, b = np.full(nb, np.nan), np.full(nb, np.nan)
    no_s, no_f = np.zeros(nb, bool), np.zeros(nb, bool)
    block = max(1, BLOCK_CELLS // max(len(cells.kind_freq), 1))
    for lo in range(0, nb, block):
        tot, suc = resample_stats(cells, task_counts[lo:lo + block], rng, resample_runs)
        pos = suc.sum(axis=1)
        neg = (tot - suc).sum(axis=1)
        s0 = ~(pos > 0)
        f0 = ~(neg > 0) & ~s0
        ok = ~s0 & ~f0
        no_s[lo:lo + block], no_f[lo:lo + block] = s0, f0
        if ok.any():
            ab, bb, _ = fit_logistic_stats(cells.x, tot[ok], suc[ok], lam, start=start)
            idx = np.flatnonzero(ok) + lo
            a[idx], b[idx] = ab, bb
    return Resamples(a, b, no_s, no_f, float(x.min()))


def _agent(
    records: RunRecords,
    rows: npt.NDArray[np.int64],
    k: int,
    weights: npt.NDArray[np.float64],
    settings: HorizonSettings,
    levels: tuple[float, ...],
    ci: float,
    task_counts: npt.NDArray[np.int64] | None,
    rng: np.random.Generator,
) -> AgentHorizons:
    """Point fit, bootstrap and intervals of one agent (its rows of ``records``)."""
    name = records.agent_names[k]
    minutes, y, w = records.human_minutes[rows], records.score[rows], weights[rows]
    lo_m, hi_m = float(minutes.min()), float(minutes.max())
    base = dict(
        agent=name,
        n_runs=int(len(rows)),
        n_tasks=int(len(np.unique(records.task_codes[rows]))),
        n_families=int(len(np.unique(records.task_family[records.task_codes[rows]]))),
        weighted_success=float(np.sum(w * y)),
        release_date=(
            records.release_dates[name].isoformat() if name in records.release_dates else None
        ),
    )
    reason = None
    if not np.any(y > 0):
        reason = "no successes: the horizon is below the shortest task"
    elif not np.any(y < 1):
        reason = "no failures: the horizon is above the longest task"
    elif lo_m == hi_m:
        reason = "every run has the same task length: success cannot be related to length"
    if reason is not None:
        reason += f" ({_fmt_min(lo_m)} to {_fmt_min(hi_m)})"
        return AgentHorizons(
            **base,  # type: ignore[arg-type]
            fit=None,
            horizons=tuple(Horizon(p, None, None, None, reason) for p in levels),
        )
    x = np.log2(minutes)
    cols, inv = np.unique(x, return_inverse=True)
    tot0 = np.bincount(inv, weights=w, minlength=len(cols)).astype(np.float64)
    suc0 = np.bincount(inv, weights=w * y, minlength=len(cols)).astype(np.float64)
    a, b, _ = fit_logistic_stats(cols, tot0[None, :], suc0[None, :], settings.regularization)
    fit = LogisticFit(float(a[0]), float(b[0]))
    res = None
    if task_counts is not None:
        res = _bootstrap_agent(records, rows, weights, task_counts, rng,
                               True, settings.regularization, (fit.intercept, fit.slope))
    interval = metr_interval if settings.horizon_ci == "metr" else censored_interval
    hs = []
    cols_out = []
    for p in levels:
        fitted = fit.horizon(p)
        est, note = _point_note(fitted, lo_m, hi_m)
        lo_b: float | None = None
        hi_b: float | None = None
        if res is not None:
            lo_b, hi_b, qnote, h = interval(res, p, ci)
            cols_out.append(h)
            if qnote:
                note = f"{note}; {qnote}" if note else qnote
        hs.append(Horizon(p, est, lo_b, hi_b, note, fitted))
    return AgentHorizons(
        **base,  # type: ignore[arg-type]
        fit=fit,
        horizons=tuple(hs),
        samples=np.stack(cols_out, axis=1) if cols_out else None,
        fit_samples=np.stack([res.a, res.b], axis=1) if res is not None else None,
    )


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
        or no failures, a single task length, a non-negative slope, a far extrapolation) is
        None with a reason.

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
    levels_bs = "ftr"
    if len(records.family_names) == 1:
        levels_bs = "tr"
        notes.append(
            "only one task family: the family level of the bootstrap has nothing to resample, "
            "so intervals reflect task and run resampling only and are likely too narrow"
        )
    weights = task_weights(records, settings.weighting)
    seeds = np.random.SeedSequence(seed)
    # the family and task draws come from the seed's own stream; each agent's run-level draws
    # from its own child stream, so agents can be bootstrapped in parallel reproducibly
    task_counts = (draw_task_counts(records, n_bootstrap, np.random.default_rng(seeds),
                                    levels_bs) if n_bootstrap > 0 else None)
    children = seeds.spawn(len(records.agent_names))
    by_agent = np.argsort(records.agent_codes, kind="stable")
    bounds = np.searchsorted(records.agent_codes[by_agent],
                             np.arange(len(records.agent_names) + 1))

    def one(k: int) -> AgentHorizons:
        return _agent(records, by_agent[bounds[k]:bounds[k + 1]], k, weights, settings,
                      levels, ci, task_counts, np.random.default_rng(children[k]))

    n = len(records.agent_names)
    if task_counts is not None and n > 1 and WORKERS > 1:
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            agents = list(pool.map(one, range(n)))
    else:
        agents = [one(k) for k in range(n)]
    return HorizonReport(
        agents=tuple(agents),
        settings=settings,
        levels=tuple(levels),
        n_bootstrap=n_bootstrap,
        ci=ci,
        seed=seed,
        notes=tuple(notes) + tuple(records.notes),
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
            skipped.append(f"{a.agent}: {(h.reason or '').split(';')[0]}")
            continue
        pts.append(ModelPoint(a.agent, date, h.minutes, h.ci_low, h.ci_high))
        if a.samples is not None:
            cols.append(a.samples[:, j])
    samples = np.stack(cols, axis=1) if cols and len(cols) == len(pts) else None
    return pts, samples, skipped
