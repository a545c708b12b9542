"""HTML for the report, the dashboard and experiment pages (plain strings, escaped).

The same `sections()` render the static report and the live dashboard; they differ only in
how images are referenced (data URIs vs URLs) and whether experiment ids link to pages.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from html import escape
from importlib import resources
from typing import Any
from urllib.parse import quote

from rubicon.report._data import CampaignView, Row
from rubicon.types import CampaignInfo, Experiment

ImageRef = Callable[[str], str]  # plot name -> src attribute
ExpLink = Callable[[int], str] | None  # experiment id -> href (None: no links)


def static_text(name: str) -> str:
    return resources.files("rubicon.report").joinpath("static", name).read_text("utf-8")


def _f(x: float | None, fmt: str = ".4g") -> str:
    return "-" if x is None else format(x, fmt)


def _when(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _seconds(s: float | None) -> str:
    if s is None:
        return "-"
    return f"{s:.1f} s" if s < 120 else f"{s / 60:.1f} min"


def badge(r: Row | Experiment) -> str:
    state = r.state if isinstance(r, Row) else r.state.value
    decision = r.decision if isinstance(r, Row) else (r.decision.value if r.decision else "")
    failed = state not in ("ok", "pending")
    if state == "pending":
        cls, text = "pending", "pending"
    elif failed:
        cls, text = "failed", state
    elif r.seq == 0:
        cls, text = "baseline", "baseline"
    elif decision == "keep":
        cls, text = "kept", "kept"
    else:
        cls, text = "", "discarded"
    return f'<span class="badge {cls}">{escape(text)}</span>'


def diff_html(diff: str, elem_id: str = "") -> str:
    if not diff.strip():
        return '<pre class="diff"><span class="muted">(no change)</span></pre>'
    out = []
    for line in diff.splitlines():
        cls = ""
        if line.startswith(("+++", "---")):
            cls = "file"
        elif line.startswith("@@"):
            cls = "hunk"
        elif line.startswith("+"):
            cls = "add"
        elif line.startswith("-"):
            cls = "del"
        text = escape(line) or " "
        out.append(f'<span class="{cls}">{text}</span>' if cls else text + "\n")
    ident = f' id="{elem_id}"' if elem_id else ""
    return f'<pre class="diff"{ident}>' + "".join(out) + "</pre>"


def _id_cell(eid: int, link: ExpLink) -> str:
    return f'<a href="{escape(link(eid))}">#{eid}</a>' if link else f"#{eid}"


def _cards(view: CampaignView) -> str:
    failed = sum(n for s, n in view.counts.items() if s not in ("ok", "pending"))
    kept = sum(1 for r in view.rows if r.kept and r.seq > 0)
    best = view.best
    cards = [
        ("exp-count", str(view.done), "experiments recorded"),
        ("", str(view.counts.get("pending", 0)), "running / pending"),
        ("", str(kept), "kept (promoted)"),
        ("", str(failed), "failed"),
        ("best-speedup", f"{best.speedup:.2f}x" if best and best.speedup else "-",
         f"best speedup (#{best.id})" if best else "best speedup"),
        ("", _f(best.objective if best else None), f"best {view.metric}"),
    ]
    total_usd = sum(c["cost_usd"] for c in view.cost.values())
    total_tok = sum(c["tokens"] for c in view.cost.values())
    if view.cost:
        cards.append(("", f"${total_usd:.4f}", f"researcher cost ({total_tok:,.0f} tokens)"))
    out = []
    for ident, value, label in cards:
        attr = f' id="{ident}"' if ident else ""
        out.append(f'<div class="card"><b{attr}>{escape(value)}</b>'
                   f"<span>{escape(label)}</span></div>")
    return '<div class="cards">' + "".join(out) + "</div>"


def _tree(view: CampaignView, link: ExpLink, limit: int = 2000) -> str:
    children: dict[int | None, list[Row]] = {}
    ids = {r.id for r in view.rows}
    for r in view.rows:
        parent = r.parent_id if r.parent_id in ids else None
        children.setdefault(parent, []).append(r)
    parts: list[str] = ['<ul class="tree" id="lineage-tree">']
    # iterative depth-first walk (campaigns can be deeper than Python's recursion limit)
    stack: list[tuple[str, Row | None]] = [("node", r) for r in reversed(children.get(None, []))]
    shown = 0
    while stack:
        kind, item = stack.pop()
        if kind == "close":
            parts.append("</ul></li>")
            continue
        if item is None:
            continue
        r = item
        shown += 1
        if shown > limit:
            parts.append(f'<li class="muted">... {len(view.rows) - limit} more not shown</li>')
            break
        label = (f"{_id_cell(r.id, link)} {badge(r)} <span class=muted>"
                 f"{escape(r.rationale.splitlines()[0][:80] if r.rationale else '')}</span>"
                 + (f" &middot; {r.speedup:.2f}x" if r.speedup else ""))
        kids = children.get(r.id, [])
        if kids:
            parts.append(f"<li>{label}<ul>")
            stack.append(("close", None))
            stack.extend(("node", k) for k in reversed(kids))
        else:
            parts.append(f"<li>{label}</li>")
    parts.append("</ul>")
    return "".join(parts)


_COLUMNS = ("#", "seq", "parent", "researcher", "verdict", "objective", "CI (objective)",
            "speedup", "took", "tokens", "rationale", "reason")


def _table(view: CampaignView, link: ExpLink) -> str:
    head = "".join(f'<th data-sort="{i}">{escape(c)}</th>' for i, c in enumerate(_COLUMNS))
    body = []
    for r in view.rows:
        cls = ("kept" if r.kept else "failed" if r.failed
               else "pending" if r.state == "pending" else "")
        ci = (f"{r.ci_low:.4g} – {r.ci_high:.4g}" if r.ci_low is not None and r.ci_high is not None
              else "-")
        verdict_key = f"{r.state}:{r.decision}"
        body.append(
            f'<tr id="exp-{r.id}" class="{cls}">'
            f'<td class="num" data-v="{r.id}">{_id_cell(r.id, link)}</td>'
            f'<td class="num">{r.seq}</td>'
            f'<td class="num" data-v="{"" if r.parent_id is None else r.parent_id}">'
            f'{"-" if r.parent_id is None else "#" + str(r.parent_id)}'
            f'{"" if r.vs in (None, r.parent_id) else " (vs #" + str(r.vs) + ")"}</td>'
            f"<td>{escape(r.researcher)}</td>"
            f'<td data-v="{escape(verdict_key)}">{badge(r)}</td>'
            f'<td class="num" data-v="{"" if r.objective is None else repr(r.objective)}">'
            f"{_f(r.objective)}</td>"
            f'<td class="num" data-v="{"" if r.ci_low is None else repr(r.ci_low)}">{ci}</td>'
            f'<td class="num" data-v="{"" if r.speedup is None else repr(r.speedup)}">'
            f'{"-" if r.speedup is None else f"{r.speedup:.3f}x"}</td>'
            f'<td class="num" data-v="{"" if r.took_s is None else repr(r.took_s)}">'
            f"{_seconds(r.took_s)}</td>"
            f'<td class="num" data-v="{repr(r.tokens) if r.tokens else ""}">'
            f'{f"{r.tokens:,.0f}" if r.tokens else "-"}</td>'
            f'<td class="txt">{escape(r.rationale[:300])}</td>'
            f'<td class="txt">{escape(r.reason[:300])}</td></tr>'
        )
    return (f'<table id="experiments"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


def _failures(view: CampaignView, link: ExpLink) -> str:
    rows = []
    for state, n in sorted(view.counts.items(), key=lambda kv: -kv[1]):
        examples = "<br>".join(f"{_id_cell(i, link)}: {escape(reason[:240])}"
                               for i, reason in view.failures.get(state, []))
        rows.append(f'<tr class="state-{escape(state)}"><td>{escape(state)}</td>'
                    f'<td class="num">{n}</td><td class="txt">{examples}</td></tr>')
    decisions = ", ".join(f"{n} {escape(d)}" for d, n in sorted(view.decisions.items()))
    return (f'<table id="failures"><thead><tr><th>state</th><th>count</th>'
            f'<th>example reasons</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
            f'<p class="muted">decisions: {decisions or "none yet"}</p>')


def _cost(view: CampaignView) -> str:
    if not view.cost:
        return ('<p class="muted" id="cost-none">no researcher recorded tokens or cost '
                "(offline researchers are free)</p>")
    rows = "".join(
        f'<tr><td>{escape(name)}</td><td class="num">{c["experiments"]:.0f}</td>'
        f'<td class="num">{c["tokens"]:,.0f}</td><td class="num">${c["cost_usd"]:.4f}</td></tr>'
        for name, c in sorted(view.cost.items()))
    return (f'<table id="cost"><thead><tr><th>researcher</th><th>experiments with cost</th>'
            f"<th>tokens</th><th>cost (USD)</th></tr></thead><tbody>{rows}</tbody></table>")


def _returns(view: CampaignView) -> str:
    """One line: do the promotions' gains grow or shrink (`rubicon returns`, docs/LINEAGE.md)."""
    from rubicon.report.plots import returns_trend

    steps, tr = returns_trend(view)
    figures = (f": median ratio of successive gains {tr.ratio.text()}, slope of ln gain per "
               f"promotion {tr.slope.text()}" if tr.ratio and tr.slope else "")
    return (f'<p class="muted" id="returns">{len(steps)} promotion(s) with a gain over the '
            f"incumbent they replaced; returns {escape(tr.verdict)}{escape(figures)}.</p>")


def sections(view: CampaignView, img: ImageRef, link: ExpLink = None) -> str:
    """The body of a campaign page: the same for the report and the dashboard."""
    best, base = view.best, view.baseline
    if best is not None and base is not None and best.id != base.id:
        win_title = (f"Winning diff: #{best.id} against the baseline #{base.id} "
                     f"({best.speedup:.2f}x)" if best.speedup else
                     f"Winning diff: #{best.id} against the baseline #{base.id}")
        win = diff_html(view.winning_diff, "winning-diff")
    else:
        win_title = "Winning diff"
        win = '<p class="muted" id="winning-diff">no candidate has beaten the baseline yet</p>'
    return "".join([
        _cards(view),
        "<h2>Progress</h2>",
        '<p class="muted">Every measured experiment is a point (the median of its scored runs); '
        "stars were kept (promoted); the green line is the incumbent; red crosses at the bottom "
        f"failed. Bars: the incumbent's value times the {view.confidence:.0%} confidence "
        "interval of the candidate/incumbent ratio from the interleaved paired runs — a bar "
        "wholly on the better side of the line is a promotion. A point can sit outside its bar "
        "when the machine's speed drifted between measurements; the pairs cancel that drift. "
        "Candidates screened out after one run have no bar.</p>",
        '<div class="grid2">',
        f'<img class="plot" id="plot-progress-experiments" alt="objective and speedup by '
        f'experiment" src="{escape(img("progress_experiments"))}">',
        f'<img class="plot" id="plot-progress-time" alt="objective and speedup by wall time" '
        f'src="{escape(img("progress_time"))}">',
        "</div>",
        "<h2>Lineage</h2>",
        f'<img class="plot" id="plot-lineage" alt="lineage tree" src="{escape(img("lineage"))}">',
        "<details open><summary>as a tree</summary>", _tree(view, link), "</details>",
        "<h2>Returns</h2>", _returns(view),
        f'<img class="plot" id="plot-returns" alt="gain per promotion" '
        f'src="{escape(img("returns"))}">',
        "<h2>Experiments</h2>",
        '<p class="muted">Click a column header to sort.</p>',
        _table(view, link),
        f"<h2>{escape(win_title)}</h2>", win,
        "<h2>Failures</h2>", _failures(view, link),
        "<h2>Researcher cost</h2>", _cost(view),
    ])


def _page(title: str, body: str, extra_head: str = "") -> str:
    return ("<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{static_text('report.css')}</style>"
            f"{extra_head}</head><body>{body}<script>{static_text('report.js')}</script>"
            "</body></html>")


def _header(info: CampaignInfo, view: CampaignView | None = None) -> str:
    extra = f", objective {escape(view.metric)} ({escape(view.direction)})" if view else ""
    return (f'<h1>rubicon campaign <span id="campaign-id">{escape(info.id)}</span></h1>'
            f'<p class="sub">task <b>{escape(info.task_name)}</b>, researcher '
            f'<b>{escape(info.researcher)}</b>{extra}, hints <b id="campaign-hints">'
            f"{'on' if info.config.get('hints', True) else 'off'}</b>, "
            f"started {_when(info.created_at)}, "
            f'status <b id="campaign-status">{escape(info.status)}</b></p>')


def report_page(view: CampaignView, img: ImageRef) -> str:
    """A complete, self-contained report page."""
    body = (_header(view.info, view) + sections(view, img) +
            f'<p class="muted">generated by rubicon report at {_when(view.generated_at)}</p>')
    return _page(f"rubicon report: {view.info.id}", body)


def dashboard_page(view: CampaignView, campaigns: list[CampaignInfo], token: str,
                   poll_ms: int = 1500, live: dict[str, Any] | None = None) -> str:
    """The live dashboard: the report's sections, refreshed from /api/campaign/<id>/view."""
    cid = view.info.id
    options = "".join(
        f'<option value="{escape(c.id)}"{" selected" if c.id == cid else ""}>'
        f"{escape(c.id)} ({escape(c.task_name)})</option>" for c in reversed(campaigns))
    nav = ('<p class="live on" id="live">live: refreshes while the campaign runs &middot; '
           f'<select id="campaign-select" onchange="location.href=\'/?campaign=\'+'
           f'encodeURIComponent(this.value)">{options}</select></p>')

    def img(name: str) -> str:
        return f"/plot/{quote(cid)}/{name}.png?v={quote(token)}"

    script = f"""<script>
(function () {{
  var token = {json.dumps(token)}, cid = {json.dumps(cid)};
  function tick() {{
    fetch("/api/campaign/" + encodeURIComponent(cid) + "/view?since=" + encodeURIComponent(token))
      .then(function (r) {{ return r.json(); }})
      .then(function (d) {{
        document.getElementById("live").className = "live on";
        if (d.token !== token && d.html !== null) {{
          token = d.token;
          document.getElementById("sections").innerHTML = d.html;
          document.getElementById("campaign-status").textContent = d.status;
          if (window.rubiconResort) window.rubiconResort();
        }}
      }})
      .catch(function () {{ document.getElementById("live").className = "live"; }})
      .then(function () {{ setTimeout(tick, {poll_ms}); }});
  }}
  setTimeout(tick, {poll_ms});
}})();
</script>"""
    body = (_header(view.info, view) + nav + '<div id="sections">' + live_section(live) +
            sections(view, img, lambda i: f"/experiment/{i}") + "</div>" + script)
    return _page(f"rubicon: {cid}", body)


def view_fragment(view: CampaignView, token: str, live: dict[str, Any] | None = None) -> str:
    cid = view.info.id
    return live_section(live) + sections(
        view, lambda name: f"/plot/{quote(cid)}/{name}.png?v={quote(token)}",
        lambda i: f"/experiment/{i}")


def _dur(s: float) -> str:
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.1f} min" if s < 7200 else f"{s / 3600:.1f} h"


def live_section(live: dict[str, Any] | None) -> str:
    """The run going on now (report._data.live_run): a progress bar, elapsed time and ETA."""
    if live is None:
        return ""
    eid = live.get("experiment")
    who = escape(str(live.get("what", "run"))) + (f" #{eid}" if isinstance(eid, int) else "")
    step, total = live["step"], live["total"]
    eta = live.get("eta")
    text = (f"{who}: step {step} of {total} ({step / total:.0%}), {_dur(live['seconds'])} "
            f"elapsed" + (f", about {_dur(eta)} left" if eta is not None else ""))
    return (f'<section id="run-progress"><h2>running now</h2><p><progress value="{step}" '
            f'max="{total}"></progress> {text}</p></section>')


def experiment_page(e: Experiment, info: CampaignInfo, base_diff: str | None) -> str:
    """One experiment: verdict, numbers, timed runs, diffs, log tail."""
    ci = (f"ratio CI [{e.ratio_low:.4g}, {e.ratio_high:.4g}]"
          if e.ratio_low is not None and e.ratio_high is not None else "no paired runs")
    parent = (f'<a href="/experiment/{e.parent_id}">#{e.parent_id}</a>'
              if e.parent_id is not None else "-")
    runs = "".join(
        f'<tr class="{"" if r.scored else "muted"}"><td>{escape(r.role)}</td>'
        f'<td class="num">{r.pair}</td><td class="num">{r.wall_seconds:.4f}</td>'
        f'<td class="num">{r.cpu_seconds:.3f}</td><td class="num">{r.peak_memory_mb:.0f}</td>'
        f'<td class="num">{r.foreign_load:.2f}</td><td>{"yes" if r.scored else "no"}</td>'
        f'<td class="num">{_f(r.objective)}</td><td>{escape(",".join(map(str, r.cores)))}</td></tr>'
        for r in e.runs)
    head = "".join(f'<th data-sort="{i}">{c}</th>' for i, c in enumerate(
        ("role", "pair", "wall s", "cpu s", "peak MiB", "foreign load", "scored", "objective",
         "cores")))
    meta = json.dumps(e.meta, indent=1, sort_keys=True, default=str) if e.meta else ""
    body = "".join([
        f'<p><a href="/?campaign={escape(info.id)}">&larr; campaign {escape(info.id)}</a></p>',
        f'<h1 id="experiment-title">experiment #{e.id} {badge(e)}</h1>',
        f'<p class="sub">seq {e.seq}, parent {parent}, researcher {escape(e.researcher)}, '
        f"created {_when(e.created_at)}</p>",
        '<div class="cards">',
        f'<div class="card"><b>{_f(e.objective)}</b><span>objective</span></div>',
        f'<div class="card"><b>{"-" if e.speedup is None else f"{e.speedup:.3f}x"}</b>'
        "<span>speedup vs baseline</span></div>",
        f'<div class="card"><b>{len(e.runs)}</b><span>timed runs</span></div></div>',
        f"<p><b>verdict:</b> {escape(e.state.value)}, "
        f"{escape(e.decision.value if e.decision else '-')}: {escape(e.reason)} ({ci})</p>",
        f"<p><b>rationale:</b> {escape(e.rationale) or '-'}</p>",
        "<h2>Metrics</h2>",
        f"<pre>{escape(json.dumps(e.metrics, indent=1, sort_keys=True, default=str))}</pre>",
        f"<h2>Researcher meta</h2><pre>{escape(meta)}</pre>" if meta else "",
        "<h2>Timed runs</h2>",
        f'<table id="runs"><thead><tr>{head}</tr></thead><tbody>{runs}</tbody></table>'
        if e.runs else '<p class="muted">no timed runs</p>',
        "<h2>Diff against the parent</h2>", diff_html(e.diff, "diff-parent"),
        *(["<h2>Diff against the baseline</h2>", diff_html(base_diff, "diff-baseline")]
          if base_diff is not None else []),
        "<h2>Log tail</h2>",
        f'<pre id="log-tail">{escape(e.log_tail[-20000:]) or "(empty)"}</pre>',
        "<h2>Provenance</h2>",
        f"<pre>{escape(json.dumps(e.provenance, indent=1, sort_keys=True, default=str))}</pre>",
    ])
    return _page(f"rubicon: experiment #{e.id}", body)


def to_json(x: Any) -> str:
    return json.dumps(x, default=str)
