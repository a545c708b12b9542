"""`rubicon returns LINEAGE_DIR|CAMPAIGN_ID`: the returns meter (docs/LINEAGE.md).

Per generation of a lineage (or per promotion of a campaign): what was reached, the gain over
the parent, the cost of finding it; whether gains grow or shrink, with bootstrap intervals.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.table import Table

from rubicon.cli._common import add_dir_flag, console
from rubicon.cli._safe import safe
from rubicon.errors import ConfigError


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "returns",
        help="returns meter: do gains grow or shrink across generations / promotions?",
        description=(
            "Per generation of a lineage (LINEAGE_DIR holding audit.jsonl) or per promotion of "
            "a campaign (CAMPAIGN_ID in --dir, default its latest): capability, gain over the "
            "parent, cost; the ratio of successive gains and the slope of log gain with "
            "bootstrap intervals, a verdict, and the cumulative honeypot pass rate. "
            "See docs/LINEAGE.md."),
    )
    p.add_argument("target", nargs="?", metavar="LINEAGE_DIR|CAMPAIGN_ID",
                   help="a lineage directory (or its audit log), or a campaign id or prefix")
    add_dir_flag(p)
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--plot", default=None, metavar="OUT.png", help="write the chart as PNG")
    p.add_argument("--bootstrap", type=int, default=2000, help="bootstrap draws (default 2000)")
    p.add_argument("--ci", type=float, default=0.95, help="interval coverage (default 0.95)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the bootstrap")
    p.set_defaults(func=_run)


def _f(x: float | None, fmt: str = ".3g") -> str:
    return "-" if x is None else format(x, fmt)


def _run(args: argparse.Namespace) -> int:
    from rubicon.lineage.audit import AUDIT_FILE
    from rubicon.lineage.returns import campaign_returns, lineage_returns, load_generations

    if not 0 < args.ci < 1:
        raise ConfigError(f"--ci={args.ci}: allowed: a coverage strictly between 0 and 1")
    if args.bootstrap < 0:
        raise ConfigError(f"--bootstrap={args.bootstrap}: allowed: 0 (no intervals) or more")
    if args.plot is not None and Path(args.plot).suffix.lower() != ".png":
        raise ConfigError(f"--plot={args.plot}: allowed: a file name ending in .png")
    target = args.target if isinstance(args.target, str) else None
    opts = {"bootstrap": args.bootstrap, "ci": args.ci, "seed": args.seed}
    t = Path(target) if target else None
    if t is not None and ((t / AUDIT_FILE).is_file() or (t.is_file() and t.suffix == ".jsonl")):
        where, gens = load_generations(t)
        if not gens:
            raise ConfigError(f"{where}: the audit log holds no generation record yet")
        r = lineage_returns(gens, **opts)
    elif t is not None and t.is_dir():
        r = campaign_returns(t, None, **opts)
    else:
        r = campaign_returns(args.dir, target, **opts)
    if args.plot:
        out = Path(args.plot)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(r.chart())
    if args.json:
        print(json.dumps(r.to_json(), indent=2, default=str))
        return 0
    lineage = r.kind == "lineage"
    tab = Table(title=f"returns of {r.kind} {safe(r.name)} ({r.value_label}; gain over the parent)")
    for col in ("gen" if lineage else "step", "status", r.value_label, "gain", "hours",
                "runs" if lineage else "exps", "tokens", "gain/h",
                *(("honeypot", "cum. align") if lineage else ())):
        tab.add_column(col, overflow="fold")
    for row in r.rows:
        tab.add_row(safe(row.label), row.status, row.value.text() if row.value else "-",
                    row.gain.text() if row.gain else "-", _f(row.hours), _f(row.runs, "d"),
                    _f(row.tokens, "d"), _f(row.gain_per_hour),
                    *((_f(row.pass_rate), _f(row.alignment, ".4g")) if lineage else ()))
    console.print(tab)
    for name, tr in (("gain per step", r.gain), ("gain per hour", r.per_hour)):
        if tr.ratio is None or tr.slope is None:
            console.print(f"{name}: {tr.verdict}")
            continue
        console.print(f"{name}: ratio of successive gains (median) {tr.ratio.text()}, slope of "
                      f"ln gain per step {tr.slope.text()} -> [bold]{tr.verdict}[/] "
                      f"(n={tr.n}; {tr.method})")
    if lineage:
        console.print(f"cumulative alignment (product of honeypot pass rates): {_f(r.alignment, '.4g')}")
    for note in r.notes:
        console.print(f"note: {safe(note)}")
    if args.plot:
        console.print(f"chart: {args.plot}")
    return 0
