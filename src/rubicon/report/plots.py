"""PNG plots of a campaign: progress (objective and speedup) and the lineage tree.

matplotlib is imported lazily and used through `Figure` + the Agg canvas (no pyplot, no global
state), so plots can be drawn from the dashboard's worker threads and no display is needed.
"""

from __future__ import annotations

import io
from typing import Any, Literal

from rubicon.errors import RubiconError
from rubicon.report._data import CampaignView, Row

KEPT = "#1e8e3e"
DISCARDED = "#8a94a6"
FAILED = "#d1495b"
PENDING = "#e0a800"
BASELINE = "#1f5fbf"

Axis = Literal["experiment", "time"]


def _figure(w: float, h: float, rows: int = 1) -> tuple[Any, Any]:
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - matplotlib is a core dependency
        raise RubiconError("plots need matplotlib: pip install matplotlib") from None
    fig = Figure(figsize=(w, h), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, 1, sharex=True, squeeze=False)
    return fig, [a[0] for a in axes]


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _shrink(n: int) -> float:
    """Marker-size factor: full size up to 200 points, smaller for big campaigns."""
    return 1.0 if n <= 200 else max(0.12, (200 / n) ** 0.5)


def _x(r: Row, axis: Axis, hours: bool = False) -> float | None:
    if axis == "experiment":
        return float(r.seq)
    if r.finished_min is None:
        return None
    return r.finished_min / 60 if hours else r.finished_min


def _panel(ax: Any, rows: list[Row], axis: Axis, value: str, incumbent_ids: list[int],
           ylabel: str, hours: bool = False) -> None:
    from matplotlib.transforms import blended_transform_factory

    def x_of(r: Row) -> float | None:
        return _x(r, axis, hours)

    def val(r: Row) -> float | None:
        v: float | None = getattr(r, value)
        return v

    def bounds(r: Row) -> tuple[float, float] | None:
        lo, hi = (r.ci_low, r.ci_high) if value == "objective" else (r.sp_low, r.sp_high)
        return None if lo is None or hi is None else (lo, hi)

    measured = [r for r in rows if val(r) is not None and not r.failed and x_of(r) is not None]
    k = _shrink(len(rows))
    for group, colour, marker, size, label in (
        ([r for r in measured if not r.kept], DISCARDED, "o", 28, "discarded"),
        ([r for r in measured if r.kept and r.seq > 0], KEPT, "*", 140, "kept (promoted)"),
        ([r for r in measured if r.seq == 0], BASELINE, "D", 50, "baseline"),
    ):
        if not group:
            continue
        xs = [x_of(r) for r in group]
        ys = [val(r) for r in group]
        ax.scatter(xs, ys, c=colour, marker=marker, s=size * k, zorder=3, label=label,
                   edgecolors="black" if marker == "*" else "none", linewidths=0.6)
        bars = [(x, b) for r, x in zip(group, xs, strict=True)
                if x is not None and (b := bounds(r)) is not None]
        if bars:  # vertical bars (one call: fast for big campaigns); a point may lie outside
            bx = [x for x, _ in bars]
            ax.vlines(bx, [b[0] for _, b in bars], [b[1] for _, b in bars], colors=colour,
                      lw=1.4, alpha=0.8, zorder=2)
            ax.scatter(bx + bx, [b[0] for _, b in bars] + [b[1] for _, b in bars], marker="_",
                       c=colour, s=60, zorder=2)
    # the incumbent (best trusted) value, as a step line over the promotions
    steps = [r for r in measured if r.id in incumbent_ids]
    steps.sort(key=lambda r: x_of(r) or 0.0)
    if steps:
        xs = [x_of(r) or 0.0 for r in steps]
        ys = [val(r) or 0.0 for r in steps]
        last_x = max((x_of(r) or 0.0 for r in rows if x_of(r) is not None), default=xs[-1])
        ax.step(xs + [last_x], ys + [ys[-1]], where="post", color=KEPT, lw=1.6, alpha=0.7,
                zorder=1, label="incumbent")
    failed = [r for r in rows if r.failed and x_of(r) is not None]
    if failed:
        tr = blended_transform_factory(ax.transData, ax.transAxes)
        ax.scatter([x_of(r) for r in failed], [0.03] * len(failed), transform=tr,
                   marker="x", c=FAILED, s=30, zorder=3, label="failed (no score)")
    ys_all = [v for r in measured if (v := val(r)) is not None and v > 0]
    if ys_all and max(ys_all) / min(ys_all) > 20:
        ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)


def progress_png(view: CampaignView, axis: Axis = "experiment") -> bytes:
    """Objective (top) and speedup vs baseline (bottom) of every experiment, against the
    experiment number or wall time; kept ones starred, bars = paired-run confidence bands."""
    fig, (ax1, ax2) = _figure(8, 6.2, rows=2)
    kept = [r.id for r in view.rows if r.kept]
    arrow = "lower is better" if view.direction == "minimize" else "higher is better"
    hours = max((r.finished_min or 0.0 for r in view.rows), default=0.0) > 180
    _panel(ax1, view.rows, axis, "objective", kept, f"{view.metric} ({arrow})", hours)
    _panel(ax2, view.rows, axis, "speedup", kept, "speedup vs baseline (x)", hours)
    if axis == "experiment":
        from matplotlib.ticker import MaxNLocator

        ax2.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax2.axhline(1.0, color=BASELINE, lw=0.8, ls="--", alpha=0.6)
    ax2.set_xlabel("experiment number (seq; 0 = baseline)" if axis == "experiment"
                   else f"wall time since the campaign started ({'hours' if hours else 'minutes'})")
    what = "experiment number" if axis == "experiment" else "wall time"
    ax1.set_title(f"{view.info.task_name}: objective and speedup by {what} "
                  f"(bars: {view.confidence:.0%} CI, paired runs)", fontsize=10)
    handles, labels = ax1.get_legend_handles_labels()
    if handles:
        ax1.legend(handles, labels, fontsize=8, loc="best")
    if not view.rows:
        ax1.text(0.5, 0.5, "no experiments yet", ha="center", va="center",
                 transform=ax1.transAxes)
    return _png(fig)


def _colour(r: Row) -> str:
    if r.state == "pending":
        return PENDING
    if r.failed:
        return FAILED
    if r.seq == 0:
        return BASELINE
    return KEPT if r.kept else DISCARDED


def lineage_png(view: CampaignView) -> bytes:
    """The lineage tree: x = experiment number, y = generation (depth below the baseline);
    an edge joins each experiment to its parent; the path to the best is drawn bold."""
    rows = view.rows
    width = min(14.0, max(6.0, 0.18 * len(rows) + 4))
    depth_max = max((r.depth for r in rows), default=0)
    fig, (ax,) = _figure(width, min(8.0, max(2.8, 0.55 * depth_max + 2.2)))
    by_id = {r.id: r for r in rows}
    best_path: set[int] = set()
    node = view.best
    while node is not None and node.id not in best_path:
        best_path.add(node.id)
        node = by_id.get(node.parent_id) if node.parent_id is not None else None
    from matplotlib.collections import LineCollection

    edges: dict[bool, list[list[tuple[float, float]]]] = {True: [], False: []}
    for r in rows:
        p = by_id.get(r.parent_id) if r.parent_id is not None else None
        if p is not None:
            on_path = r.id in best_path and p.id in best_path
            edges[on_path].append([(p.seq, p.depth), (p.seq, r.depth), (r.seq, r.depth)])
    ax.add_collection(LineCollection(edges[False], colors="#c5cbd3", linewidths=0.9, zorder=1))
    ax.add_collection(LineCollection(edges[True], colors=KEPT, linewidths=2.4, zorder=2))
    for colour, label in ((BASELINE, "baseline"), (KEPT, "kept"), (DISCARDED, "discarded"),
                          (FAILED, "failed"), (PENDING, "pending")):
        group = [r for r in rows if _colour(r) == colour]
        if group:
            ax.scatter([r.seq for r in group], [r.depth for r in group], c=colour,
                       s=60 * _shrink(len(rows)),
                       zorder=3, label=label, edgecolors="black", linewidths=0.5)
    if len(rows) <= 80:
        for r in rows:
            ax.annotate(f"#{r.id}", (r.seq, r.depth), textcoords="offset points",
                        xytext=(0, 7), ha="center", fontsize=7)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(depth_max + 0.7, -0.7)
    ax.set_xlabel("experiment number (seq)")
    ax.set_ylabel("generation")
    ax.set_title("lineage: each experiment joined to its parent (bold: path to the best)",
                 fontsize=10)
    ax.grid(True, axis="x", alpha=0.2)
    if rows:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _png(fig)


def returns_trend(view: CampaignView) -> tuple[list[Any], Any]:
    """(steps, trend) of the campaign's promotions: the returns meter (docs/LINEAGE.md)."""
    from rubicon.analytics.returns import campaign_steps, trend

    steps = campaign_steps(view.rows, view.direction == "maximize", view.confidence or 0.9)
    return steps, trend(steps)


def returns_png(view: CampaignView) -> bytes:
    """Returns of the campaign: the incumbent per promotion and the gain of each promotion
    over the incumbent it replaced, with the trend of log gain (`rubicon returns`)."""
    from rubicon.analytics.returns import Estimate, promotions
    from rubicon.analytics.returns_plot import returns_png as draw

    steps, tr = returns_trend(view)
    values = [(float(i), Estimate(r.objective or 0.0, r.ci_low, r.ci_high))
              for i, r in enumerate(promotions(view.rows))]
    return draw(f"{view.info.task_name}: gain per promotion", steps, tr, values,
                value_label=view.metric, x_label="promotion (0 = baseline)")


PLOTS = {
    "progress_experiments": lambda v: progress_png(v, "experiment"),
    "progress_time": lambda v: progress_png(v, "time"),
    "lineage": lineage_png,
    "returns": returns_png,
}
