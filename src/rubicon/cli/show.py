"""`rubicon show [EXP]` and `rubicon export EXP DIR`: one experiment, or a campaign summary."""

from __future__ import annotations

import argparse
import json
import textwrap
from pathlib import Path

from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from rubicon import Experiment, State
from rubicon.campaign.scheduler import status_now
from rubicon.cli._common import add_dir_flag, console, fmt_seconds
from rubicon.cli._safe import plain, safe
from rubicon.store import Store, open_store
from rubicon.verdicts import (
    MEDIAN_SPEEDUP,
    changes,
    compared_with,
    explain,
    looks_faster_unconfirmed,
    speedup_method,
)
from rubicon.workspace import diff_files

NARROW_COLUMNS = 100  # below this width the campaign summary is a list of blocks, not a table


def _show(args: argparse.Namespace) -> int:
    store = open_store(args.dir, read_only=True)
    if args.experiment is None:
        return _summary(store, args.campaign, args.last, Path(args.dir))
    e = store.experiment(args.experiment)
    info = store.campaign(e.campaign_id)
    decision = e.decision.value if e.decision else "-"
    vs = compared_with(e)
    against = f", measured against #{vs}" if vs is not None and vs != e.parent_id else ""
    console.print(f"[bold]experiment #{e.id}[/] (campaign {safe(e.campaign_id)}, seq {e.seq}, "
                  f"parent {e.parent_id if e.parent_id is not None else '-'}{against}, "
                  f"researcher {safe(e.researcher)})")
    console.print(f"verdict: [bold]{e.state.value}[/], {decision}: {safe(explain(e))}")
    if e.objective is not None:
        console.print(f"objective: {e.objective:.6g}")
    if e.speedup:
        ci = (f"; paired ratio CI [{e.ratio_low:.3f}, {e.ratio_high:.3f}]"
              if e.ratio_low is not None and e.ratio_high is not None else "")
        console.print(f"speedup: {e.speedup:.3f}x vs baseline ({speedup_method(e)}){ci}")
        median = e.metrics.get(MEDIAN_SPEEDUP)
        if isinstance(median, int | float) and e.seq > 0:
            console.print(f"  by medians of unpaired runs: {median:.3f}x vs baseline "
                          f"(metrics {MEDIAN_SPEEDUP}; drifts with the machine's speed)")
    what = changes(e)
    if what and what != (e.rationale or "").strip().splitlines()[0]:
        console.print(f"changes: {safe(what)}")
    if e.rationale:
        console.print(f"rationale: {safe(e.rationale)}")
    if e.metrics:
        console.print("metrics: " + safe(json.dumps(e.metrics, sort_keys=True, default=str)))
    if e.meta:
        console.print("meta: " + safe(json.dumps(e.meta, sort_keys=True, default=str)))
    if e.runs:
        t = Table(title="timed runs")
        for col in ("role", "pair", "wall s", "cpu s", "peak MiB", "foreign load", "scored", "cores"):
            t.add_column(col)
        for r in e.runs:
            t.add_row(r.role, str(r.pair), f"{r.wall_seconds:.4f}", f"{r.cpu_seconds:.3f}",
                      f"{r.peak_memory_mb:.0f}", f"{r.foreign_load:.2f}", "yes" if r.scored else "no",
                      ",".join(map(str, r.cores)))
        console.print(t)
        for r in e.runs:  # why each run was scored, re-run or stopped (the protocol's note)
            if r.note:
                console.print(f"  {r.role} run, pair {r.pair}: {safe(r.note)}")
    console.print("[bold]diff against parent[/]")
    console.print(Syntax(plain(e.diff or "(no change)\n"), "diff", theme="ansi_dark"))
    if info.baseline_id is not None and e.parent_id != info.baseline_id and e.id != info.baseline_id:
        base = store.experiment(info.baseline_id, runs=False)
        console.print("[bold]diff against baseline[/]")
        console.print(Syntax(plain(diff_files(base.files, e.files, "baseline", f"#{e.id}") or
                                   "(no change)\n"), "diff", theme="ansi_dark"))
    if e.log_tail:
        console.print("[bold]log tail[/]")
        console.print(plain(e.log_tail[-args.tail:]), markup=False)
    return 0


def _summary(store: Store, cid: str | None, last: int, directory: Path) -> int:
    info = store.campaign(cid)
    status = status_now(directory, info.id, info.status)  # "running" with no live lock: stopped
    title = safe(f"campaign {info.id} ({info.task_name}, {info.researcher}, {status})")
    counts = store.count(info.id)
    rows = [_with_log(store, e) for e in store.experiments(info.id, last=last)]
    if console.width < NARROW_COLUMNS:
        _narrow(title, rows)
    else:
        t = Table(title=title)
        for col in ("#", "vs", "state", "decision", "objective", "speedup", "took"):
            t.add_column(col, no_wrap=True)
        t.add_column("changes / reason", ratio=1, min_width=30)
        for e in rows:
            t.add_row(str(e.id), _vs(e), e.state.value, e.decision.value if e.decision else "-",
                      f"{e.objective:.4g}" if e.objective is not None else "-", _speedup(e),
                      fmt_seconds(_took(e)), safe(_what(e)))
        console.print(t)
    total = sum(counts.values())
    if total > last:
        console.print(f"(the last {last} of {total} experiments; --last N shows more)")
    console.print("states: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    inc = f"#{info.incumbent_id}" if info.incumbent_id is not None else "none yet"
    base = f"#{info.baseline_id}" if info.baseline_id is not None else "not measured"
    console.print(f"incumbent: {inc}   baseline: {base}   "
                  f"hints: {'on' if info.config.get('hints', True) else 'off'}")
    if info.reason:
        console.print(f"stopped because: {safe(info.reason)}")
    elif status == "stopped":
        console.print("stopped: the process that ran it is gone (killed?); "
                      "`rubicon run --resume` continues it")
    console.print("vs: the incumbent each experiment was measured against; speedups are "
                  "chained through paired runs (rubicon show N names the method)", style="dim")
    _lines(store, info.id)
    return 0


def _with_log(store: Store, e: Experiment) -> Experiment:
    """A crashed experiment with its log tail (light records have none): its crash site."""
    crashed = e.state in (State.CRASHED, State.TIMED_OUT) and e.seq > 0
    return store.experiment(e.id, runs=False) if crashed else e


def _vs(e: Experiment) -> str:
    vs = compared_with(e)
    return "-" if e.seq == 0 or vs is None else str(vs)


def _speedup(e: Experiment) -> str:
    if not e.speedup:
        return "-"
    return f"{e.speedup:.2f}x" + ("?" if looks_faster_unconfirmed(e) else "")


def _took(e: Experiment) -> float | None:
    return (e.finished_at - e.created_at) if e.finished_at else None


def _what(e: Experiment) -> str:
    what = changes(e, limit=6)
    return (f"{what} | " if what else "") + explain(e)


def _narrow(title: str, rows: list[Experiment]) -> None:
    """The campaign table for terminals under NARROW_COLUMNS: one block per experiment, its
    changes and reason wrapped below at full width."""
    console.print(f"[bold]{title}[/]")
    for e in rows:
        obj = f"{e.objective:.4g}" if e.objective is not None else "-"
        head = Text(f"#{e.id:<4} ", style="bold")
        head.append(f"{e.state.value} {e.decision.value if e.decision else '-'}  obj {obj}  "
                    f"speedup {_speedup(e)}  took {fmt_seconds(_took(e))}  vs {_vs(e)}")
        console.print(head)
        text = textwrap.fill(plain(_what(e)), width=max(40, console.width - 1), initial_indent=" " * 6,
                             subsequent_indent=" " * 6, break_long_words=False,
                             break_on_hyphens=False)
        console.print(Text(text, style="dim"), soft_wrap=True)  # wrapped at words, never cut


def _lines(store: Store, cid: str) -> None:
    """Researchers (and their lines of work) side by side, when there are several."""
    from rubicon.manager import line_stats

    stats = line_stats(store, cid)
    if len(stats) < 2:
        return
    t = Table(title="researchers")
    for col in ("researcher", "line", "experiments", "kept", "best speedup", "states"):
        t.add_column(col)
    for s in stats:
        best = f"{s.best_speedup:.2f}x (#{s.best_id})" if s.best_speedup else "-"
        t.add_row(safe(s.researcher), "-" if s.line is None else str(s.line), str(s.experiments),
                  str(s.kept), best + (" incumbent" if s.incumbent else ""),
                  ", ".join(f"{n} {k}" for k, n in sorted(s.states.items())))
    console.print(t)


def _export(args: argparse.Namespace) -> int:
    from rubicon import export_experiment

    store = open_store(args.dir, read_only=True)
    dest = export_experiment(store, args.experiment, Path(args.dest))
    console.print(f"experiment #{args.experiment} written to {dest}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("show", help="one experiment (diffs, metrics, verdict, log) or a campaign")
    p.add_argument("experiment", nargs="?", type=int, default=None,
                   help="experiment id; omit for a summary of the latest campaign")
    p.add_argument("--campaign", default=None, help="campaign id for the summary (default: latest)")
    p.add_argument("--tail", type=int, default=2000, help="characters of log tail to print")
    p.add_argument("--last", type=int, default=50, help="rows of the campaign summary")
    add_dir_flag(p)
    p.set_defaults(func=_show)
    p = sub.add_parser("export", help="write an experiment's workspace as files")
    p.add_argument("experiment", type=int)
    p.add_argument("dest", help="new or empty directory")
    add_dir_flag(p)
    p.set_defaults(func=_export)
