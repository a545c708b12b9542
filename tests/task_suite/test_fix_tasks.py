"""The fix family (SWE-bench-like): each task loads, its shared harness files agree, the shipped
package scores its calibrated baseline (score 0) and the reference 1, and the playbook's fixes
reach the reference alone and in part."""

from __future__ import annotations

import re

import pytest

from rubicon.task import suites
from rubicon.task._spec import BUILTIN_DIR

from ._helpers import FIX_TASKS, task, trial, with_patches

# playbook fixes that together are the reference; the score of each alone
FIXES = {
    "fix-masked-loss": (["mean-over-real-tokens", "mask-uses-pad-id"], [10 / 13, 9 / 13]),
    "fix-tokenizer": (["decode-joined-bytes", "encode-by-merge-rank"], [0.7, 0.6]),
    "fix-dataloader-leak": (["split-whole-groups", "fit-scaler-on-train"], [0.75, 0.625]),
}


@pytest.mark.parametrize("name", FIX_TASKS)
def test_task_contract(name: str) -> None:
    t = task(name)
    assert t.family == "fix" and t.spec.prepare is not None and t.reference is not None
    assert t.spec.objective.metric == "hidden_passed" and t.spec.objective.direction == "maximize"
    assert [(g.metric, g.op, g.value) for g in t.spec.gates] == [("visible_passed", "==", 1)]
    assert t.spec.human_minutes is not None and 2 <= t.spec.human_minutes <= 30
    assert t.spec.human_minutes_basis and t.spec.score is not None
    assert t.spec.score.kind == "linear" and t.spec.score.reference == 1.0
    # the harness's files and the tests are read-only; so is anything under inputs/
    for rel in ("check.py", "inputs/cases.json", "README.md"):
        assert not t.is_editable(rel)
    assert not any(t.is_editable(rel) for rel in t.workspace_files() if rel.startswith("tests/"))
    assert name in suites()["core"]


def _generic(text: str) -> str:
    """check.py without its task-specific part (the package name and the compute functions)."""
    text = re.sub(r'PACKAGE = "\w+"', "", text)
    return text[:text.index("\ndef ")] + text[text.index("def load_context("):]


def test_fix_tasks_share_their_harness_code() -> None:
    kits = {(BUILTIN_DIR / n / "evaluator" / "fixkit.py").read_text() for n in FIX_TASKS}
    assert len(kits) == 1, "evaluator/fixkit.py must be identical in every fix task"
    checks = {_generic((BUILTIN_DIR / n / "workspace" / "check.py").read_text()) for n in FIX_TASKS}
    assert len(checks) == 1, "check.py must differ only in PACKAGE and the compute functions"


@pytest.mark.parametrize("name", FIX_TASKS)
def test_baseline_scores_zero_and_reference_one(name: str) -> None:
    t = task(name)
    assert t.spec.score is not None
    base = trial(name, 1)
    ref = trial(name, 1, reference=True)
    for r in (base, ref):
        assert r.exit_code == 0, r.run_output[-2000:]
        assert r.metrics["visible_passed"] == 1.0
    assert abs(t.spec.score.normalize(objective=base.metrics["hidden_passed"]) or 0.0) < 1e-3
    assert ref.metrics["hidden_passed"] == 1.0
    assert t.spec.score.normalize(objective=ref.metrics["hidden_passed"]) == pytest.approx(1.0)


@pytest.mark.parametrize("name", FIX_TASKS)
def test_playbook_fixes_each_fix_one_bug(name: str) -> None:
    t = task(name)
    names, alone = FIXES[name]
    both = trial(name, 2, files=with_patches(t, names))
    assert both.metrics["hidden_passed"] == 1.0 and both.metrics["visible_passed"] == 1.0
    for patch, want in zip(names, alone, strict=True):
        r = trial(name, 2, files=with_patches(t, [patch]))
        assert r.metrics["hidden_passed"] == pytest.approx(want, abs=1e-4), patch
    milestone = t.spec.milestones[0].objective
    assert milestone is not None and milestone == pytest.approx(alone[0], abs=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize("name", FIX_TASKS)
@pytest.mark.parametrize("seed", [11, 12, 13])
def test_calibration_holds_on_more_seeds(name: str, seed: int) -> None:
    t = task(name)
    assert t.spec.score is not None
    assert trial(name, seed).metrics["hidden_passed"] == pytest.approx(t.spec.score.baseline, abs=1e-3)
    assert trial(name, seed, reference=True).metrics["hidden_passed"] == 1.0
