"""The returns meter's chart (PNG): the capability reached, the gain per step on a log scale
with the fitted log-linear trend, and the cumulative alignment when known.

matplotlib through `Figure` + the Agg canvas (no pyplot state), like the report's plots.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

from rubicon.analytics.returns import Estimate, Step, Trend
from rubicon.errors import AnalyticsError

GAIN = "#1e8e3e"
VALUE = "#1f5fbf"
ALIGN = "#d1495b"


def _figure(rows: int) -> tuple[Any, list[Any]]:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - matplotlib is a core dependency
        raise AnalyticsError("the returns chart needs matplotlib: pip install matplotlib") from None
    fig = Figure(figsize=(8, 2.6 * rows + 0.6), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, 1, sharex=True, squeeze=False)
    return fig, [a[0] for a in axes]


def _errbar(ax: Any, xs: list[float], est: list[Estimate], colour: str, label: str) -> None:
    ys = [e.value for e in est]
    lo = [e.value - e.lo if e.lo is not None else 0.0 for e in est]
    hi = [e.hi - e.value if e.hi is not None else 0.0 for e in est]
    ax.errorbar(xs, ys, yerr=[[max(v, 0.0) for v in lo], [max(v, 0.0) for v in hi]], fmt="o",
                color=colour, capsize=3, label=label, zorder=3)


def returns_png(title: str, steps: Sequence[Step], tr: Trend,
                values: Sequence[tuple[float, Estimate]] = (),
                alignment: Sequence[tuple[float, float | None]] = (),
                value_label: str = "capability", x_label: str = "generation") -> bytes:
    """The chart as PNG bytes. `values`: (x, capability) per generation or incumbent;
    `alignment`: (x, cumulative honeypot pass rate) per generation (left out when empty)."""
    has_align = any(a is not None for _, a in alignment)
    fig, axes = _figure(3 if has_align else 2)
    ax_v, ax_g = axes[0], axes[1]
    if values:
        _errbar(ax_v, [x for x, _ in values], [e for _, e in values], VALUE, value_label)
        ax_v.plot([x for x, _ in values], [e.value for _, e in values], color=VALUE, alpha=0.4)
    ax_v.set_ylabel(value_label)
    ax_v.grid(True, alpha=0.3)
    if steps:
        est = [Estimate(s.gain, s.lo, s.hi) for s in steps]
        xs = [float(s.index) for s in steps]
        positive = [e for e in est if e.value > 0]
        _errbar(ax_g, xs, est, GAIN, "gain over parent")
        if positive and tr.fit is not None:
            a, b = tr.fit
            ax_g.plot(xs, [math.exp(a + b * x) for x in xs], color=GAIN, ls="--", alpha=0.8,
                      label=f"log-linear fit: x{math.exp(b):.3g} per step")
        if positive and all(e.value > 0 and (e.lo is None or e.lo > 0) for e in est):
            from matplotlib.ticker import FuncFormatter

            ax_g.set_yscale("log")
            plain = FuncFormatter(lambda v, _pos: f"{v:.3g}")
            ax_g.yaxis.set_major_formatter(plain)
            ends = [v for e in est for v in (e.lo, e.value, e.hi) if v is not None and v > 0]
            if max(ends) / min(ends) < 10:  # under a decade: label the minor ticks too
                ax_g.yaxis.set_minor_formatter(plain)
        ax_g.legend(fontsize=8, loc="best")
    else:
        ax_g.text(0.5, 0.5, "no promotion with a gain yet", ha="center", va="center",
                  transform=ax_g.transAxes)
    ax_g.axhline(0.0, color="black", lw=0.6, alpha=0.4)
    ax_g.set_ylabel("gain over parent")
    ax_g.grid(True, alpha=0.3)
    slope = f" (slope of ln gain per step {tr.slope.text()})" if tr.slope else ""
    ax_g.set_title(f"returns: {tr.verdict}{slope}", fontsize=9)
    if has_align:
        ax_a = axes[2]
        pts = [(x, a) for x, a in alignment if a is not None]
        ax_a.plot([x for x, _ in pts], [a for _, a in pts], "o-", color=ALIGN, zorder=3,
                  label="product of honeypot pass rates")
        ax_a.legend(fontsize=8, loc="lower left")
        ax_a.set_ylim(-0.02, 1.02)
        ax_a.set_ylabel("cumulative alignment")
        ax_a.grid(True, alpha=0.3)
    axes[-1].set_xlabel(x_label)
    from matplotlib.ticker import MaxNLocator

    axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].set_title(title, fontsize=10)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
