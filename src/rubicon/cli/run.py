"""`rubicon run [TASK]`: the main job, a research campaign with live progress; resumable."""

from __future__ import annotations

import argparse

from rubicon.campaign import Campaign, CampaignConfig
from rubicon.cli._common import add_dir_flag, console, duration, fmt_seconds, key_values
from rubicon.measure.protocol import ProtocolConfig
from rubicon.types import State


def _run(args: argparse.Namespace) -> int:
    from rubicon.cli._progress import Progress

    proto = ProtocolConfig(max_pairs=args.max_pairs, max_foreign_load=args.max_foreign_load)
    if args.resume is not None:
        cid = None if args.resume == "latest" else args.resume
        c = Campaign.open(args.dir, cid)
        c.cfg.budget_seconds = args.budget
        if args.max_experiments is not None:
            c.cfg.max_experiments = args.max_experiments
        console.print(f"resuming campaign [bold]{c.info.id}[/] in {c.store.path}")
    else:
        cfg = CampaignConfig(max_experiments=args.max_experiments, budget_seconds=args.budget,
                             seed=args.seed, baseline_runs=args.baseline_runs, protocol=proto)
        c = Campaign.create(args.task, args.researcher, key_values(args.researcher_arg),
                            directory=args.dir, cfg=cfg)
        console.print(
            f"campaign [bold]{c.info.id}[/]: task {c.task.name}, researcher {args.researcher}, "
            f"budget {fmt_seconds(args.budget) if args.budget else 'none'}, store {c.store.path}"
        )
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


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("run", help="run a research campaign on a task (default: lm-speedrun)")
    p.add_argument("task", nargs="?", default=None,
                   help="built-in task name or task directory (default: lm-speedrun)")
    p.add_argument("--researcher", default="search", help="who proposes (rubicon researchers)")
    p.add_argument("-R", "--researcher-arg", action="append", metavar="KEY=VALUE",
                   help="argument for the researcher, repeatable")
    p.add_argument("--budget", type=duration, default=duration("30m"),
                   help="wall-time budget, e.g. 90s, 20m, 2h (default 30m)")
    p.add_argument("--max-experiments", type=int, default=None,
                   help="stop after this many experiments (baseline not counted)")
    p.add_argument("--resume", nargs="?", const="latest", default=None, metavar="CAMPAIGN",
                   help="continue a campaign (default: the latest in --dir)")
    p.add_argument("--seed", type=int, default=0, help="researcher seed")
    p.add_argument("--baseline-runs", type=int, default=3, help="timed runs of the baseline")
    p.add_argument("--max-pairs", type=int, default=6, help="most A/B pairs per candidate")
    p.add_argument("--max-foreign-load", type=float, default=0.5,
                   help="re-run a timed run if other processes used more cores than this")
    add_dir_flag(p)
    p.set_defaults(func=_run)
