"""Interactive frontier chart: one self-contained HTML file (inline SVG, no scripts fetched).

The chart is the PNG's drawing as SVG; every model point carries a tooltip (name, release
date, horizon and interval, frontier or not) shown on hover, and a sortable table of the
points follows the chart. The file opens offline in any browser.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import re
from collections.abc import Sequence
from pathlib import Path

from rubicon.analytics.trend import ModelPoint, Trend, format_minutes, frontier
from rubicon.errors import AnalyticsError

_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1100px}
svg{width:100%;height:auto}
g.pt{cursor:pointer} g.pt:hover path{stroke:#000;stroke-width:2}
table{border-collapse:collapse;font-size:13px;margin-top:1em}
td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right}
td:first-child,th:first-child{text-align:left}
th{cursor:pointer;background:#f4f4f4}
p.note{color:#555;font-size:13px}
"""
_SORT = """
document.querySelectorAll('th').forEach(function(th,i){th.onclick=function(){
var t=th.closest('table'),b=t.tBodies[0],r=Array.from(b.rows),d=th.dataset.d==='1'?-1:1;
th.dataset.d=d===1?'1':'0';r.sort(function(x,y){var u=x.cells[i].dataset.v||x.cells[i].textContent,
v=y.cells[i].dataset.v||y.cells[i].textContent,p=parseFloat(u),q=parseFloat(v);
return (isNaN(p)||isNaN(q)?u.localeCompare(v):p-q)*d;});r.forEach(function(x){b.appendChild(x);});};});
"""


def _tooltip(p: ModelPoint, on: bool) -> str:
    ci = ""
    if p.ci_low is not None and p.ci_high is not None:
        ci = f" (95% CI {format_minutes(p.ci_low)} - {format_minutes(p.ci_high)})"
    state = "state of the art at release" if on else "not on the frontier"
    return (f"{p.name}\nreleased {p.release_date.isoformat()}\n"
            f"50% horizon {format_minutes(p.minutes)}{ci}\n{state}")


def write_frontier_html(
    points: Sequence[ModelPoint],
    path: str | Path,
    trend: Trend | None = None,
    forecast_until: dt.date | None = None,
    targets: Sequence[float] = (),
    title: str = "Time horizon of AI agents (50% success)",
    source: str | None = None,
) -> Path:
    """Write the frontier chart as a self-contained interactive HTML page.

    Args: as :func:`rubicon.analytics.plot_frontier`, with ``path`` ending in ``.html``.

    Returns:
        The written path.
    """
    from rubicon.analytics.plots import _draw_frontier, _pyplot

    out = Path(path)
    if out.suffix.lower() != ".html":
        raise AnalyticsError(f"{out}: interactive charts are written as HTML; use a .html name")
    fig, _, artists, _ = _draw_frontier(points, trend, forecast_until, targets, title, source)
    for k, art in enumerate(artists):
        art.set_gid(f"pt{k}")
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    _pyplot().close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    front = {p.name for p in frontier(points)}
    for k, p in enumerate(points):
        tip = html.escape(_tooltip(p, p.name in front))
        svg, n = re.subn(rf'<g id="pt{k}">', f'<g id="pt{k}" class="pt"><title>{tip}</title>',
                         svg, count=1)
    rows = []
    for p in sorted(points, key=lambda q: q.release_date):
        lo = format_minutes(p.ci_low) if p.ci_low is not None else "-"
        hi = format_minutes(p.ci_high) if p.ci_high is not None else "-"
        rows.append(
            f"<tr><td>{html.escape(p.name)}</td><td>{p.release_date.isoformat()}</td>"
            f"<td data-v='{p.minutes}'>{format_minutes(p.minutes)}</td>"
            f"<td data-v='{p.ci_low or 0}'>{lo}</td><td data-v='{p.ci_high or 0}'>{hi}</td>"
            f"<td>{'yes' if p.name in front else ''}</td></tr>"
        )
    summary = ""
    if trend is not None:
        dd = trend.doubling_days
        if dd.value is not None:
            summary = f"Doubling time {dd.value:.0f} days"
            if dd.low is not None and dd.high is not None:
                summary += f" ({trend.ci:.0%} interval {dd.low:.0f}-{dd.high:.0f}, {trend.method})"
            summary += "."
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h2>{html.escape(title)}</h2>"
        f"<p class='note'>Hover a point for its figures; click a column to sort the table. "
        f"{html.escape(summary)} {html.escape(source or '')}</p>{svg}"
        "<table><thead><tr><th>model</th><th>released</th><th>50% horizon</th>"
        "<th>CI low</th><th>CI high</th><th>frontier</th></tr></thead><tbody>"
        + "".join(rows) + f"</tbody></table><script>{_SORT}</script></body></html>"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
