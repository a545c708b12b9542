"""PNG charts: horizon against release date (log scale) and success against task length.

matplotlib is imported lazily with the Agg backend, so importing rubicon.analytics stays cheap
and no display is needed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rubicon.analytics._records import RunRecords
from rubicon.analytics.horizon import HorizonReport
from rubicon.analytics.trend import ModelPoint, Trend, format_minutes, frontier
from rubicon.errors import AnalyticsError

_TICKS = [
    (1 / 60, "1 s"),
    (4 / 60, "4 s"),
    (15 / 60, "15 s"),
    (1, "1 min"),
    (4, "4 min"),
    (15, "15 min"),
    (60, "1 h"),
    (240, "4 h"),
    (480, "8 h"),
    (1440, "1 day"),
    (2400, "1 work-week"),
    (10020, "1 work-month"),
    (40080, "4 work-months"),
]


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:  # pragma: no cover - matplotlib is a dependency
        raise AnalyticsError("plots need matplotlib: pip install matplotlib") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | Path) -> Path:
    p = Path(path)
    if p.suffix.lower() != ".png":
        raise AnalyticsError(f"{p}: plots are written as PNG; use a .png file name")
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=150, bbox_inches="tight")
    return p


def plot_frontier(
    points: Sequence[ModelPoint],
    path: str | Path,
    trend: Trend | None = None,
    forecast_until: dt.date | None = None,
    targets: Sequence[float] = (),
    title: str = "Time horizon of AI agents (50% success)",
    source: str | None = None,
) -> Path:
    """Log-scale horizon against release date with intervals, trend and forecast band.

    Args:
        points: all models (frontier ones are highlighted).
        path: output ``.png``.
        trend: fitted trend to draw (line + bootstrap band).
        forecast_until: extend the trend and band to this date.
        targets: horizontal reference lines (minutes), e.g. 100 hours.
        title: chart title.
        source: caption naming the data source.

    Returns:
        The written path.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 6))
    front = {p.name for p in frontier(points)}
    for p in points:
        on = p.name in front
        yerr = None
        if p.ci_low is not None and p.ci_high is not None:
            yerr = [[p.minutes - p.ci_low], [p.ci_high - p.minutes]]
        ax.errorbar(
            [p.release_date],
            [p.minutes],
            yerr=yerr,
            fmt="o",
            color="tab:blue" if on else "0.6",
            ecolor="0.7" if not on else "tab:blue",
            elinewidth=1,
            capsize=2,
            markersize=6 if on else 4,
            zorder=3 if on else 2,
            alpha=1.0 if on else 0.7,
        )
        if on:
            ax.annotate(
                p.name,
                (p.release_date, p.minutes),
                textcoords="offset points",
                xytext=(5, -10),
                fontsize=7,
            )
    dates = [p.release_date for p in points]
    start = min(dates) - dt.timedelta(days=60)
    end = max(max(dates) + dt.timedelta(days=60), forecast_until or max(dates))
    if trend is not None:
        span = np.linspace(0, (end - start).days, 200)
        grid = [start + dt.timedelta(days=float(d)) for d in span]
        line, lo, hi = trend.band(grid)
        dd = trend.doubling_days
        label = "exponential trend of the frontier"
        if dd.value is not None:
            label += f": doubling every {dd.value:.0f} days"
            if dd.low is not None and dd.high is not None:
                label += f" ({dd.low:.0f}-{dd.high:.0f})"
        ax.plot(grid, line, color="tab:red", lw=1.5, label=label)
        ax.fill_between(
            grid,
            lo,
            hi,
            color="tab:red",
            alpha=0.15,
            label=f"{trend.ci:.0%} bootstrap band of the trend",
        )
        last = max(dates)
        ax.axvline(last, color="0.8", lw=0.8, ls=":")
    for t in targets:
        ax.axhline(t, color="0.5", lw=0.8, ls="--")
        ax.annotate(
            format_minutes(t),
            (end, t),
            textcoords="offset points",
            xytext=(-40, 3),
            fontsize=8,
            color="0.3",
        )
    ax.scatter([], [], color="tab:blue", label="state of the art at release")
    ax.scatter([], [], color="0.6", s=12, label="other models")
    ax.set_yscale("log")
    lo_y = min(p.ci_low or p.minutes for p in points) / 2
    hi_y = max([p.ci_high or p.minutes for p in points] + list(targets)) * 2
    ax.set_ylim(lo_y, hi_y)
    ticks = [(v, s) for v, s in _TICKS if lo_y <= v <= hi_y]
    ax.set_yticks([v for v, _ in ticks], [s for _, s in ticks])
    ax.minorticks_off()
    ax.set_xlim(start, end)
    ax.set_xlabel("model release date")
    ax.set_ylabel("task length (human expert time) at 50% success")
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    if source:
        fig.text(0.01, 0.005, source, fontsize=7, color="0.4")
    fig.tight_layout()
    out = _save(fig, path)
    plt.close(fig)
    return out


def plot_success_curves(
    records: RunRecords,
    report: HorizonReport,
    path: str | Path,
    agents: Sequence[str] | None = None,
) -> Path:
    """Success against task length per agent, with each agent's fitted logistic.

    Dots are per-task mean success (size ~ runs); the curve is the fit; dashed lines mark the
    50% horizon.

    Args:
        records: the runs the report was computed from.
        report: output of :func:`estimate_horizons`.
        path: output ``.png``.
        agents: subset to draw (default all).

    Returns:
        The written path.
    """
    plt = _pyplot()
    names = list(agents) if agents else [a.agent for a in report.agents]
    n = len(names)
    cols = min(3, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    xs = np.geomspace(records.human_minutes.min() / 2, records.human_minutes.max() * 2, 200)
    for k, name in enumerate(names):
        ax = axes[k // cols][k % cols]
        res = report.agent(name)
        m = records.agent == name
        tasks, inv = np.unique(records.task[m], return_inverse=True)
        succ = np.bincount(inv, weights=records.score[m]) / np.bincount(inv)
        mins = np.bincount(inv, weights=records.human_minutes[m]) / np.bincount(inv)
        ax.scatter(mins, succ, s=8 + 4 * np.bincount(inv), alpha=0.4, color="tab:blue")
        if res.fit is not None:
            ax.plot(xs, res.fit.success(xs), color="tab:red", lw=1.5)
        h = res.horizon(0.5) if 0.5 in report.levels else None
        if h is not None and h.minutes is not None:
            ax.axvline(h.minutes, color="tab:red", ls="--", lw=0.8)
            sub = f"50%: {format_minutes(h.minutes)}"
        else:
            sub = "50%: not estimable"
        ax.set_xscale("log")
        ax.set_ylim(-0.05, 1.05)
        ax.set_title(f"{name}\n{sub}", fontsize=9)
        ax.set_xlabel("human minutes", fontsize=8)
        ax.set_ylabel("success", fontsize=8)
        ax.grid(True, alpha=0.3)
    for k in range(n, rows * cols):
        axes[k // cols][k % cols].axis("off")
    fig.suptitle(f"Success against task length ({report.settings.name})", fontsize=11)
    fig.tight_layout()
    out = _save(fig, path)
    plt.close(fig)
    return out
