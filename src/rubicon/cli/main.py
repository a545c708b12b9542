"""Entry point: builds the parser from the command modules and maps errors to messages.

Each command module defines `add_parser(sub)` which registers its sub-parser and sets
`func=<callable taking the parsed args and returning an exit code>`.
Every flag has a RUBICON_<FLAG> environment twin (precedence: flag > env > default).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from rubicon.errors import RubiconError

# command name -> module under rubicon.cli (imported lazily to keep start-up fast)
COMMANDS = {
    "run": "run",
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
}


def env_name(dest: str) -> str:
    return "RUBICON_" + dest.upper()


def apply_env_defaults(parser: argparse.ArgumentParser) -> None:
    """Let RUBICON_<DEST> override each optional flag's default (flags still win)."""
    for action in parser._actions:
        if not action.option_strings or action.dest in ("help",):
            continue
        val = os.environ.get(env_name(action.dest))
        if val is None:
            continue
        if isinstance(action, argparse._StoreTrueAction):
            action.default = val.lower() in ("1", "true", "yes", "on")
        elif isinstance(action, argparse._StoreFalseAction):
            action.default = val.lower() not in ("1", "true", "yes", "on")
        elif action.type is not None and callable(action.type):
            try:
                action.default = action.type(val)
            except (ValueError, argparse.ArgumentTypeError) as e:
                raise RubiconError(
                    f"environment variable {env_name(action.dest)}={val!r}: {e}") from None
        else:
            action.default = val


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rubicon",
        description="An open lab for automated AI research. `rubicon run` starts a campaign.",
    )
    from rubicon import __version__

    parser.add_argument("--version", action="version", version=f"rubicon {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    seen: set[str] = set()
    for cmd, mod in COMMANDS.items():
        if mod in seen or (only is not None and cmd != only):
            continue
        seen.add(mod)
        module = importlib.import_module(f"rubicon.cli.{mod}")
        module.add_parser(sub)
    for p in sub.choices.values():
        apply_env_defaults(p)
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
        return int(args.func(args) or 0)
    except RubiconError as e:
        print(f"rubicon: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rubicon: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
