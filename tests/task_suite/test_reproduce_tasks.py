"""The reproduce family (CORE-Bench-like): each task loads, its shared evaluator code agrees,
the broken artifact answers nothing (score 0) and the repaired one everything (score 1), each
repair of the playbook is needed, and answers are judged with each question's tolerance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rubicon.task import suites
from rubicon.task._spec import BUILTIN_DIR

from ._helpers import FAST_REPRODUCE, REPRODUCE_TASKS, task, trial, with_patches


@pytest.mark.parametrize("name", REPRODUCE_TASKS)
def test_task_contract(name: str) -> None:
    t = task(name)
    assert t.family == "reproduce" and t.spec.prepare is not None and t.reference is not None
    assert t.spec.objective.metric == "correct" and t.spec.objective.direction == "maximize"
    assert t.spec.human_minutes is not None and 15 <= t.spec.human_minutes <= 120
    assert t.spec.score is not None and (t.spec.score.baseline, t.spec.score.reference) == (0.0, 1.0)
    for rel in ("run_reproduction.py", "README.md", "inputs/spirals.npz", "inputs/corpus.npz"):
        assert not t.is_editable(rel)
    # every question of the README is one the evaluator scores, and the reverse
    readme = (t.workspace / "README.md").read_text()
    questions = (t.dir / "evaluator" / "questions.py").read_text()
    ids = [w.strip("`") for w in readme.split() if w.startswith("`q") and w.endswith("`")]
    assert len(ids) == 5 and all(f'"{q}"' in questions for q in ids)
    assert all(q in (t.workspace / "answer.py").read_text() for q in ids)
    assert name in suites()["core"]


def test_reproduce_tasks_share_their_harness_code() -> None:
    for rel in ("evaluator/reprokit.py", "workspace/run_reproduction.py"):
        texts = {(BUILTIN_DIR / n / rel).read_text() for n in REPRODUCE_TASKS}
        assert len(texts) == 1, f"{rel} must be identical in every reproduce task"


@pytest.mark.parametrize("name", FAST_REPRODUCE)
def test_baseline_scores_zero_and_reference_one(name: str) -> None:
    base = trial(name, 3)
    assert base.exit_code == 0, base.run_output[-2000:]  # a broken artifact is scored, not crashed
    assert base.metrics == {"correct": 0.0, "answered": 0.0, "questions": 5.0}
    ref = trial(name, 3, reference=True)
    assert ref.metrics == {"correct": 1.0, "answered": 5.0, "questions": 5.0}, ref.run_output[-2000:]


@pytest.mark.parametrize("name", FAST_REPRODUCE)
def test_every_repair_is_needed(name: str) -> None:
    t = task(name)
    names = [p.name for p in t.playbook]
    assert trial(name, 4, files=with_patches(t, names)).metrics["correct"] == 1.0
    for left_out in names:
        r = trial(name, 4, files=with_patches(t, [n for n in names if n != left_out]))
        assert r.metrics["correct"] < 1.0, left_out


@pytest.mark.slow
@pytest.mark.parametrize("name", REPRODUCE_TASKS)
@pytest.mark.parametrize("seed", [11, 12, 13])
def test_calibration_holds_on_more_seeds(name: str, seed: int) -> None:
    assert trial(name, seed).metrics["correct"] == 0.0
    assert trial(name, seed, reference=True).metrics["correct"] == 1.0


def _kit(name: str) -> tuple[Any, dict[str, dict[str, Any]]]:
    """The task's evaluator kit module and its questions."""
    import importlib.util
    import sys

    sys.path.insert(0, str(BUILTIN_DIR / name / "evaluator"))
    try:
        spec = importlib.util.spec_from_file_location(f"{name}_questions",
                                                      BUILTIN_DIR / name / "evaluator" / "questions.py")
        assert spec is not None and spec.loader is not None
        q = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(q)
        import reprokit
        return reprokit, q.QUESTIONS
    finally:
        sys.path.pop(0)


def test_answers_are_judged_with_each_questions_tolerance(tmp_path: Path) -> None:
    kit, questions = _kit("reproduce-mlp-ablation")
    want = {"q1_res6_test_acc": 0.93, "q2_plain6_train_loss": 0.2, "q3_best_variant": "res-6",
            "q4_res6_epochs_to_90": 7, "q5_res6_gain_pp": 4.0}

    def score(**got: object) -> float:
        path = tmp_path / "answers.json"
        path.write_text(json.dumps({**want, **got}))
        out = kit.score(path, want, questions)
        assert isinstance(out, dict)
        return float(out["correct"])

    assert score() == 1.0
    assert score(q1_res6_test_acc=0.933) == 1.0 and score(q1_res6_test_acc=0.935) == 0.8
    assert score(q2_plain6_train_loss=0.2001) == 1.0 and score(q2_plain6_train_loss=0.201) == 0.8
    assert score(q3_best_variant=" RES-6 ") == 1.0 and score(q3_best_variant="plain-6") == 0.8
    assert score(q4_res6_epochs_to_90=7.0) == 1.0 and score(q4_res6_epochs_to_90=True) == 0.8
    assert score(q4_res6_epochs_to_90=None) == 0.8 and score(q5_res6_gain_pp=4.4) == 1.0
    assert score(q5_res6_gain_pp="4.0") == 0.8 and score(q5_res6_gain_pp=float("nan")) == 0.8
    none_expected = {**want, "q4_res6_epochs_to_90": None}
    path = tmp_path / "answers.json"
    path.write_text(json.dumps({**want, "q4_res6_epochs_to_90": None}))
    assert kit.score(path, none_expected, questions)["correct"] == 1.0
    path.write_text(json.dumps({**want, "q4_res6_epochs_to_90": 0}))
    assert kit.score(path, none_expected, questions)["correct"] == 0.8
