"""Shared helpers for the rd tasks' tests (posttrain, weak-to-strong): paths, subprocess calls of
the harness-owned scripts with temp dirs, and a loader for the shared architecture module."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from rubicon.task._spec import BUILTIN_DIR

RDBASE = BUILTIN_DIR / "_rdbase"
POSTTRAIN = BUILTIN_DIR / "posttrain"
W2S = BUILTIN_DIR / "weak-to-strong"
BASE_COPIES = [POSTTRAIN / "workspace" / "base" / "base.rbw", W2S / "workspace" / "base" / "base.rbw"]


def load_module(path: Path, name: str) -> ModuleType:
    """Import a task's module by path (its directory first on sys.path while it loads)."""
    sys.path.insert(0, str(path.parent))
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    finally:
        sys.path.remove(str(path.parent))


def gpt() -> Any:
    return load_module(RDBASE / "gpt.py", "rd_gpt")


def parse(out: str) -> dict[str, Any]:
    """`key: value` lines to a dict; numbers become floats."""
    metrics: dict[str, Any] = {}
    for line in out.splitlines():
        key, sep, value = line.partition(": ")
        if not sep or " " in key:
            continue
        try:
            metrics[key] = float(value)
        except ValueError:
            metrics[key] = value
    return metrics


def run_script(argv: list[str], cwd: Path, timeout: float = 900, **env: str) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ, OMP_NUM_THREADS="2", RUBICON_THREADS="2", **env)
    return subprocess.run([sys.executable, *argv], cwd=cwd, capture_output=True, text=True,
                          env=full, timeout=timeout)


def workspace(task_dir: Path, dest: Path, reference: bool = False) -> Path:
    """A private copy of the task's workspace (with the reference overlaid when asked)."""
    shutil.copytree(task_dir / "workspace", dest, ignore=shutil.ignore_patterns("__pycache__"))
    if reference:
        for p in (task_dir / "reference").iterdir():
            shutil.copy(p, dest / p.name)
    return dest
