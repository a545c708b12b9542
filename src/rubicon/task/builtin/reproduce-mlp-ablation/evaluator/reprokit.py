"""Shared by the reproduce tasks' prepare.py and evaluate.py (harness-owned; this file is
identical in every reproduce-* task, which tests/task_suite checks).

prepare: writes this run's data to {inputs} (the run sees it as inputs/), then runs the
corrected repository (reference/ laid over workspace/) on exactly that data with the run's seed
(RUBICON_RUN_SEED, which the run gets as RUBICON_SEED), through the same read-only entry point
the run uses, and keeps its answers in {private}. The candidate's run never sees them.

evaluate: compares the candidate's answers.json with them, question by question, with the
tolerance each question declares (questions.py). Prints numbers only, never candidate text.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.dont_write_bytecode = True  # never leave __pycache__ in the task directory

TASK_DIR = Path(__file__).resolve().parent.parent
ENTRY = "run_reproduction.py"
MAX_ANSWERS_BYTES = 1024 * 1024
REFERENCE_TIME_LIMIT = 280


def seeds_from_env() -> tuple[int, int]:
    """(secret evaluation seed, run seed); exits with a clear message when they are missing."""
    try:
        eval_seed = int(os.environ["RUBICON_EVAL_SEED"])
    except (KeyError, ValueError):
        sys.exit("prepare: RUBICON_EVAL_SEED (an integer) is not set; the harness sets it")
    return eval_seed, int(os.environ.get("RUBICON_RUN_SEED", "0") or 0)


def _overlay(src: Path, dest: Path) -> None:
    for p in sorted(src.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            target = dest / p.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, target)


def reference_answers(inputs: Path, run_seed: int) -> dict[str, Any]:
    """Run the corrected repository on `inputs` with RUBICON_SEED = run_seed; its answers."""
    with tempfile.TemporaryDirectory() as scratch:
        ws = Path(scratch) / "ws"
        shutil.copytree(TASK_DIR / "workspace", ws, ignore=shutil.ignore_patterns("__pycache__"))
        _overlay(TASK_DIR / "reference", ws)
        shutil.copytree(inputs, ws / "inputs")
        env = {**os.environ, "RUBICON_SEED": str(run_seed), "PYTHONDONTWRITEBYTECODE": "1"}
        env.pop("RUBICON_EVAL_SEED", None)  # the repository runs as a candidate's run would
        p = subprocess.run([sys.executable, ENTRY], cwd=ws, env=env, capture_output=True,
                           text=True, timeout=REFERENCE_TIME_LIMIT, check=False)
        answers = json.loads((ws / "answers.json").read_text())
    if p.returncode != 0 or not answers:
        raise RuntimeError(f"the reference repository failed:\n{p.stdout[-2000:]}{p.stderr[-2000:]}")
    return dict(answers)


def prepare_main(argv: list[str], make_inputs: Callable[[np.random.Generator, Path], None],
                 questions: dict[str, dict[str, Any]]) -> int:
    if len(argv) != 3:
        print("usage: prepare.py INPUTS PRIVATE", file=sys.stderr)
        return 2
    inputs, private = Path(argv[1]), Path(argv[2])
    eval_seed, run_seed = seeds_from_env()
    inputs.mkdir(parents=True, exist_ok=True)
    private.mkdir(parents=True, exist_ok=True)
    make_inputs(np.random.default_rng([eval_seed, run_seed]), inputs)
    answers = reference_answers(inputs, run_seed)
    missing = sorted(set(questions) - set(answers))
    if missing:
        raise RuntimeError(f"the reference answered no {missing}")
    (private / "expected.json").write_text(json.dumps({"answers": answers}))
    return 0


def correct(got: Any, want: Any, q: dict[str, Any]) -> bool:
    """One answer against the reference's, with the question's tolerance (never raises)."""
    kind = q["kind"]
    if want is None:
        return got is None
    if kind == "choice":
        return isinstance(got, str) and got.strip().lower() == str(want).strip().lower()
    if isinstance(got, bool) or not isinstance(got, int | float):
        return False
    if kind == "int":
        return isinstance(got, int) and got == want or (isinstance(got, float) and got == want)
    g, w = float(got), float(want)
    if not math.isfinite(g):
        return False
    return abs(g - w) <= q.get("atol", 0.0) + q.get("rtol", 0.0) * abs(w)


def score(answers_path: Path, expected: dict[str, Any],
          questions: dict[str, dict[str, Any]]) -> dict[str, float] | str:
    """Metrics for an answers.json, or why it is invalid."""
    if not answers_path.is_file():
        return "answers.json was not produced (run_reproduction.py writes it)"
    if answers_path.stat().st_size > MAX_ANSWERS_BYTES:
        return "answers.json is larger than 1 MiB"
    try:
        got = json.loads(answers_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        return f"answers.json is not JSON ({type(e).__name__})"
    if not isinstance(got, dict):
        return "answers.json is not a JSON object of answers"
    right = sum(1 for qid, q in questions.items()
                if qid in got and correct(got[qid], expected[qid], q))
    answered = sum(1 for qid in questions if got.get(qid) is not None)
    return {"correct": right / len(questions), "answered": float(answered),
            "questions": float(len(questions))}


def evaluate_main(argv: list[str], questions: dict[str, dict[str, Any]]) -> int:
    if len(argv) != 3:
        print("usage: evaluate.py ARTIFACTS PRIVATE", file=sys.stderr)
        return 2
    expected = json.loads((Path(argv[2]) / "expected.json").read_text())["answers"]
    out = score(Path(argv[1]) / "answers.json", expected, questions)
    if isinstance(out, str):
        print(f"invalid: {out}")
        return 0
    for k, v in out.items():
        print(f"{k}: {v:.6g}")
    return 0
