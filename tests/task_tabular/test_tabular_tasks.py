"""The tabular tasks (tabular-churn, tabular-demand): they validate; their shared files agree;
every playbook subset applies; [prepare] writes a complete competition, determined by the
secret seed alone; the baseline scores 0 and (slow) the reference 1 on fixed seeds."""

from __future__ import annotations

import itertools
import json
import py_compile
from pathlib import Path

import pytest

from rubicon.task._registry import suites
from rubicon.task._spec import BUILTIN_DIR
from rubicon.workspace import apply_edits

from ._local import COLUMNS, TABULAR, prepare, read_columns, run, score, task, variant

SEEDS = [11, 12, 13]


@pytest.mark.parametrize("name", TABULAR)
def test_task_validates_with_the_competition_contract(name: str) -> None:
    t = task(name)
    id_col, pred_col, metric, _ = COLUMNS[name]
    assert t.family == "tabular"
    assert t.spec.prepare is not None and "{private}" in t.spec.prepare.command
    assert t.spec.evaluate is not None and "{private}" in t.spec.evaluate.command
    assert t.spec.run.artifacts == ["submission.csv"]
    assert t.spec.objective.metric == metric
    assert t.reference is not None and (t.reference / "train.py").is_file()
    assert t.spec.human_minutes and t.spec.human_minutes_basis
    sc = t.spec.score
    assert sc is not None and sc.kind == "linear"
    # the medals climb from the baseline towards the reference, in order
    levels = [s for _, s in t.milestone_scores()]
    assert [m.name for m, _ in t.milestone_scores()] == ["bronze", "silver", "gold"]
    assert 0 < levels[0] < levels[1] < levels[2] <= 1.0
    knobs = json.loads((t.workspace / "knobs.json").read_text())
    assert {k: v.default for k, v in t.spec.knobs.items()} == knobs
    assert name in suites()["core"]


def test_shared_files_are_identical_copies() -> None:
    """competition.py (evaluators) and gbm.py (references, and the playbook's gbm patch) are
    one implementation each, copied per task because a task directory stands alone."""
    churn, demand = BUILTIN_DIR / "tabular-churn", BUILTIN_DIR / "tabular-demand"
    for rel in ("evaluator/competition.py", "reference/gbm.py"):
        assert (churn / rel).read_bytes() == (demand / rel).read_bytes(), rel
    gbm = (churn / "reference" / "gbm.py").read_text()
    for name in TABULAR:
        patch = next(p for p in task(name).playbook if p.name == "gbm")
        assert [e.replace for e in patch.edits if e.file == "gbm.py"] == [gbm]


@pytest.mark.parametrize("name", TABULAR)
def test_every_playbook_subset_applies_and_compiles(name: str, tmp_path: Path) -> None:
    t = task(name)
    files = t.editable_files()
    for r in range(1, len(t.playbook) + 1):
        for combo in itertools.combinations(t.playbook, r):
            out = apply_edits(t, files, [e for p in combo for e in p.edits])
            for rel, text in out.items():
                if rel.endswith(".py"):
                    (tmp_path / rel).write_text(text)
                    py_compile.compile(str(tmp_path / rel), doraise=True)


@pytest.mark.parametrize("name", TABULAR)
def test_prepare_writes_a_complete_competition(name: str, tmp_path: Path) -> None:
    id_col, pred_col, _, target = COLUMNS[name]
    inputs, private = prepare(name, tmp_path, eval_seed=1)
    assert sorted(p.name for p in inputs.iterdir()) == ["sample_submission.csv", "test.csv", "train.csv"]
    assert [p.name for p in private.iterdir()] == ["labels.csv"]
    train, test = read_columns(inputs / "train.csv"), read_columns(inputs / "test.csv")
    sample, labels = read_columns(inputs / "sample_submission.csv"), read_columns(private / "labels.csv")
    assert list(train) == [*test, target]
    assert list(sample) == [id_col, pred_col] and list(labels) == [id_col, target]
    assert sample[id_col] == test[id_col] == labels[id_col]
    assert len(set(test[id_col])) == len(test[id_col]) > 10000
    # every column the description documents is in the data, and nothing else
    doc = (task(name).workspace / "description.md").read_text()
    assert all(f"| `{c}` |" in doc for c in train)
    # missing values exist (the task says so) and are empty cells
    assert any("" in col for col in train.values())


@pytest.mark.parametrize("name", TABULAR)
def test_the_competition_depends_on_the_secret_seed_alone(name: str, tmp_path: Path) -> None:
    a = prepare(name, tmp_path / "a", eval_seed=7, run_seed=1)
    b = prepare(name, tmp_path / "b", eval_seed=7, run_seed=2)
    c = prepare(name, tmp_path / "c", eval_seed=8, run_seed=1)
    for rel in ("train.csv", "test.csv"):
        assert (a[0] / rel).read_bytes() == (b[0] / rel).read_bytes()
        assert (a[0] / rel).read_bytes() != (c[0] / rel).read_bytes()


def _normalized(name: str, kind: str, seed: int, root: Path) -> float:
    t = task(name)
    inputs, private = prepare(name, root, eval_seed=seed)
    m = score(name, run(t, variant(t, kind), inputs, root), private)
    value = m[COLUMNS[name][2]]
    assert isinstance(value, float), m
    sc = t.spec.score
    assert sc is not None
    out = sc.normalize(objective=value)
    assert out is not None
    return out


@pytest.mark.parametrize("name", TABULAR)
def test_baseline_scores_zero(name: str, tmp_path: Path) -> None:
    scores = [_normalized(name, "baseline", s, tmp_path / str(s)) for s in SEEDS]
    assert all(abs(s) < 0.1 for s in scores), scores


@pytest.mark.slow
@pytest.mark.parametrize("name", TABULAR)
def test_reference_scores_one(name: str, tmp_path: Path) -> None:
    scores = [_normalized(name, "reference", s, tmp_path / str(s)) for s in SEEDS]
    assert all(abs(s - 1) < 0.1 for s in scores), scores
