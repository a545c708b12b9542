"""`rubicon run [TASK]`: the main job, a research campaign with live progress; resumable."""

from __future__ import annotations

import argparse
import os
import shlex
import signal
from typing import Any

from rubicon import Campaign, CampaignConfig, ResearcherSpec, State
from rubicon.cli._common import add_dir_flag, console, fmt_seconds, setting, use_plain_output
from rubicon.cli._safe import safe
from rubicon.manager import researcher_specs
from rubicon.settings import DEFAULT_DIR, Resolved

RESUME_OVERRIDES = ("max_experiments", "workers", "executor", "address")


def _run(args: argparse.Namespace) -> int:
    from rubicon.cli._progress import Progress, interactive

    plain = bool(args.plain) or not interactive()
    if plain:
        use_plain_output()
    res: Resolved = args.settings
    names: list[str] = args.researcher or ["search"]
    if args.resume is not None:
        cid = None if args.resume == "latest" else args.resume
        # the recorded config, with this invocation's budgets and executor settings
        overrides: dict[str, Any] = {"budget_seconds": res.settings.budget}
        overrides.update({k: getattr(res.settings, k) for k in RESUME_OVERRIDES
                          if res.explicit(k)})
        c = Campaign.open(args.dir, cid, overrides=overrides)
        spent = c.info.spent_seconds
        budget = c.cfg.budget_seconds
        left = "" if budget is None else (
            f"; budget {fmt_seconds(budget)}, {fmt_seconds(spent)} spent before, "
            f"{fmt_seconds(max(0.0, budget - spent))} left"
            + (" (give a larger --budget to go on)" if spent >= budget else ""))
        console.print(f"resuming campaign [bold]{c.info.id}[/] in {c.store.path}{left}")
    else:
        rargs: dict[str, Any] = args.researcher_args
        specs = researcher_specs(names, rargs) if len(names) > 1 else []
        cfg: CampaignConfig = res.campaign_config()
        cfg.researchers = [ResearcherSpec.model_validate(s) for s in specs]
        c = Campaign.create(args.task, names[0], {} if specs else rargs, directory=args.dir,
                            cfg=cfg)
        console.print(
            f"campaign [bold]{c.info.id}[/]: task {c.task.name}, researcher {c.info.researcher}"
            + (f" x {cfg.lines} lines" if cfg.lines > 1 else "")
            + f", hints {'on' if cfg.hints else 'off'}"
            + f", {cfg.workers} worker(s) on {cfg.executor}, "
            f"budget {fmt_seconds(cfg.budget_seconds) if cfg.budget_seconds else 'none'}, "
            f"store {c.store.path}"
        )
    if c.cfg.workers > 1 and c.cfg.executor == "local" and len(os.sched_getaffinity(0)) <= 2:
        console.print("[yellow]note:[/] with 2 cores or fewer, parallel workers overlap little "
                      "and slow timed runs (docs/BENCHMARKS.md, \"Workers and Ray\"); "
                      "--workers 1 measures best here")
    # SIGTERM (kill, a job scheduler) stops a campaign like Ctrl-C: recorded as interrupted
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    budget_left = (None if c.cfg.budget_seconds is None
                   else max(0.0, c.cfg.budget_seconds - c.info.spent_seconds))
    with Progress(c, budget_left, plain=plain):
        try:
            best = c.run()
        except KeyboardInterrupt:
            # one line, never wrapped: the command must work when copied from a narrow terminal
            console.print(f"interrupted: continue with `{resume_command(c.info.id, args.dir)}` "
                          "(finished runs are kept; the budget counts what was spent)",
                          soft_wrap=True, markup=False, highlight=False)
            return 130
    counts = c.store.count(c.info.id)
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    console.print(f"\n[bold]finished[/] {c.info.id}: {summary}")
    measured = sum(n for st, n in counts.items() if st != State.PENDING.value) - 1
    if best.id == c.info.baseline_id and measured <= 0:
        console.print("no candidate was measured to the end: the budget ended first, or the "
                      "researcher proposed nothing")
    elif best.id == c.info.baseline_id:
        console.print("no candidate beat the baseline with confidence")
    else:
        sp = f"{best.speedup:.2f}x" if best.speedup else "-"
        console.print(
            f"best: experiment #{best.id}, objective {best.objective:.4g}, "
            f"[bold green]{sp}[/] vs baseline ({safe(best.reason)})"
        )
        console.print(f"see it: rubicon show {best.id} --dir {args.dir}")
    return 0 if best.state == State.OK else 1


def resume_command(campaign_id: str, directory: str) -> str:
    """The command that continues a campaign, typed where it was started (as
    rubicon.campaign.scheduler.resume_command; the CLI reaches the campaign only through the
    facade)."""
    same = os.path.realpath(directory) == os.path.realpath(DEFAULT_DIR)
    return f"rubicon run --resume {campaign_id}" + ("" if same else f" --dir {shlex.quote(directory)}")


def add_campaign_settings(p: argparse.ArgumentParser) -> None:
    """The flags of every campaign settings key (`rubicon run` and `rubicon config`); each
    also comes from RUBICON_<KEY> or `KEY = ...` in rubicon.toml (docs/API.md, "Settings")."""
    setting(p, "task", nargs="?",
            help="built-in or installed task name, or a task directory (default: lm-speedrun)")
    setting(p, "--researcher", action="append",
            help="who proposes (rubicon researchers): a name or module:Class; repeat it to run "
                 "several researchers as lines of work in one campaign (default: search)")
    setting(p, "-R", "--researcher-arg", dest="researcher_args", action="append",
            metavar="KEY=VALUE",
            help="argument for the researcher, repeatable; NAME.KEY=VALUE targets one of "
                 "several researchers")
    setting(p, "--hints", action=argparse.BooleanOptionalAction,
            help="show researchers the task's hints: playbook patches and start points "
                 "(default on; --no-hints measures the researcher alone, as `rubicon bench` does)")
    setting(p, "--lines", help="lines of work per researcher, each proposing from its own "
                               "incumbent (default 1)")
    setting(p, "--workers", help="experiments in flight at once (default 1); timed runs never "
                                 "share cores: they go through a timing lane")
    setting(p, "--executor", choices=["local", "ray"],
            help="where trials run: local sandboxes (default) or Ray tasks")
    setting(p, "--address", help="Ray cluster address for --executor ray (default: a local Ray)")
    setting(p, "--budget", help="wall-time budget, e.g. 90s, 20m, 2h, none (default 30m)")
    setting(p, "--max-experiments", help="stop after this many experiments (baseline not counted)")
    setting(p, "--seed", help="researcher seed (default 0)")
    setting(p, "--baseline-runs", help="timed runs of the baseline before the first candidate "
                                       "(every A/B pair against it runs it again; default 2)")
    setting(p, "--max-pairs", help="most A/B pairs per candidate (default 6)")
    setting(p, "--max-foreign-load", help="re-run a timed run if other processes used more cores "
                                          "than this (default 0.5)")
    add_dir_flag(p)


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("run", help="run a research campaign on a task (default: lm-speedrun)",
                       epilog="Every option but --resume is also a setting: RUBICON_<OPTION> in "
                              "the environment or `option = ...` in rubicon.toml (flag > env > "
                              "file > default); `rubicon config` shows the effective values.")
    add_campaign_settings(p)
    p.add_argument("--resume", nargs="?", const="latest", default=None, metavar="CAMPAIGN",
                   help="continue a campaign (default: the latest in --dir)")
    p.add_argument("--plain", action="store_true",
                   help="plain line-based output, one line per event, no live panel (the default "
                        "when stdout is not a terminal)")
    p.set_defaults(func=_run)
