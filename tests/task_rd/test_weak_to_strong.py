"""weak-to-strong: the task validates with its family, PGR milestones and suites; its score
mapping orders baseline < reference; every playbook patch applies and compiles. (The data, the
weak supervisor and the evaluator are exercised by tests/redteam/test_rd_tasks.py.)"""

from __future__ import annotations

from rubicon.researcher._search_space import SearchSpace
from rubicon.task import load_task, suites
from rubicon.workspace import apply_edits

from ._helpers import W2S


def test_task_validates_with_family_pgr_milestones_and_suites() -> None:
    t = load_task(W2S)
    assert t.family == "rd" and t.spec.human_minutes and t.spec.human_minutes_basis
    assert t.spec.objective.metric == "recovery" and t.spec.prepare is not None
    objectives = [m.objective for m in t.spec.milestones]
    assert objectives == [1.25, 1.5, 1.9]  # PGR 0.25 / 0.5 / 0.9 as recovery = 1 + PGR
    minutes = [m.human_minutes for m in t.spec.milestones]
    assert minutes == sorted(minutes) and all(m.basis for m in t.spec.milestones)
    sc = t.spec.score
    assert sc is not None and sc.kind == "linear" and sc.baseline < sc.reference
    assert "weak-to-strong" in suites()["rd"] and "weak-to-strong" in suites()["core"]
    assert t.reference is not None and (t.reference / "w2s.py").is_file()


def test_playbook_patches_apply_and_compile() -> None:
    t = load_task(W2S)
    space = SearchSpace(t, t.editable_files())
    for patch in t.playbook:
        files = apply_edits(t, t.editable_files(), [e for p in t.playbook
                                                     if p.name in (patch.name, *patch.requires)
                                                     for e in p.edits])
        compile(files["w2s.py"], "w2s.py", "exec")
    cfg = space.all_compatible()
    files = apply_edits(t, t.editable_files(), space.edits(cfg))
    compile(files["w2s.py"], "w2s.py", "exec")
