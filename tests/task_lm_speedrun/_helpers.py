"""Shared helpers for the lm-speedrun task tests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import rubicon.task

TASK_DIR = Path(rubicon.task.__file__).parent / "builtin" / "lm-speedrun"
EVALUATOR = TASK_DIR / "evaluator" / "evaluate.py"

# A miniature configuration: trains and exports in seconds.
MINI = {
    "batch_size": 4,
    "d_model": 32,
    "n_layer": 1,
    "n_head": 2,
    "steps": 4,
    "eval_interval": 2,
    "eval_sequences": 4,
}


def parse(out: str) -> dict[str, object]:
    """`key: value` lines to a dict; numbers become floats."""
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


TRAIN_SEED = 7  # RUBICON_SEED of run_train: the variant of the language its models speak


def evaluator_output(artifacts: Path, seed: int = 1, sequences: int = 64,
                     run_seed: int | None = None) -> str:
    """The evaluator's stdout: held-out data from `seed`, in the variant of `run_seed` (None: the
    canonical language)."""
    env = dict(os.environ, RUBICON_EVAL_SEED=str(seed), LM_SPEEDRUN_EVAL_SEQUENCES=str(sequences))
    env.pop("RUBICON_SEED", None)
    env.pop("RUBICON_RUN_SEED", None)
    if run_seed is not None:
        env["RUBICON_RUN_SEED"] = str(run_seed)
    env.setdefault("OMP_NUM_THREADS", "2")
    proc = subprocess.run(
        [sys.executable, str(EVALUATOR), str(artifacts)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=artifacts.parent,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def run_evaluator(artifacts: Path, seed: int = 1, sequences: int = 64,
                  run_seed: int | None = None) -> dict[str, object]:
    return parse(evaluator_output(artifacts, seed, sequences, run_seed))


@pytest.fixture(scope="module")
def ev() -> Iterator[ModuleType]:
    """The evaluator's own modules imported in this process (evaluate, with archive, program and
    lang), for tests that call its functions or take one defence out with monkeypatch."""
    names = ("evaluate", "archive", "program", "lang")
    saved = {n: sys.modules.pop(n) for n in names if n in sys.modules}
    sys.path.insert(0, str(EVALUATOR.parent))
    try:
        import evaluate

        evaluate.EVAL_SEQUENCES = 64  # 2 batches; the 4 probe batches still run
        yield evaluate
    finally:
        sys.path.remove(str(EVALUATOR.parent))
        for n in names:
            sys.modules.pop(n, None)
        sys.modules.update(saved)


def make_workspace(dest: Path, overrides: dict[str, object], reference: bool = False) -> Path:
    """A private copy of the baseline workspace (or the reference overlay) with config overrides."""
    shutil.copytree(TASK_DIR / "workspace", dest)
    if reference:
        for p in (TASK_DIR / "reference").iterdir():
            if p.is_file():
                shutil.copy(p, dest / p.name)
    cfg_path = dest / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg.update(overrides)
    cfg_path.write_text(json.dumps(cfg))
    return dest


def run_train(ws: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, RUBICON_SEED=str(TRAIN_SEED), OMP_NUM_THREADS="2")
    return subprocess.run(
        [sys.executable, "train.py"],
        cwd=ws,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
