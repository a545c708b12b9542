"""Run the optimize tasks' driver and checker directly (no sandbox), and load their modules
in-process. Shared by the task tests and the red-team tests (tests/redteam/test_optimize.py)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

from rubicon.task import Task, load_task
from rubicon.task._spec import BUILTIN_DIR

OPTIMIZE = ["optimize-attention", "optimize-adamw"]
EDITABLE = {"optimize-attention": "attention.py", "optimize-adamw": "optim.py"}


def task(name: str) -> Task:
    return load_task(BUILTIN_DIR / name)


def load(path: Path, name: str) -> ModuleType:
    """Import a task file as a module of its own name, with its directory first on sys.path
    (the task's files import each other by plain name)."""
    sys.path.insert(0, str(path.parent))
    try:
        for mod in ("cases", "problem", "attention", "optim"):
            sys.modules.pop(mod, None)
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.pop(0)


def module_from_text(text: str, tmp: Path, name: str, task_name: str) -> ModuleType:
    """The editable file with `text`, importable next to a copy of the task's workspace."""
    ws = tmp / f"ws-{name}"
    if not ws.exists():
        shutil.copytree(task(task_name).workspace, ws)
    path = ws / EDITABLE[task_name]
    path.write_text(text)
    return load(path, name)


def parse(out: str) -> dict[str, object]:
    metrics: dict[str, object] = {}
    for line in out.splitlines():
        key, sep, value = line.partition(": ")
        if not sep or " " in key:
            continue
        try:
            metrics[key] = float(value)
        except ValueError:
            metrics[key] = value
    return metrics


def run_bench(name: str, files: dict[str, str], root: Path, seed: int) -> tuple[Path, float]:
    """bench.py of `name` with `files` over a fresh workspace copy; (artifacts dir, wall s)."""
    t = task(name)
    ws = root / "ws"
    shutil.copytree(t.workspace, ws)
    for rel, text in files.items():
        (ws / rel).write_text(text)
    env = dict(os.environ, RUBICON_SEED=str(seed), OMP_NUM_THREADS="1", RUBICON_THREADS="1")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "bench.py"], cwd=ws, env=env, capture_output=True,
                          text=True, timeout=1200)
    wall = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr[-2000:]
    arts = root / "artifacts"
    arts.mkdir()
    for a in t.spec.run.artifacts:
        shutil.copy(ws / a, arts / a)
    return arts, wall


def check(name: str, artifacts: Path, seed: int) -> dict[str, object]:
    env = dict(os.environ, RUBICON_RUN_SEED=str(seed), RUBICON_EVAL_SEED="3", OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, str(BUILTIN_DIR / name / "evaluator" / "check.py"),
                           str(artifacts)], env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return parse(proc.stdout)


def variant(t: Task, kind: str) -> dict[str, str]:
    files = t.editable_files()
    if kind == "reference":
        assert t.reference is not None
        for p in t.reference.iterdir():
            if p.is_file():
                files[p.name] = p.read_text()
    return files
