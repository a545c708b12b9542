"""`rubicon report [CAMPAIGN]`: a self-contained HTML report with PNG plots."""

from __future__ import annotations

import argparse

from rubicon.cli._common import add_dir_flag, console


def _report(args: argparse.Namespace) -> int:
    from rubicon.report import write_report

    path = write_report(args.dir, args.campaign, args.out)
    console.print(f"report written to {path} (open it in a browser; PNGs are next to it)")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("report", help="write a self-contained HTML report of a campaign")
    p.add_argument("campaign", nargs="?", default=None,
                   help="campaign id or unique prefix (default: the latest in --dir)")
    p.add_argument("--out", default="rubicon-report/index.html",
                   help="HTML file to write; plots go next to it as PNGs "
                        "(default: rubicon-report/index.html)")
    add_dir_flag(p)
    p.set_defaults(func=_report)
