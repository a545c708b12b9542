"""Run the tabular tasks' harness-owned scripts directly (no sandbox): prepare a competition
into temp dirs, run a workspace variant on it, score a submission. Shared by the task tests
and the red-team tests (tests/redteam/test_tabular.py)."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

from rubicon.task import Task, load_task
from rubicon.task._spec import BUILTIN_DIR

TABULAR = ["tabular-churn", "tabular-demand"]
# (id column, prediction column, metric, target column) per task
COLUMNS = {"tabular-churn": ("customer_id", "churn_probability", "auc", "churned"),
           "tabular-demand": ("row_id", "units", "rmsle", "units")}


def task(name: str) -> Task:
    return load_task(BUILTIN_DIR / name)


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


def prepare(name: str, root: Path, eval_seed: int, run_seed: int = 1) -> tuple[Path, Path]:
    """The task's [prepare] step into root/inputs and root/private, as the harness runs it."""
    inputs, private = root / "inputs", root / "private"
    inputs.mkdir(parents=True)
    private.mkdir(parents=True)
    env = dict(os.environ, RUBICON_EVAL_SEED=str(eval_seed), RUBICON_RUN_SEED=str(run_seed))
    proc = subprocess.run([sys.executable, str(BUILTIN_DIR / name / "evaluator" / "prepare.py"),
                           str(inputs), str(private)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    return inputs, private


def score(name: str, artifacts: Path, private: Path) -> dict[str, object]:
    proc = subprocess.run([sys.executable, str(BUILTIN_DIR / name / "evaluator" / "score.py"),
                           str(artifacts), str(private)], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, RUBICON_EVAL_SEED="5"))
    assert proc.returncode == 0, proc.stderr
    return parse(proc.stdout)


def variant(t: Task, kind: str) -> dict[str, str]:
    """Editable files of the baseline or the reference (reference/ overlays workspace/)."""
    files = t.editable_files()
    if kind == "reference":
        assert t.reference is not None
        for p in t.reference.iterdir():
            if p.is_file():
                files[p.name] = p.read_text()
    return files


def run(t: Task, files: dict[str, str], inputs: Path, root: Path) -> Path:
    """Run `files` in a fresh copy of the workspace with `inputs` as inputs/; returns the
    directory holding its artifacts."""
    ws = root / "ws"
    shutil.copytree(t.workspace, ws)
    for rel, text in files.items():
        (ws / rel).write_text(text)
    shutil.copytree(inputs, ws / "inputs")
    env = dict(os.environ, RUBICON_SEED="1", OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, *t.spec.run.command[1:]], cwd=ws, env=env,
                          capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-2000:]
    arts = root / "artifacts"
    arts.mkdir()
    shutil.copy(ws / "submission.csv", arts / "submission.csv")
    return arts


def read_columns(path: Path) -> dict[str, list[str]]:
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    return {h: [r[i] for r in rows[1:]] for i, h in enumerate(rows[0])}


def write_submission(path: Path, header: tuple[str, str], rows: list[tuple[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
