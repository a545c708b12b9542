"""`rubicon run [TASK]`: the main job, a research campaign with live progress; resumable."""

from __future__ import annotations

import argparse
import os
from typing import Any

from rubicon.campaign import Campaign, CampaignConfig
from rubicon.cli._common import add_dir_flag, console, duration, fmt_seconds, key_values
from rubicon.manager import researcher_specs
from rubicon.measure.protocol import ProtocolConfig
from rubicon.types import State


def _run(args: argparse.Namespace) -> int:
    from rubicon.cli._progress import Progress

    proto = ProtocolConfig(max_pairs=args.max_pairs, max_foreign_load=args.max_foreign_load)
    names = _names(args.researcher)
    if args.resume is not None:
        cid = None if args.resume == "latest" else args.resume
        cfg = _resume_config(args, cid)
        c = Campaign.open(args.dir, cid, cfg=cfg)
        console.print(f"resuming campaign [bold]{c.info.id}[/] in {c.store.path}")
    else:
        rargs = key_values(args.researcher_arg)
        specs = researcher_specs(names, rargs) if len(names) > 1 else []
        cfg = CampaignConfig(max_experiments=args.max_experiments, budget_seconds=args.budget,
                             seed=args.seed, baseline_runs=args.baseline_runs, protocol=proto,
                             workers=args.workers or 1, executor=args.executor or "local",
                             address=args.address, researchers=specs, lines=args.lines)
        c = Campaign.create(args.task, names[0], {} if specs else rargs, directory=args.dir,
                            cfg=cfg)
        console.print(
            f"campaign [bold]{c.info.id}[/]: task {c.task.name}, researcher {c.info.researcher}"
            + (f" x {cfg.lines} lines" if cfg.lines > 1 else "")
            + f", {cfg.workers} worker(s) on {cfg.executor}, "
            f"budget {fmt_seconds(args.budget) if args.budget else 'none'}, store {c.store.path}"
        )
    if c.cfg.workers > 1 and c.cfg.executor == "local" and len(os.sched_getaffinity(0)) <= 2:
        console.print("[yellow]note:[/] with 2 cores or fewer, parallel workers overlap little "
                      "and slow timed runs (docs/BENCHMARKS.md, \"Workers and Ray\"); "
                      "--workers 1 measures best here")
    with Progress(c, c.cfg.budget_seconds):
        try:
            best = c.run()
        except KeyboardInterrupt:
            console.print(f"interrupted: continue with `rubicon run --resume {c.info.id}`")
            return 130
    counts = c.store.count(c.info.id)
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    console.print(f"\n[bold]finished[/] {c.info.id}: {summary}")
    if best.id == c.info.baseline_id:
        console.print("no candidate beat the baseline with confidence")
    else:
        sp = f"{best.speedup:.2f}x" if best.speedup else "-"
        console.print(
            f"best: experiment #{best.id}, objective {best.objective:.4g}, "
            f"[bold green]{sp}[/] vs baseline ({best.reason})"
        )
        console.print(f"see it: rubicon show {best.id} --dir {args.dir}")
    return 0 if best.state == State.OK else 1


def _names(value: list[str] | str | None) -> list[str]:
    if value is None:
        return ["search"]
    return [value] if isinstance(value, str) else list(value)


def _resume_config(args: argparse.Namespace, cid: str | None) -> CampaignConfig:
    """The recorded config, with this invocation's budgets and executor flags."""
    from rubicon.store import Store

    cfg = CampaignConfig.from_dict(Store(args.dir, create=False).campaign(cid).config)
    cfg.budget_seconds = args.budget
    if args.max_experiments is not None:
        cfg.max_experiments = args.max_experiments
    if args.workers is not None:
        cfg.workers = args.workers
    if args.executor is not None:
        cfg.executor = args.executor
    if args.address is not None:
        cfg.address = args.address
    return cfg


class _AppendOrReplace(argparse.Action):
    """Like action="append", but the first flag replaces the default (e.g. from the env)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        cur = getattr(namespace, self.dest, None)
        items = [] if cur is None or cur is self.default or isinstance(cur, str) else list(cur)
        setattr(namespace, self.dest, [*items, values])


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("run", help="run a research campaign on a task (default: lm-speedrun)")
    p.add_argument("task", nargs="?", default=None,
                   help="built-in task name or task directory (default: lm-speedrun)")
    p.add_argument("--researcher", action=_AppendOrReplace, default=None,
                   help="who proposes (rubicon researchers); repeat it to run several "
                        "researchers as lines of work in one campaign (default: search)")
    p.add_argument("-R", "--researcher-arg", action="append", metavar="KEY=VALUE",
                   help="argument for the researcher, repeatable; NAME.KEY=VALUE targets one "
                        "of several researchers")
    p.add_argument("--lines", type=int, default=1,
                   help="lines of work per researcher, each proposing from its own incumbent")
    p.add_argument("--workers", type=int, default=None,
                   help="experiments in flight at once (default 1); timed runs never share "
                        "cores: they go through a timing lane")
    p.add_argument("--executor", choices=["local", "ray"], default=None,
                   help="where trials run: local sandboxes (default) or Ray tasks")
    p.add_argument("--address", default=None,
                   help="Ray cluster address for --executor ray (default: a local Ray)")
    p.add_argument("--budget", type=duration, default=duration("30m"),
                   help="wall-time budget, e.g. 90s, 20m, 2h (default 30m)")
    p.add_argument("--max-experiments", type=int, default=None,
                   help="stop after this many experiments (baseline not counted)")
    p.add_argument("--resume", nargs="?", const="latest", default=None, metavar="CAMPAIGN",
                   help="continue a campaign (default: the latest in --dir)")
    p.add_argument("--seed", type=int, default=0, help="researcher seed")
    p.add_argument("--baseline-runs", type=int, default=2,
                   help="timed runs of the baseline before the first candidate (every A/B pair "
                        "against it runs it again)")
    p.add_argument("--max-pairs", type=int, default=6, help="most A/B pairs per candidate")
    p.add_argument("--max-foreign-load", type=float, default=0.5,
                   help="re-run a timed run if other processes used more cores than this")
    add_dir_flag(p)
    p.set_defaults(func=_run)
