"""Helpers for the suite's built-in tasks (issue 21): the fix and reproduce families."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from rubicon.task import Task, load_task
from rubicon.task._spec import BUILTIN_DIR
from rubicon.task.local import LocalRun, run_local
from rubicon.types import Edit, Proposal
from rubicon.workspace import apply_edits

FIX_TASKS = ["fix-masked-loss", "fix-tokenizer", "fix-dataloader-leak"]
REPRODUCE_TASKS = ["reproduce-mlp-ablation", "reproduce-lr-sweep"]
FAST_REPRODUCE = ["reproduce-mlp-ablation"]  # seconds per trial; lr-sweep trains 10 torch models


def task(name: str) -> Task:
    return load_task(BUILTIN_DIR / name)


def trial(name: str, seed: int, *, reference: bool = False,
          files: dict[str, str] | None = None) -> LocalRun:
    """One local trial (prepare, run, evaluate) with run seed `seed` and eval seed 1000+seed."""
    return run_local(task(name), run_seed=seed, eval_seed=1000 + seed, reference=reference,
                     files=files)


def reference_files(t: Task) -> dict[str, str]:
    assert t.reference is not None
    return {p.relative_to(t.reference).as_posix(): p.read_text()
            for p in sorted(t.reference.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


def reference_proposal(t: Task) -> Proposal:
    """The hidden reference as a researcher's proposal: every reference file replaced whole."""
    return Proposal(edits=[Edit(file=rel, search="", replace=text)
                           for rel, text in reference_files(t).items()],
                    rationale="the reference")


def with_patches(t: Task, names: list[str]) -> dict[str, str]:
    """The editable files with the named playbook patches applied."""
    by_name = {p.name: p for p in t.playbook}
    return apply_edits(t, t.editable_files(), [e for n in names for e in by_name[n].edits])


def script(name: str, path: str, *argv: str, env: dict[str, str] | None = None,
           ) -> subprocess.CompletedProcess[str]:
    """Run one of a task's evaluator scripts directly (as the harness would, unsandboxed)."""
    full = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
    return subprocess.run([sys.executable, str(BUILTIN_DIR / name / path), *argv], env=full,
                          capture_output=True, text=True, timeout=600, check=False)


def prepare(name: str, inputs: Path, private: Path, run_seed: int, eval_seed: int) -> None:
    p = script(name, "evaluator/prepare.py", str(inputs), str(private),
               env={"RUBICON_RUN_SEED": str(run_seed), "RUBICON_EVAL_SEED": str(eval_seed)})
    assert p.returncode == 0, p.stdout + p.stderr


def evaluate(name: str, artifacts: Path, private: Path) -> dict[str, Any]:
    """The evaluator's metrics (parsed as the harness parses them)."""
    from rubicon.measure.judge import parse_metrics

    p = script(name, "evaluator/evaluate.py", str(artifacts), str(private))
    assert p.returncode == 0, p.stdout + p.stderr
    return parse_metrics(p.stdout)


def write_json(path: Path, obj: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))
    return path

