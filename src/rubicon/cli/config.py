"""`rubicon config`: every settings key, its effective value and where it came from."""

from __future__ import annotations

import argparse
import json

from rich.table import Table

from rubicon.cli._common import console
from rubicon.cli.run import add_campaign_settings


def _config(args: argparse.Namespace) -> int:
    res = args.settings
    if args.json:
        data = {k: {"value": getattr(res.settings, k), "source": src}
                for k, src in res.origin.items()}
        print(json.dumps(data, indent=2, default=str))
        return 0
    table = Table(title="effective settings (flag > env RUBICON_* > rubicon.toml > default)")
    for col in ("key", "value", "source"):
        table.add_column(col)
    for key, src in res.origin.items():
        style = "" if src == "default" else "bold"
        table.add_row(key, repr(getattr(res.settings, key)), src, style=style)
    console.print(table)
    read = ", ".join(str(f) for f in res.files) or "none found"
    console.print(f"rubicon.toml files read (first wins): {read}", markup=False)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("config", help="print every setting's effective value and its source")
    add_campaign_settings(p)
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=_config)
