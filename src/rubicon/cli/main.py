"""Entry point: builds the parser from the command modules and maps errors to messages.

Each command module defines `add_parser(sub)` which registers its sub-parser and sets
`func=<callable taking the parsed args and returning an exit code>`.
Every flag has a RUBICON_<FLAG> environment twin; settings keys (`rubicon config` lists them)
also come from rubicon.toml. Precedence: flag > env > rubicon.toml > default (`_common.finish`).
"""

from __future__ import annotations

import importlib
import sys

from rubicon.cli._common import Parser, finish
from rubicon.errors import RubiconError

# command name -> module under rubicon.cli (imported lazily to keep start-up fast)
COMMANDS = {
    "run": "run",
    "bench": "bench",
    "ask": "ask_tell",
    "tell": "ask_tell",
    "show": "show",
    "export": "show",
    "tasks": "tasks",
    "researchers": "tasks",
    "doctor": "doctor",
    "horizon": "horizon",
    "report": "report",
    "serve": "serve",
    "config": "config",
    "review": "review",
    "lineage": "lineage",
    "returns": "returns",
}


def build_parser(only: str | None = None) -> Parser:
    parser = Parser(
        prog="rubicon",
        description="An open lab for automated AI research. `rubicon run` starts a campaign.",
    )
    from rubicon import __version__

    parser.add_argument("--version", action="version", version=f"rubicon {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    seen: set[str] = set()
    for cmd, mod in COMMANDS.items():
        if mod in seen or (only is not None and cmd != only):
            continue
        seen.add(mod)
        module = importlib.import_module(f"rubicon.cli.{mod}")
        module.add_parser(sub)
    parser.commands = dict(sub.choices)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    first = next((a for a in argv if not a.startswith("-")), None)
    try:
        parser = build_parser(first if first in COMMANDS else None)
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 2
        finish(args, parser.subparser(args.command))
        return int(args.func(args) or 0)
    except RubiconError as e:
        print(f"rubicon: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rubicon: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
