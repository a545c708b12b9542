"""`rubicon report BENCH_DIR`: a self-contained HTML report of a bench: scores with intervals
per researcher x task, the best-score-versus-time curve of every attempt, the time-horizon
chart, and every attempt (failures with their reasons). Read-only over the bench directory."""

from __future__ import annotations

import base64
import datetime as dt
import tempfile
import time
from html import escape
from pathlib import Path
from typing import Any

from rubicon.bench._bench import Bench
from rubicon.bench._manifest import Attempt, BenchPlan
from rubicon.bench.records import run_rows
from rubicon.bench.summary import CI, Cell, fmt_score, summarize


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _secs(s: float | None) -> str:
    if s is None:
        return "-"
    return f"{s:.1f} s" if s < 120 else f"{s / 60:.1f} min"


def _num(v: float | None, fmt: str = ".3f") -> str:
    return "" if v is None else format(v, fmt)


def horizons(plan: BenchPlan, attempts: list[Attempt]) -> tuple[Any, Any, str]:
    """(records, report, note): the time horizons of the done attempts, or a note saying why
    there are none."""
    from rubicon.analytics import estimate_horizons, records_from_rows
    from rubicon.errors import AnalyticsError

    rows = run_rows(plan, attempts)
    if not rows:
        return None, None, "no attempt is done yet"
    try:
        records = records_from_rows(rows, source="runs.jsonl")
        return records, estimate_horizons(records, n_bootstrap=1000, ci=CI), ""
    except AnalyticsError as e:
        return None, None, str(e)


def _scores_table(cells: list[Cell]) -> str:
    cols = ("researcher", "task", "attempts", "failed", f"mean ({CI:.0%} CI)", "median",
            "best (speedup)", "levels reached", "wall / attempt", "cost / attempt")
    head = "".join(f'<th data-sort="{i}">{escape(c)}</th>' for i, c in enumerate(cols))
    body = []
    for c in cells:
        levels = ", ".join(f"{escape(n)}&nbsp;{k}/{c.done}" for n, k in c.levels.items()) or "-"
        best = "-" if c.best is None else f"{c.best:.2f}" + (
            f" ({c.best_speedup:.2f}x)" if c.best_speedup else "")
        cost = " ".join(x for x in (f"{c.tokens:,.0f} tokens" if c.tokens else "",
                                    f"${c.cost_usd:.4f}" if c.cost_usd else "") if x) or "-"
        body.append(
            f'<tr><td>{escape(c.researcher)}</td><td>{escape(c.task)}</td>'
            f'<td class="num">{c.done}/{c.planned}</td><td class="num">{c.failed}</td>'
            f'<td class="num score" data-v="{_num(c.mean)}">{escape(fmt_score(c))}</td>'
            f'<td class="num" data-v="{_num(c.median)}">{_num(c.median, ".2f") or "-"}</td>'
            f'<td class="num" data-v="{_num(c.best)}">{escape(best)}</td>'
            f'<td class="txt">{levels}</td>'
            f'<td class="num" data-v="{_num(c.wall_seconds)}">{_secs(c.wall_seconds)}</td>'
            f'<td class="num">{escape(cost)}</td></tr>')
    return (f'<table id="scores"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


def _attempts_table(bench: Bench, attempts: list[Attempt]) -> str:
    cols = ("attempt", "status", "score", "speedup", "experiments", "wall", "restarts",
            "reason", "campaign directory")
    head = "".join(f'<th data-sort="{i}">{escape(c)}</th>' for i, c in enumerate(cols))
    from rubicon.bench._attempt import attempt_dir

    body = []
    for a in attempts:
        res = a.result
        cls = {"failed": "failed", "finished": "kept"}.get(a.status, "pending")
        rel = attempt_dir(bench.dir, a).relative_to(bench.dir)
        body.append(
            f'<tr class="{cls}" data-status="{a.status}"><td>{escape(a.key)}</td>'
            f'<td><span class="badge {"failed" if a.status == "failed" else cls}">'
            f"{escape(a.status)}</span></td>"
            f'<td class="num" data-v="{a.score:.6f}">{a.score:.3f}</td>'
            f'<td class="num">{f"{res.speedup:.2f}x" if res and res.speedup else "-"}</td>'
            f'<td class="num">{res.experiments if res else "-"}</td>'
            f'<td class="num" data-v="{a.wall_seconds:.3f}">{_secs(a.wall_seconds)}</td>'
            f'<td class="num">{a.restarts}</td>'
            f'<td class="txt">{escape(a.reason[:400]) or "-"}</td>'
            f"<td>{escape(str(rel))}</td></tr>")
    return (f'<table id="attempts"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


def _horizon_section(report: Any, note: str, img: str | None) -> str:
    from rubicon.analytics import format_minutes

    if report is None:
        return f'<p class="muted" id="horizon-none">no time horizon: {escape(note)}</p>'
    rows = []
    for a in report.agents:
        cells = []
        for h in a.horizons:
            est = "-" if h.minutes is None else format_minutes(h.minutes)
            lo = "?" if h.ci_low is None else format_minutes(h.ci_low)
            hi = "?" if h.ci_high is None else format_minutes(h.ci_high)
            why = f' <span class="muted">({escape(h.reason)})</span>' if h.reason else ""
            cells.append(f"<td>{escape(est)} [{escape(lo)}, {escape(hi)}]{why}</td>")
        rows.append(f"<tr><td>{escape(a.agent)}</td><td class=num>{a.n_runs}</td>"
                    f"<td class=num>{a.n_tasks}</td>{''.join(cells)}</tr>")
    levels = "".join(f"<th>{p:.0%} horizon [{report.ci:.0%} CI]</th>" for p in report.levels)
    notes = "".join(f'<p class="muted">note: {escape(n)}</p>' for n in report.notes)
    chart = (f'<img class="plot" id="plot-horizon" alt="success against task length" '
             f'src="{escape(img)}">' if img else "")
    return (f'<table id="horizons"><thead><tr><th>agent</th><th>rows</th><th>levels</th>'
            f"{levels}</tr></thead><tbody>{''.join(rows)}</tbody></table>{notes}{chart}")


def bench_page(bench: Bench, attempts: list[Attempt], images: dict[str, str], report: Any,
               note: str) -> str:
    """The report page; `images` maps a plot name to its src (a data URI)."""
    from rubicon.report.html import static_text

    plan = bench.plan
    cells = summarize(plan, attempts)
    budget = plan.config.get("budget_seconds")
    done = sum(1 for a in attempts if a.done)
    failed = sum(1 for a in attempts if a.status == "failed")
    hints = "on" if plan.hints else "off"
    cards = [(str(done), f"attempts done of {len(attempts)}"), (str(failed), "failed (score 0)"),
             (str(len(attempts) - done), "not done yet"), (hints, "hints")]
    card_html = "".join(f'<div class="card"><b>{escape(v)}</b><span>{escape(k)}</span></div>'
                        for v, k in cards)
    researchers = ", ".join(escape(r.label) for r in plan.researchers)
    tasks = ", ".join(escape(t.name) for t in plan.tasks)
    body = "".join([
        f'<h1>rubicon bench <span id="bench-id">{escape(plan.id)}</span></h1>',
        f'<p class="sub">researchers <b>{researchers}</b> on tasks <b>{tasks}</b>'
        f"{' (suite ' + escape(plan.suite) + ')' if plan.suite else ''}, {plan.attempts} "
        f"attempt(s) each, budget {_secs(budget) if budget else 'none'} per attempt, "
        f'hints <b id="bench-hints">{hints}</b>, started {_when(plan.created_at)}</p>',
        '<p class="muted">Hints are a task\'s playbook patches and start points: the task '
        "author's answer key. With hints off a researcher sees the task, its knobs and its own "
        "results only.</p>",
        f'<div class="cards">{card_html}</div>',
        "<h2>Scores</h2>",
        f'<p class="muted">Normalized score of each attempt\'s best confirmed result: 0 = the '
        f"baseline, 1 = the task's reference solution (log scale for speedups). A failed "
        f"attempt scores 0 and reaches no level. The interval is a {CI:.0%} bootstrap over "
        "attempts (narrow when there are few). Click a header to sort.</p>",
        _scores_table(cells),
        "<h2>Best score against time</h2>",
        '<p class="muted">Every attempt: its best confirmed score so far against its minutes; '
        "dotted lines are the task's levels; crosses are failed attempts.</p>",
        f'<img class="plot" id="plot-curves" alt="best score against time per attempt" '
        f'src="{escape(images["curves"])}">',
        "<h2>Time horizon</h2>",
        '<p class="muted">Each level of a task (its milestones, and the task itself at score '
        "1) is one task of the task's family with its estimated human expert minutes; an "
        "attempt succeeds on a level when its score reaches it. METR-style logistic fit, "
        "hierarchical bootstrap intervals (docs/HORIZONS.md). Few tasks: wide intervals.</p>",
        _horizon_section(report, note, images.get("horizon")),
        "<h2>Attempts</h2>",
        _attempts_table(bench, attempts),
        f'<p class="muted">generated by rubicon report at {_when(time.time())} from '
        f"{escape(str(bench.dir))}</p>",
    ])
    return ("<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>rubicon bench: {escape(plan.id)}</title>"
            f"<style>{static_text('report.css')}</style></head><body>{body}"
            f"<script>{static_text('report.js')}</script></body></html>")


def write_bench_report(directory: str | Path, out: str | Path) -> Path:
    """Write the bench report (HTML with embedded PNGs, the PNGs also next to it)."""
    from rubicon.analytics import plot_success_curves
    from rubicon.bench._plots import curves_png

    bench = Bench.open(directory)
    attempts = bench.attempts()
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    pngs = {"curves": curves_png(bench.plan, attempts)}
    records, report, note = horizons(bench.plan, attempts)
    if report is not None:
        with tempfile.TemporaryDirectory() as tmp:
            png = Path(tmp) / "horizon.png"
            plot_success_curves(records, report, png)
            pngs["horizon"] = png.read_bytes()
    prefix = "" if path.stem == "index" else f"{path.stem}_"
    uris = {}
    for name, data in pngs.items():
        path.with_name(f"{prefix}bench_{name}.png").write_bytes(data)
        uris[name] = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    path.write_text(bench_page(bench, attempts, uris, report, note), encoding="utf-8")
    return path


__all__ = ["bench_page", "horizons", "write_bench_report"]
