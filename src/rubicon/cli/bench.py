"""`rubicon bench`: researchers x tasks x attempts, each attempt a resumable campaign; a live
table while it runs; normalized scores with intervals, runs.jsonl for `rubicon horizon`."""

from __future__ import annotations

import argparse
import time
from typing import Any

from rich.live import Live
from rich.table import Table

from rubicon.bench import Attempt, Bench, BenchError, Cell, summarize
from rubicon.bench.summary import fmt_score
from rubicon.cli._common import console, fmt_seconds, setting
from rubicon.settings import Resolved

DEFAULT_DIR = "rubicon-bench"
# settings that define what a bench measures: fixed when it is planned
PLAN_SETTINGS = ("budget", "max_experiments", "baseline_runs", "seed", "max_pairs",
                 "max_foreign_load")
EXECUTOR_SETTINGS = ("workers", "executor", "address")


class Display:
    """The live table (a terminal) or one plain line per event (a pipe or a file)."""

    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self.attempts: dict[str, Attempt] = {a.key: a for a in bench.attempts()}
        self.now: dict[str, str] = {}  # researcher/task -> what its running attempt does
        self.started: dict[str, float] = {}
        self.live: Live | None = None
        if console.is_terminal:
            self.live = Live(self._table(), console=console, refresh_per_second=2,
                             get_renderable=self._table)

    def __enter__(self) -> Display:
        if self.live is not None:
            self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)

    def event(self, kind: str, data: dict[str, Any]) -> None:
        att: Attempt | None = data.get("attempt")
        if att is None:
            return
        self.attempts[att.key] = att.model_copy(deep=True)
        cell = f"{att.researcher}/{att.task}"
        if kind == "attempt-start":
            self.started[att.key] = time.monotonic()
            self.now[cell] = f"attempt {att.index}: starting"
            self._plain(f"attempt {att.key}: started"
                        + (f" (continuing, {fmt_seconds(att.wall_seconds)} done)"
                           if len(att.segments) > 1 else ""))
        elif kind == "experiment":
            e = data["experiment"]
            self.now[cell] = (f"attempt {att.index}: {data['done']} experiments, best score "
                              f"{data['best']:.2f}")
            if self.live is None:
                sp = f"{e.speedup:.2f}x" if e.speedup else "-"
                dec = e.decision.value if e.decision else "-"
                self._plain(f"  {att.key} #{e.id} {e.state.value} {dec} speedup {sp}")
        elif kind == "attempt-end":
            self.now.pop(cell, None)
            if att.status == "failed":
                self._plain(f"attempt {att.key}: [red]failed[/] ({att.reason[:200]})", True)
            else:
                res = att.result
                reached = sum(1 for v in (res.milestones.values() if res else []) if v)
                levels = len(res.milestones) if res else 0
                sp = f", {res.speedup:.2f}x" if res and res.speedup else ""
                self._plain(f"attempt {att.key}: finished, score {att.score:.3f}{sp}, "
                            f"levels {reached}/{levels}, {fmt_seconds(att.wall_seconds)}", True)

    def _plain(self, text: str, always: bool = False) -> None:
        if self.live is None or always:
            console.print(text, soft_wrap=True)

    def _table(self) -> Table:
        cells = summarize(self.bench.plan, list(self.attempts.values()))
        t = Table(title=f"bench {self.bench.plan.id} (hints "
                        f"{'on' if self.bench.plan.hints else 'off'})", title_justify="left")
        for col in ("researcher", "task", "done", "failed", "score (95% CI)", "best", "now"):
            t.add_column(col)
        for c in cells:
            t.add_row(c.researcher, c.task, f"{c.done}/{c.planned}", str(c.failed),
                      fmt_score(c), "-" if c.best is None else f"{c.best:.2f}",
                      self.now.get(f"{c.researcher}/{c.task}", ""))
        return t


def summary_lines(bench: Bench, cells: list[Cell]) -> list[str]:
    """The summary as plain lines (for a pipe or a file, where a wide table wraps badly)."""
    plan = bench.plan
    budget = plan.config.get("budget_seconds")
    out = [f"bench {plan.id}: normalized score (0 = baseline, 1 = reference), hints "
           f"{'on' if plan.hints else 'off'}, budget {fmt_seconds(budget) if budget else 'none'} "
           "per attempt"]
    for c in cells:
        levels = ", ".join(f"{n} {k}/{c.done}" for n, k in c.levels.items()) or "-"
        sp = f" ({c.best_speedup:.2f}x)" if c.best_speedup else ""
        cost = (f", {c.tokens:,.0f} tokens, ${c.cost_usd:.4f}" if c.tokens or c.cost_usd else "")
        out.append(
            f"{c.researcher} on {c.task}: {c.done}/{c.planned} attempts ({c.failed} failed), "
            f"mean {fmt_score(c)}" + ("" if c.median is None else
                                      f", median {c.median:.2f}, best {c.best:.2f}{sp}")
            + f"; levels reached: {levels}; per attempt {fmt_seconds(c.wall_seconds)}{cost}")
    return out


def summary_table(bench: Bench, cells: list[Cell]) -> Table:
    plan = bench.plan
    budget = plan.config.get("budget_seconds")
    t = Table(title=f"bench {plan.id}: normalized score (0 = baseline, 1 = reference), "
                    f"hints {'on' if plan.hints else 'off'}, budget "
                    f"{fmt_seconds(budget) if budget else 'none'} per attempt",
              title_justify="left")
    for col in ("researcher", "task", "attempts", "failed", "mean (95% CI)", "median", "best",
                "levels reached", "wall/attempt", "tokens/attempt", "$/attempt"):
        t.add_column(col)
    for c in cells:
        levels = ", ".join(f"{n} {k}/{c.done}" for n, k in c.levels.items()) or "-"
        best = "-" if c.best is None else f"{c.best:.2f}" + (
            f" ({c.best_speedup:.2f}x)" if c.best_speedup else "")
        t.add_row(c.researcher, c.task, f"{c.done}/{c.planned}", str(c.failed), fmt_score(c),
                  "-" if c.median is None else f"{c.median:.2f}", best, levels,
                  fmt_seconds(c.wall_seconds), "-" if not c.tokens else f"{c.tokens:,.0f}",
                  "-" if not c.cost_usd else f"${c.cost_usd:.4f}")
    return t


def _given(res: Resolved, key: str) -> bool:
    return res.origin.get(key, "default").startswith("flag")


def _bench(args: argparse.Namespace) -> int:
    res: Resolved = args.settings
    tasks = [t.strip() for t in (args.tasks or "").split(",") if t.strip()]
    if args.resume:
        given = [f for f, on in (("--researcher", bool(args.researcher)), ("--tasks", bool(tasks)),
                                 ("--suite", args.suite is not None),
                                 ("--attempts", args.attempts is not None),
                                 ("--hints", args.hints)) if on]
        given += [res_flag for key, res_flag in ((k, "--" + k.replace("_", "-"))
                                                 for k in PLAN_SETTINGS) if _given(res, key)]
        if given:
            raise BenchError(f"--resume continues the recorded plan; {', '.join(given)} cannot "
                             "change it (start a new bench directory instead)")
        bench = Bench.open(args.bench_dir)
        console.print(f"resuming bench [bold]{bench.plan.id}[/] in {bench.dir}", soft_wrap=True)
    else:
        cfg = res.campaign_config()
        bench = Bench.create(args.bench_dir, list(args.researcher or []), tasks, args.suite,
                             1 if args.attempts is None else args.attempts, cfg, args.hints)
        plan = bench.plan
        console.print(
            f"bench [bold]{plan.id}[/]: {len(plan.researchers)} researcher(s) x "
            f"{len(plan.tasks)} task(s) x {plan.attempts} attempt(s), budget "
            f"{fmt_seconds(cfg.budget_seconds) if cfg.budget_seconds else 'none'} per attempt, "
            f"hints {'on' if plan.hints else 'off'}, in {bench.dir}", soft_wrap=True)
    overrides = {k: getattr(res.settings, k) for k in EXECUTOR_SETTINGS
                 if not args.resume or res.explicit(k)}
    with Display(bench) as display:
        try:
            attempts = bench.run(overrides, display.event)
        except KeyboardInterrupt:
            console.print(f"interrupted: continue with `rubicon bench --resume --dir {bench.dir}`",
                          soft_wrap=True)
            return 130
    cells = summarize(bench.plan, attempts)
    if console.is_terminal:
        console.print(summary_table(bench, cells))
    else:
        for line in summary_lines(bench, cells):
            console.print(line, markup=False, soft_wrap=True)
    failed = [a for a in attempts if a.status == "failed"]
    if failed:
        console.print(f"{len(failed)} failed attempt(s) score 0 (reasons in "
                      f"{bench.dir}/summary.json; tracebacks in each attempt's error.txt)",
                      soft_wrap=True)
    from rubicon.bench.records import INSPECT_DIR, INSPECT_INSTALL, inspect_available

    inspect = (f"Inspect logs in {bench.dir / INSPECT_DIR}" if inspect_available()
               else f"Inspect logs need inspect_ai: {INSPECT_INSTALL}")
    console.print(f"records: {bench.dir / 'runs.jsonl'} (METR runs.jsonl fields), "
                  f"{bench.dir / 'summary.json'}; {inspect}", soft_wrap=True)
    console.print(f"next: `rubicon horizon {bench.dir}` (time horizons), "
                  f"`rubicon report {bench.dir}` (HTML report)", soft_wrap=True)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "bench", help="measure researchers: researchers x tasks x attempts, normalized scores",
        description="Run every researcher on every task, --attempts times; each attempt is a "
                    "campaign in its own directory under --dir. Hints (the tasks' playbooks and "
                    "start points) are off unless --hints. docs/BENCH.md explains the numbers.",
        epilog="Campaign settings (--budget, --workers, ...) also come from RUBICON_<KEY> or "
               "rubicon.toml, as for `rubicon run`.")
    p.add_argument("--researcher", action="append", metavar="NAME[:KEY=VALUE,...]",
                   help="a researcher to measure (repeatable), with its arguments, e.g. "
                        "search:sampler=random")
    p.add_argument("--suite", help="a named suite of built-in tasks (smoke, core, rd)")
    p.add_argument("--tasks", metavar="T1,T2", help="tasks by name or task directory")
    p.add_argument("--attempts", type=int, help="attempts per researcher and task (default 1)")
    p.add_argument("--hints", action="store_true",
                   help="show the tasks' hints (playbook patches, start points); off by default: "
                        "they are the task author's answer key")
    p.add_argument("--dir", dest="bench_dir", default=DEFAULT_DIR,
                   help=f"the bench directory (default ./{DEFAULT_DIR})")
    p.add_argument("--resume", action="store_true",
                   help="continue the bench in --dir: unfinished attempts continue, done ones stay")
    setting(p, "--budget", help="wall-time budget of each attempt, e.g. 90s, 20m, 2h (default 30m)")
    setting(p, "--max-experiments", help="stop each attempt after this many experiments")
    setting(p, "--seed", help="seed of the first attempt; attempt k uses seed + k (default 0)")
    setting(p, "--baseline-runs", help="timed runs of the baseline in each attempt (default 2)")
    setting(p, "--max-pairs", help="most A/B pairs per candidate (default 6)")
    setting(p, "--max-foreign-load", help="re-run a timed run if other processes used more cores "
                                          "than this (default 0.5)")
    setting(p, "--workers", help="experiments in flight at once in an attempt (default 1)")
    setting(p, "--executor", choices=["local", "ray"], help="where trials run (default local)")
    setting(p, "--address", help="Ray cluster address for --executor ray")
    p.set_defaults(func=_bench)
