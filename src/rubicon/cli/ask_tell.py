"""`rubicon ask` / `rubicon tell`: any outside agent or person as the researcher.

ask  writes the incumbent's workspace to a directory and prints its path and the instructions;
tell measures what was left there, records it and prints the verdict.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from rubicon import Campaign, RubiconError, State
from rubicon.cli._common import add_dir_flag, console
from rubicon.cli._safe import plain, safe
from rubicon.store import open_store, store_path

EXTERNAL = Campaign.EXTERNAL


def _campaign(args: argparse.Namespace) -> Campaign:
    has_store = store_path(args.dir).exists()
    if has_store and (args.campaign or args.task is None):
        return Campaign.open(args.dir, args.campaign)
    if has_store and args.task is not None:
        store = open_store(args.dir)
        for info in reversed(store.campaigns()):
            if info.researcher == EXTERNAL and args.task in (info.task_name, info.task_dir):
                return Campaign.open(args.dir, info.id)
    return Campaign.create(args.task or "demo-inversions", EXTERNAL, directory=args.dir,
                           cfg=args.settings.campaign_config())


def _ask(args: argparse.Namespace) -> int:
    c = _campaign(args)
    if c.info.baseline_id is None:
        console.print(f"measuring the baseline of {c.task.name} first ...")
    dest = Path(args.workspace) if args.workspace else Path(tempfile.mkdtemp(prefix="rubicon-ask-"))
    exp = c.ask_workspace(dest)
    console.print(f"[bold]experiment #{exp.id}[/] (campaign {c.info.id}); parent #{exp.parent_id}")
    console.print(f"workspace: [bold]{safe(dest)}[/]")
    console.print(f"editable: {', '.join(c.task.spec.editable)}\n")
    console.print(plain(c.task.instructions), markup=False)
    console.print(f"\nwhen done: rubicon tell {exp.id} --dir {args.dir} --rationale '...'")
    return 0


def _tell(args: argparse.Namespace) -> int:
    c = Campaign.open(args.dir, args.campaign)
    if args.experiment is None:
        pending = [e for e in c.store.pending(c.info.id) if e.researcher == EXTERNAL]
        if not pending:
            raise RubiconError(f"no experiment waiting for `tell` in campaign {c.info.id}; "
                               "run `rubicon ask` first")
        exp = pending[-1]
    else:
        exp = c.store.experiment(args.experiment, runs=False)
        if exp.campaign_id != c.info.id:
            c = Campaign.open(args.dir, exp.campaign_id)
    ws = Path(args.workspace or exp.meta.get("workspace", ""))
    if not ws.is_dir():
        raise RubiconError(f"workspace {ws} not found; pass --workspace PATH")
    console.print(f"measuring experiment #{exp.id} from {safe(ws)} ...")
    done = c.tell_workspace(exp.id, ws, rationale=args.rationale)
    sp = f", speedup {done.speedup:.3f}x vs baseline" if done.speedup else ""
    color = "green" if done.state == State.OK else "red"
    console.print(f"[bold {color}]{done.state.value}[/], "
                  f"{done.decision.value if done.decision else '-'}: {safe(done.reason)}{sp}")
    return 0 if done.state == State.OK else 1


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("ask", help="write a candidate workspace for an outside agent to edit")
    p.add_argument("task", nargs="?", default=None,
                   help="task for a new external campaign (default: demo-inversions)")
    p.add_argument("--workspace", default=None, help="directory to write (default: a new temp dir)")
    p.add_argument("--campaign", default=None, help="campaign id (default: latest external one)")
    add_dir_flag(p)
    p.set_defaults(func=_ask)
    p = sub.add_parser("tell", help="measure and record what an outside agent left in a workspace")
    p.add_argument("experiment", nargs="?", type=int, default=None,
                   help="experiment id from `ask` (default: the latest waiting one)")
    p.add_argument("--workspace", default=None, help="workspace directory (default: from ask)")
    p.add_argument("--rationale", default="", help="what was changed and why")
    p.add_argument("--campaign", default=None, help="campaign id (default: latest)")
    add_dir_flag(p)
    p.set_defaults(func=_tell)
