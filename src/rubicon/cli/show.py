"""`rubicon show [EXP]` and `rubicon export EXP DIR`: one experiment, or a campaign summary."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.syntax import Syntax
from rich.table import Table

from rubicon.cli._common import add_dir_flag, console, fmt_seconds
from rubicon.store import Store
from rubicon.workspace import diff_files


def _show(args: argparse.Namespace) -> int:
    store = Store(args.dir, read_only=True)
    if args.experiment is None:
        return _summary(store, args.campaign, args.last)
    e = store.experiment(args.experiment)
    info = store.campaign(e.campaign_id)
    decision = e.decision.value if e.decision else "-"
    console.print(f"[bold]experiment #{e.id}[/] (campaign {e.campaign_id}, seq {e.seq}, "
                  f"parent {e.parent_id if e.parent_id is not None else '-'}, researcher {e.researcher})")
    console.print(f"verdict: [bold]{e.state.value}[/], {decision}: {e.reason}")
    if e.objective is not None:
        sp = f", speedup {e.speedup:.3f}x vs baseline" if e.speedup else ""
        ci = (f", ratio CI [{e.ratio_low:.3f}, {e.ratio_high:.3f}]"
              if e.ratio_low is not None and e.ratio_high is not None else "")
        console.print(f"objective: {e.objective:.6g}{sp}{ci}")
    if e.rationale:
        console.print(f"rationale: {e.rationale}")
    if e.metrics:
        console.print("metrics: " + json.dumps(e.metrics, sort_keys=True, default=str))
    if e.meta:
        console.print("meta: " + json.dumps(e.meta, sort_keys=True, default=str))
    if e.runs:
        t = Table(title="timed runs")
        for col in ("role", "pair", "wall s", "cpu s", "peak MiB", "foreign load", "scored", "cores"):
            t.add_column(col)
        for r in e.runs:
            t.add_row(r.role, str(r.pair), f"{r.wall_seconds:.4f}", f"{r.cpu_seconds:.3f}",
                      f"{r.peak_memory_mb:.0f}", f"{r.foreign_load:.2f}", "yes" if r.scored else "no",
                      ",".join(map(str, r.cores)))
        console.print(t)
    console.print("[bold]diff against parent[/]")
    console.print(Syntax(e.diff or "(no change)\n", "diff", theme="ansi_dark"))
    if info.baseline_id is not None and e.parent_id != info.baseline_id and e.id != info.baseline_id:
        base = store.experiment(info.baseline_id, runs=False)
        console.print("[bold]diff against baseline[/]")
        console.print(Syntax(diff_files(base.files, e.files, "baseline", f"#{e.id}") or
                             "(no change)\n", "diff", theme="ansi_dark"))
    if e.log_tail:
        console.print("[bold]log tail[/]")
        console.print(e.log_tail[-args.tail:], markup=False)
    return 0


def _summary(store: Store, cid: str | None, last: int) -> int:
    info = store.campaign(cid)
    t = Table(title=f"campaign {info.id} ({info.task_name}, {info.researcher}, {info.status})")
    cols = ("#", "seq", "parent", "state", "decision", "objective", "speedup", "took",
            "rationale / reason")
    for col in cols:
        t.add_column(col)
    counts = store.count(info.id)
    for e in store.experiments(info.id, last=last):
        took = (e.finished_at - e.created_at) if e.finished_at else None
        t.add_row(str(e.id), str(e.seq), str(e.parent_id or "-"), e.state.value,
                  e.decision.value if e.decision else "-",
                  f"{e.objective:.4g}" if e.objective is not None else "-",
                  f"{e.speedup:.2f}x" if e.speedup else "-", fmt_seconds(took),
                  (e.rationale.splitlines()[0][:50] if e.rationale else "") + " | " + e.reason[:60])
    console.print(t)
    total = sum(counts.values())
    if total > last:
        console.print(f"(the last {last} of {total} experiments; --last N shows more)")
    console.print("states: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    console.print(f"incumbent: #{info.incumbent_id}   baseline: #{info.baseline_id}")
    _lines(store, info.id)
    return 0


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
        t.add_row(s.researcher, "-" if s.line is None else str(s.line), str(s.experiments),
                  str(s.kept), best + (" incumbent" if s.incumbent else ""),
                  ", ".join(f"{n} {k}" for k, n in sorted(s.states.items())))
    console.print(t)


def _export(args: argparse.Namespace) -> int:
    from rubicon.campaign import export_experiment

    store = Store(args.dir, read_only=True)
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
