"""`rubicon report [CAMPAIGN]`: a self-contained HTML report with PNG plots."""

from __future__ import annotations

import argparse
from pathlib import Path

from rubicon.cli._common import add_dir_flag, console


def _report(args: argparse.Namespace) -> int:
    from rubicon.bench import is_bench_dir

    bench_dir = args.campaign if args.campaign is not None else args.dir
    if is_bench_dir(bench_dir):  # `rubicon report BENCH_DIR` (or --dir BENCH_DIR)
        from rubicon.bench.report import write_bench_report

        path = write_bench_report(bench_dir, args.out or Path(bench_dir) / "report" / "index.html")
        console.print(f"bench report written to {path} (open it in a browser; PNGs are next to it)")
        return 0
    from rubicon.report import write_report

    path = write_report(args.dir, args.campaign, args.out)
    console.print(f"report written to {path} (open it in a browser; PNGs are next to it)")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("report", help="write a self-contained HTML report of a campaign or a bench "
                                     "(rubicon report BENCH_DIR)")
    p.add_argument("campaign", nargs="?", default=None,
                   help="campaign id or unique prefix (default: the latest in --dir), or a "
                        "bench directory")
    p.add_argument("--out", default=None,
                   help="HTML file to write; plots go next to it as PNGs (default: "
                        "report/index.html inside the campaign directory --dir, or inside the "
                        "bench directory)")
    add_dir_flag(p)
    p.set_defaults(func=_report)
