"""`rubicon review`: a person's verdict on experiments held for review.

A candidate whose editable files look like embedded data (weights trained elsewhere, encoded
blobs, numeric tables: rubicon.measure.embedded) is measured as usual but never promoted until
a person clears its code. `rubicon review` lists the flagged experiments;
`rubicon review N --clear --by NAME --reason TEXT` records a clearance (append-only, with who
and why) and queues the same code again, so the next `rubicon run --resume` measures it
against the incumbent of that time; `--reject` records a rejection.
"""

from __future__ import annotations

import argparse
import time

from rich.table import Table

from rubicon import Campaign, Edit, Proposal, RubiconError
from rubicon.cli._common import add_dir_flag, console
from rubicon.cli._safe import safe
from rubicon.types import Review, ReviewVerdict, latest_verdict

REVIEW = "review"  # researcher name of re-measures queued by a clearance


def _list(c: Campaign) -> int:
    flagged = [e for e in c.store.experiments(c.info.id) if e.flags]
    if not flagged:
        console.print(f"no experiment of campaign {safe(c.info.id)} was flagged for embedded data")
        return 0
    t = Table(title=safe(f"flagged experiments of {c.info.id}"))
    for col in ("#", "state", "held", "review", "findings"):
        t.add_column(col)
    for e in flagged:
        verdict = latest_verdict(c.store.reviews(c.info.id, c.store.code_hash_of(e.id)))
        t.add_row(str(e.id), e.state.value, "yes" if e.meta.get("held_for_review") else "no",
                  verdict.value if verdict else "pending", safe("; ".join(e.flags)))
    console.print(t)
    console.print("decide: rubicon review N --clear|--reject --by NAME --reason TEXT")
    return 0


def _decide(c: Campaign, args: argparse.Namespace) -> int:
    if not args.by or not args.reason:
        raise RubiconError("a review needs --by NAME and --reason TEXT (both are recorded)")
    e = c.store.experiment(args.experiment, runs=False)
    if e.campaign_id != c.info.id:
        c = Campaign.open(args.dir, e.campaign_id)
    if not e.flags:
        raise RubiconError(f"experiment #{e.id} was not flagged; nothing to review")
    verdict = ReviewVerdict.CLEARED if args.clear else ReviewVerdict.REJECTED
    c.store.add_review(Review(campaign_id=c.info.id, experiment_id=e.id,
                              code_hash=c.store.code_hash_of(e.id), verdict=verdict,
                              reviewer=args.by, reason=args.reason, at=time.time()))
    console.print(f"experiment #{e.id}: {verdict.value} by {safe(args.by)} ({safe(args.reason)})")
    if verdict == ReviewVerdict.CLEARED and e.meta.get("held_for_review"):
        again = c.submit(Proposal(
            edits=[Edit(file=f, search="", replace=text) for f, text in sorted(e.files.items())],
            rationale=f"re-measure of #{e.id}, cleared by {args.by}: {args.reason}",
            researcher=REVIEW, meta={"remeasure_of": e.id}))
        console.print(f"queued its code as experiment #{again.id}: `rubicon run --resume "
                      f"{c.info.id} --dir {args.dir}` measures it against today's incumbent")
    return 0


def _review(args: argparse.Namespace) -> int:
    c = Campaign.open(args.dir, args.campaign)
    if args.experiment is None:
        if args.clear or args.reject:
            raise RubiconError("--clear/--reject need an experiment number")
        return _list(c)
    if args.clear == args.reject:
        raise RubiconError("say --clear or --reject (exactly one)")
    return _decide(c, args)


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("review", help="list experiments held for review (embedded data); "
                                      "clear or reject one")
    p.add_argument("experiment", nargs="?", type=int, default=None, help="experiment number")
    p.add_argument("--clear", action="store_true", help="the code is legitimate: measure it again")
    p.add_argument("--reject", action="store_true", help="the code brings knowledge from outside")
    p.add_argument("--by", default="", help="who decides (recorded)")
    p.add_argument("--reason", default="", help="why (recorded)")
    p.add_argument("--campaign", default=None, help="campaign id (default: the latest)")
    add_dir_flag(p)
    p.set_defaults(func=_review)
