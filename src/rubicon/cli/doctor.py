"""`rubicon doctor`: what works on this machine (sandbox, limits, cgroups, torch, threads)."""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.table import Table

from rubicon.cli._common import console


def _check_sandbox() -> list[tuple[str, str, str]]:
    from rubicon.runner import SandboxSpec, run_sandboxed
    from rubicon.runner._cgroup import PidsGroup
    from rubicon.runner.sandbox import detect_backend

    rows = []
    backend = detect_backend()
    ok = "ok" if backend == "bwrap" else "warn"
    rows.append(("sandbox backend", ok, backend + ("" if backend == "bwrap" else
                 " (install bubblewrap: apt-get install bubblewrap)")))
    with tempfile.TemporaryDirectory() as d:
        ws = Path(d)
        probe = ("import socket,os\ntry:\n socket.create_connection(('127.0.0.1',9),0.5);print('net')\n"
                 "except OSError:\n print('nonet')\nprint(os.getpid())")
        t0 = time.perf_counter()
        f = run_sandboxed(SandboxSpec(argv=["python", "-c", probe], cwd=ws, log_path=ws / "log"))
        dt = time.perf_counter() - t0
        out = f.output_tail.split()
        rows.append(("network blocked", "ok" if "nonet" in out else "FAIL", " ".join(out[:1])))
        rows.append(("own pid namespace", "ok" if out[-1:] == ["1"] else "warn", f"pid {out[-1:]}"))
        rows.append(("sandboxed python start", "ok", f"{dt * 1000:.0f} ms"))
        f = run_sandboxed(SandboxSpec(argv=["python", "-c", "b=bytearray(2**31)"], cwd=ws,
                                      log_path=ws / "log", memory_mb=512))
        rows.append(("memory limit", "ok" if f.exit_code != 0 else "FAIL", f.killed_reason or "-"))
    g = PidsGroup.create(16)
    rows.append(("cgroup pids (fork bombs)", "ok" if g else "warn",
                 str(g.path) if g else "not writable: process count limited by timeout only"))
    if g:
        g.remove()
    return rows


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
    rows = _check_sandbox()
    rows.append(_check_torch())
    for row in rows:
        style = {"ok": "green", "warn": "yellow", "FAIL": "red"}[row[1]]
        t.add_row(row[0], f"[{style}]{row[1]}[/]", row[2])
    console.print(t)
    return 1 if any(r[1] == "FAIL" for r in rows) else 0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("doctor", help="check sandbox, limits, torch and threads on this machine")
    p.set_defaults(func=_doctor)
