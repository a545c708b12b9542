"""`rubicon doctor`: what works on this machine (sandbox, limits, cgroups, torch, threads), and
the real cause of what does not (rubicon.runner._diagnose)."""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys

from rich.markup import escape
from rich.table import Table

from rubicon.cli._common import console
from rubicon.runner import sandbox_rows


def _check_torch() -> tuple[str, str, str]:
    code = ("import time;t=time.time();import torch;"
            "print(torch.__version__, torch.get_num_threads(), round(time.time()-t,2))")
    try:
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return ("torch", "warn", "import took over 120 s")
    if r.returncode != 0:
        return ("torch", "warn", "not installed: pip install torch==2.13.0 (needed by lm-speedrun)")
    ver, threads, secs = r.stdout.split()
    return ("torch", "ok", f"{ver}, {threads} threads by default, import {secs}s")


def _doctor(args: argparse.Namespace) -> int:
    t = Table(title="rubicon doctor")
    for col in ("check", "status", "detail"):
        t.add_column(col)
    cores = sorted(os.sched_getaffinity(0))
    t.add_row("python", "ok", f"{platform.python_version()} at {sys.executable}")
    t.add_row("cores", "ok", f"{len(cores)} usable: {cores}")
    t.add_row("bwrap", "ok" if shutil.which("bwrap") else "warn", shutil.which("bwrap") or "missing")
    rows = sandbox_rows()
    rows.append(_check_torch())
    for row in rows:
        style = {"ok": "green", "warn": "yellow", "FAIL": "red", "skip": "dim"}[row[1]]
        t.add_row(escape(row[0]), f"[{style}]{row[1]}[/]", escape(row[2]))
    console.print(t)
    return 1 if any(r[1] == "FAIL" for r in rows) else 0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("doctor", help="check sandbox, limits, torch and threads on this machine")
    p.set_defaults(func=_doctor)
