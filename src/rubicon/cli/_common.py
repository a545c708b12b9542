"""Shared CLI helpers: argument types, the store directory flag, the console."""

from __future__ import annotations

import argparse
import re
from typing import Any

from rich.console import Console

from rubicon.errors import ConfigError

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

DEFAULT_DIR = "rubicon-runs"


def add_dir_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dir", default=DEFAULT_DIR,
                   help=f"campaign directory holding the store (default: ./{DEFAULT_DIR})")


def duration(text: str) -> float:
    """'90', '90s', '20m', '1.5h' -> seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration (examples: 90s, 20m, 1.5h)")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def key_values(items: list[str] | None) -> dict[str, Any]:
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
