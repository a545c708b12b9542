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


def _check_png(path: str | Path) -> None:
    p = Path(path)
    if p.suffix.lower() != ".png":
        raise AnalyticsError(f"{p}: plots are written as PNG; use a .png file name")


def _save(fig: Any, path: str | Path) -> Path:
    _check_png(path)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=150, bbox_inches="tight")
    return p


_OFFSETS = [(6, -10), (6, 5), (-6, -10), (-6, 5), (6, -22), (6, 17), (-6, -22), (-6, 17),
            (10, -34), (10, 29), (-10, -34), (-10, 29)]


def _place_labels(fig: Any, ax: Any, items: Sequence[tuple[str, Any, float]]) -> list[Any]:
    """Annotate points without overlaps: for each label (in date order) take the first
    candidate offset whose box clears the labels already placed and stays inside the axes;
    a label moved away from its point gets a thin leader line."""
    renderer = fig.canvas.get_renderer()
    axes_box = ax.get_window_extent(renderer)
    placed: list[Any] = []
    boxes: list[Any] = []
    for name, x, y in items:
        best = None
        for k, (dx, dy) in enumerate(_OFFSETS):
            ann = ax.annotate(
                name, (x, y), textcoords="offset points", xytext=(dx, dy), fontsize=7,
                ha="left" if dx > 0 else "right", zorder=5,
            )
            box = ann.get_window_extent(renderer)
            clash = sum(box.overlaps(b) for b in boxes)
            inside = axes_box.contains(box.x0, box.y0) and axes_box.contains(box.x1, box.y1)
            score = clash * 10 + (0 if inside else 5) + k * 0.01
            if best is None or score < best[0]:
                if best is not None:
                    best[1].remove()
                best = (score, ann, box, k)
            else:
                ann.remove()
            if clash == 0 and inside:
                break
        assert best is not None
        _, ann, box, k = best
        if k >= 4:
            ann.arrow_patch = None
            ann.remove()
            dx, dy = _OFFSETS[k]
            ann = ax.annotate(
                name, (x, y), textcoords="offset points", xytext=(dx, dy), fontsize=7,
                ha="left" if dx > 0 else "right", zorder=5,
                arrowprops=dict(arrowstyle="-", color="0.6", lw=0.5, shrinkA=0, shrinkB=3),
            )
            box = ann.get_window_extent(renderer)
        placed.append(ann)
        boxes.append(box)
    return placed


def _draw_frontier(
    points: Sequence[ModelPoint],
    trend: Trend | None,
    forecast_until: dt.date | None,
    targets: Sequence[float],
    title: str,
    source: str | None,
) -> tuple[Any, Any, list[Any], list[Any]]:
    """The frontier chart; returns (figure, axes, point artists, label artists)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 6))
    front = {p.name for p in frontier(points)}
    artists = []
    for p in points:
        on = p.name in front
        yerr = None
        if p.ci_low is not None and p.ci_high is not None:
            yerr = [[p.minutes - p.ci_low], [p.ci_high - p.minutes]]
        cont = ax.errorbar(
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
        artists.append(cont.lines[0])
    lo_y = min(p.ci_low or p.minutes for p in points) / 2
    hi_y = max([p.ci_high or p.minutes for p in points] + list(targets)) * 2
    dates = [p.release_date for p in points]
    start = min(dates) - dt.timedelta(days=60)
    end = max(max(dates) + dt.timedelta(days=60), forecast_until or max(dates))
    if trend is not None:
        fit_lo = min(q.release_date for q in trend.points)
        fit_hi = max(q.release_date for q in trend.points)
        span = np.linspace(0, (end - start).days, 300)
        grid = [start + dt.timedelta(days=float(d)) for d in span]
        # the band can span hundreds of decades when a resample barely grows: clip it to the
        # chart (log axes overflow on such values)
        line, lo, hi = (np.clip(v, lo_y / 100, hi_y * 100) for v in trend.band(grid))
        inside = np.array([fit_lo <= g <= fit_hi for g in grid])
        after = np.array([g >= fit_hi for g in grid])
        dd = trend.doubling_days
        label = "exponential trend of the frontier (fitted)"
        if dd.value is not None:
            label += f": doubling every {dd.value:.0f} days"
            if dd.low is not None and dd.high is not None:
                label += f" ({dd.low:.0f}-{dd.high:.0f})"
        gx = np.array(grid, dtype=object)
        ax.plot(gx[inside], line[inside], color="tab:red", lw=1.8, label=label)
        ax.plot(gx[after], line[after], color="tab:red", lw=1.3, ls="--",
                label="trend extrapolated past the last frontier model")
        before = np.array([g <= fit_lo for g in grid])
        if before.any():
            ax.plot(gx[before], line[before], color="tab:red", lw=1.0, ls=":", alpha=0.6)
        ax.fill_between(gx[~after | inside], lo[~after | inside], hi[~after | inside],
                        color="tab:red", alpha=0.18, lw=0,
                        label=f"{trend.ci:.0%} bootstrap band of the trend")
        ax.fill_between(gx[after], lo[after], hi[after], color="tab:red", alpha=0.07, lw=0,
                        hatch="//", edgecolor=(0.84, 0.15, 0.16, 0.25),
                        label="band of the extrapolation (forecast)")
        ax.axvline(fit_hi, color="0.55", lw=0.8, ls=":",
                   label=f"last frontier release ({fit_hi.isoformat()}): "
                         "data to the left, forecast to the right")
    for t in targets:
        ax.axhline(t, color="0.5", lw=0.8, ls="--")
        ax.annotate(
            f"target {format_minutes(t)}",
            (end, t),
            textcoords="offset points",
            xytext=(-4, 3),
            ha="right",
            fontsize=8,
            color="0.3",
        )
    ax.scatter([], [], color="tab:blue", label="state of the art at release")
    ax.scatter([], [], color="0.6", s=12, label="other models")
    ax.set_yscale("log")
    ax.set_ylim(lo_y, hi_y)
    ticks = [(v, s) for v, s in _TICKS if lo_y <= v <= hi_y]
    ax.set_yticks([v for v, _ in ticks], [s for _, s in ticks])
    ax.minorticks_off()
    ax.set_xlim(start, end)
    ax.set_xlabel("model release date")
    ax.set_ylabel("task length (human expert time) at 50% success")
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper left", fontsize=7, framealpha=0.9)
    if source:
        fig.text(0.01, 0.005, source, fontsize=7, color="0.4")
    fig.tight_layout()
    fig.canvas.draw()
    named = sorted((p for p in points if p.name in front), key=lambda p: p.release_date)
    labels = _place_labels(fig, ax, [(p.name, p.release_date, p.minutes) for p in named])
    return fig, ax, artists, labels


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

    The trend is solid over the frontier it was fitted to and dashed (with a hatched, lighter
    band) where it extrapolates; the dotted vertical line marks the last frontier release.
    Frontier models are labelled without overlaps.

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
    _check_png(path)
    fig, _, _, _ = _draw_frontier(points, trend, forecast_until, targets, title, source)
    out = _save(fig, path)
    _pyplot().close(fig)
    return out


def _curve_band(fit_samples: Any, xs: Any, ci: float) -> tuple[Any, Any] | None:
    """Pointwise percentile band of the bootstrap logistic curves (fitted resamples only)."""
    ok = np.isfinite(fit_samples).all(axis=1)
    if ok.sum() < 2:
        return None
    a, b = fit_samples[ok, 0], fit_samples[ok, 1]
    eta = a[:, None] + b[:, None] * np.log2(xs)[None, :]
    curves = 0.5 * (1 + np.tanh(eta / 2))  # the logistic, without overflow warnings
    alpha = (1 - ci) / 2
    lo, hi = np.quantile(curves, [alpha, 1 - alpha], axis=0)
    return lo, hi


def plot_success_curves(
    records: RunRecords,
    report: HorizonReport,
    path: str | Path,
    agents: Sequence[str] | None = None,
) -> Path:
    """Success against task length per agent, with each agent's fitted logistic.

    Dots are per-task mean success (size ~ runs); the curve is the fit, the shaded band the
    pointwise bootstrap interval of the fitted curve; dashed lines mark the 50% horizon.

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
        m = records.agent_mask(name)
        tasks, inv = np.unique(records.task_codes[m], return_inverse=True)
        succ = np.bincount(inv, weights=records.score[m]) / np.bincount(inv)
        mins = np.bincount(inv, weights=records.human_minutes[m]) / np.bincount(inv)
        ax.scatter(mins, succ, s=8 + 4 * np.bincount(inv), alpha=0.4, color="tab:blue")
        if res.fit_samples is not None:
            band = _curve_band(res.fit_samples, xs, report.ci)
            if band is not None:
                ax.fill_between(xs, band[0], band[1], color="tab:red", alpha=0.15, lw=0,
                                label=f"{report.ci:.0%} bootstrap band")
        if res.fit is not None:
            ax.plot(xs, res.fit.success(xs), color="tab:red", lw=1.5, label="fit")
        h = res.horizon(0.5) if 0.5 in report.levels else None
        if h is not None and h.minutes is not None:
            ax.axvline(h.minutes, color="tab:red", ls="--", lw=0.8)
            sub = f"50%: {format_minutes(h.minutes)}"
        else:
            sub = "50%: not estimable"
        ax.set_xscale("log")
        ax.set_ylim(-0.05, 1.05)
        if k == 0 and res.fit is not None:
            ax.legend(fontsize=7, loc="upper right")
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
