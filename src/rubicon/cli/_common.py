"""Shared CLI helpers: the parser with layered defaults, the console, formatting.

Options are layered: flag > environment > (for settings keys) rubicon.toml > default.
`Parser` records each option's declared default and leaves options that were not given out of
the parsed namespace; `finish` then fills them: settings keys (`setting(...)`, e.g. --dir,
--budget) from `rubicon.settings.load_settings`, every other option from its RUBICON_<DEST>
environment twin, else its declared default.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from rich.console import Console

from rubicon.errors import ConfigError

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def use_plain_output() -> None:
    """Plain output on the CLI's consoles (`rubicon run --plain`, or stdout not a terminal): no
    colours, styles or cursor moves, and no wrapping (one printed line stays one line)."""
    for c in (console, err_console):
        Console.__init__(c, highlight=False, stderr=c.stderr, force_terminal=False,
                         color_system=None, soft_wrap=True)

ENV_PREFIX = "RUBICON_"
TRUE = ("1", "true", "yes", "on")


class _Absent:
    def __repr__(self) -> str:
        return "<not given>"


ABSENT = _Absent()  # value of a positional argument that was not given


class Parser(argparse.ArgumentParser):
    """argparse whose options, when not given, are absent after parsing (see `finish`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # dest -> (action, declared default, action kind); filled by add_argument
        self.declared: dict[str, tuple[argparse.Action, Any, str]] = {}
        self.setting_flags: dict[str, str] = {}  # settings key (= dest) -> its flag
        self.commands: dict[str, argparse.ArgumentParser] = {}  # sub-command -> its parser
        super().__init__(*args, **kwargs)

    def subparser(self, command: str) -> argparse.ArgumentParser:
        return self.commands.get(command, self)

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        kind = kwargs.get("action")
        if kind in ("help", "version"):
            return super().add_argument(*args, **kwargs)
        name = kind if isinstance(kind, str) else ""
        default = kwargs.pop("default", {"store_true": False, "store_false": True}.get(name))
        positional = bool(args) and not str(args[0]).startswith(self.prefix_chars[0])
        # optional flags not given are left out; positionals (argparse converts a string default
        # even when it is SUPPRESS) get a marker that `finish` replaces
        action = super().add_argument(*args, default=ABSENT if positional else argparse.SUPPRESS,
                                      **kwargs)
        self.declared[action.dest] = (action, default, name)
        return action

    def add_setting(self, *flags: str, **kwargs: Any) -> argparse.Action:
        """An option that is a settings key (`rubicon.settings.Settings`): its default comes
        from the environment, rubicon.toml or the key's default, and `rubicon config` lists it."""
        action = self.add_argument(*flags, **kwargs)
        self.setting_flags[action.dest] = next((f for f in flags if f.startswith("--")), action.dest)
        return action


def setting(p: argparse.ArgumentParser, *flags: str, **kwargs: Any) -> argparse.Action:
    """`Parser.add_setting` on a sub-parser made by `rubicon.cli.main` (always a `Parser`)."""
    if not isinstance(p, Parser):
        raise TypeError(f"{p.prog}: settings flags need a rubicon.cli._common.Parser")
    return p.add_setting(*flags, **kwargs)


def add_dir_flag(p: argparse.ArgumentParser) -> None:
    setting(p, "--dir", help="campaign directory holding the store (default: ./rubicon-runs; "
                                "RUBICON_DIR, or dir in rubicon.toml)")


def _env_value(dest: str, action: argparse.Action, kind: str, text: str) -> Any:
    name = ENV_PREFIX + dest.upper()
    if kind in ("store_true", "store_false"):
        on = text.strip().lower() in TRUE
        return on if kind == "store_true" else not on
    try:
        value = action.type(text) if callable(action.type) else text
    except (ValueError, TypeError, argparse.ArgumentTypeError) as e:
        raise ConfigError(f"environment variable {name}={text!r}: {e}") from None
    return [value] if kind == "append" or action.nargs in ("*", "+") else value


def finish(args: argparse.Namespace, p: argparse.ArgumentParser) -> None:
    """Fill the options the command line did not give (see the module docstring)."""
    if not isinstance(p, Parser):
        return
    given = {k: v for k, v in vars(args).items() if v is not ABSENT}
    if p.setting_flags:
        from rubicon.settings import load_settings

        flags = {k: given[k] for k in p.setting_flags if k in given}
        if "researcher_args" in flags:
            flags["researcher_args"] = key_values(flags["researcher_args"])
        resolved = load_settings(flags, flag_names=p.setting_flags)
        args.settings = resolved
        for key in p.setting_flags:
            setattr(args, key, getattr(resolved.settings, key))
    for dest, (action, default, kind) in p.declared.items():
        if dest in given or dest in p.setting_flags:
            continue
        env = os.environ.get(ENV_PREFIX + dest.upper()) if action.option_strings else None
        if env is not None:
            value = _env_value(dest, action, kind, env)
        elif isinstance(default, str) and callable(action.type):
            value = action.type(default)
        elif default is None and action.nargs == "*":
            value = []
        else:
            value = default
        setattr(args, dest, value)


def key_values(items: list[str] | dict[str, Any] | None) -> dict[str, Any]:
    if isinstance(items, dict):
        return items
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, val = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--researcher-arg {item!r}: expected KEY=VALUE")
        out[key.strip()] = val
    return out


def fmt_seconds(s: float | None) -> str:
    if s is None:
        return "-"
    if s < 120:
        return f"{s:.1f}s"
    if s < 7200:
        return f"{s / 60:.1f}m"
    return f"{s / 3600:.1f}h"
