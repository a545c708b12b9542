"""Red-team for the tabular tasks: the cheats a competitor would try, each against its defence.

Direct tests call the harness-owned prepare and score scripts with temp dirs:
- test labels never reach the run's inputs, not even through row order or ids;
- every run's competition is new (a submission built for one run is worthless for the next),
  and made from the secret seed, not from the seed the run is given;
- the leakage trap is a trap: the leaky column predicts the label in train only;
- a submission is judged strictly from its file (format, ids, numbers, size, symlinks);
  hard-coded answers score like guessing.
End-to-end tests run through the real harness (sandbox, [prepare], evaluator).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from task_tabular._local import (
    COLUMNS,
    TABULAR,
    prepare,
    read_columns,
    run,
    score,
    task,
    variant,
    write_submission,
)

from rubicon.measure.judge import TrialJudge
from rubicon.runner.trial import LocalExecutor
from rubicon.task import load_task
from rubicon.types import State

from ._helpers import make_outside_dir, remove_dir


@pytest.fixture(scope="module", params=TABULAR)
def comp(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[tuple[str, Path, Path]]:
    """One prepared competition per task: (task name, inputs, private)."""
    root = tmp_path_factory.mktemp(request.param)
    inputs, private = prepare(request.param, root, eval_seed=4242)
    yield request.param, inputs, private


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    order = np.argsort(np.argsort(s))
    n1 = int(y.sum())
    return float((order[y == 1].sum() - n1 * (n1 - 1) / 2) / (n1 * (len(y) - n1)))


def _labels(private: Path, name: str) -> tuple[list[str], np.ndarray]:
    cols = read_columns(private / "labels.csv")
    id_col, _, _, target = COLUMNS[name]
    return cols[id_col], np.array([float(v) for v in cols[target]])


def _submit(tmp: Path, name: str, rows: list[tuple[str, str]]) -> Path:
    id_col, pred_col, _, _ = COLUMNS[name]
    write_submission(tmp / "artifacts" / "submission.csv", (id_col, pred_col), rows)
    return tmp / "artifacts"


# ---- the labels stay with the evaluator ------------------------------------------------------


def test_test_labels_are_nowhere_in_the_inputs(comp: tuple[str, Path, Path]) -> None:
    """Defence: prepare writes the test labels only to {private}. No input file has the
    target column for test rows, and the labels file's rows appear in no input file."""
    name, inputs, private = comp
    id_col, _, _, target = COLUMNS[name]
    assert target not in read_columns(inputs / "test.csv")
    ids, y = _labels(private, name)
    train_ids = set(read_columns(inputs / "train.csv")[id_col])
    assert not train_ids & set(ids)  # no test row is also a (labelled) train row
    label_rows = set((private / "labels.csv").read_text().splitlines()[1:])
    for f in ("train.csv", "test.csv"):
        assert not label_rows & set((inputs / f).read_text().splitlines()), f
    # the sample submission says the same for every row: no information
    assert len(set(read_columns(inputs / "sample_submission.csv")[COLUMNS[name][1]])) == 1


def test_row_order_and_ids_of_the_test_file_carry_no_label(comp: tuple[str, Path, Path]) -> None:
    """Defence: test rows are shuffled and test ids drawn independently of the target, so
    neither the position nor the id of a test row predicts it."""
    name, inputs, private = comp
    id_col = COLUMNS[name][0]
    ids, y = _labels(private, name)
    if name == "tabular-demand":
        y = (y > np.median(y)).astype(float)
    test_ids = np.array([float(v) for v in read_columns(inputs / "test.csv")[id_col]])
    assert abs(_auc(y, np.arange(len(y)).astype(float)) - 0.5) < 0.03
    assert abs(_auc(y, test_ids) - 0.5) < 0.03


def test_a_submission_built_for_one_run_fails_on_the_next(comp: tuple[str, Path, Path],
                                                          tmp_path: Path) -> None:
    """Defence: a fresh competition per run. Perfect answers learned from one run (through the
    file system, or by hill-climbing its score) are not answers for another run."""
    name, _, private = comp
    ids, y = _labels(private, name)
    perfect = _submit(tmp_path / "a", name, [(i, f"{v:g}") for i, v in zip(ids, y, strict=True)])
    m = score(name, perfect, private)
    assert m[COLUMNS[name][2]] == (1.0 if name == "tabular-churn" else 0.0), m
    _, private2 = prepare(name, tmp_path / "next", eval_seed=4243)
    m2 = score(name, perfect, private2)
    assert "invalid" in m2, m2  # the next run's test rows are other rows


def test_the_run_seed_does_not_reveal_the_competition(tmp_path: Path) -> None:
    """Defence: the data comes from RUBICON_EVAL_SEED (secret). A run knows RUBICON_SEED (= the
    run seed); two runs with the same run seed and different secret seeds get different data,
    and prepare refuses to run without the secret seed."""
    a = prepare("tabular-churn", tmp_path / "a", eval_seed=1, run_seed=99)
    b = prepare("tabular-churn", tmp_path / "b", eval_seed=2, run_seed=99)
    assert (a[1] / "labels.csv").read_bytes() != (b[1] / "labels.csv").read_bytes()
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "RUBICON_EVAL_SEED"}
    (tmp_path / "c" / "i").mkdir(parents=True)
    (tmp_path / "c" / "p").mkdir()
    proc = subprocess.run([sys.executable, str(task("tabular-churn").dir / "evaluator" / "prepare.py"),
                           str(tmp_path / "c" / "i"), str(tmp_path / "c" / "p")],
                          env=env, capture_output=True, text=True)
    assert proc.returncode != 0 and "RUBICON_EVAL_SEED must be set" in proc.stderr
    assert not list((tmp_path / "c" / "i").iterdir())


# ---- the leakage trap -------------------------------------------------------------------------


@pytest.mark.parametrize("name,column", [("tabular-churn", "customer_id"),
                                         ("tabular-demand", "extracted_at")])
def test_the_leaky_column_predicts_in_train_only(name: str, column: str, tmp_path: Path) -> None:
    """The trap the competition sets: in train.csv the id / timestamp follows the target (the
    export's order), in test.csv it does not. A model that uses it validates well on train and
    does worse on test than the baseline (the calibration's `leak` recipe)."""
    inputs, private = prepare(name, tmp_path, eval_seed=77)
    target = COLUMNS[name][3]
    train = read_columns(inputs / "train.csv")
    y_tr = np.array([float(v) for v in train[target]])
    y_tr = (y_tr > np.median(y_tr)).astype(float) if name == "tabular-demand" else y_tr
    assert _auc(y_tr, np.array([float(v) for v in train[column]])) > 0.85
    _, y = _labels(private, name)
    y = (y > np.median(y)).astype(float) if name == "tabular-demand" else y
    assert abs(_auc(y, np.array([float(v) for v in read_columns(inputs / "test.csv")[column]])) - 0.5) < 0.03


def test_using_the_leak_scores_below_the_baseline(tmp_path: Path) -> None:
    t = task("tabular-churn")
    inputs, private = prepare("tabular-churn", tmp_path, eval_seed=78)
    base = score("tabular-churn", run(t, variant(t, "baseline"), inputs, tmp_path / "b"), private)
    files = variant(t, "baseline")
    files["train.py"] = files["train.py"].replace("if c != ID and as_float", "if as_float")
    leak = score("tabular-churn", run(t, files, inputs, tmp_path / "l"), private)
    assert isinstance(leak["auc"], float) and isinstance(base["auc"], float)
    assert leak["auc"] < base["auc"] - 0.05, (leak, base)


# ---- the submission is judged from its file, strictly ----------------------------------------


def _rows(comp: tuple[str, Path, Path]) -> list[tuple[str, str]]:
    name, inputs, _ = comp
    return [(i, "0.5") for i in read_columns(inputs / "test.csv")[COLUMNS[name][0]]]


CASES = {
    "missing": (lambda rows: None, "was not produced"),
    "empty": (lambda rows: "", "is empty"),
    "header": (lambda rows: "id,prediction\n" + "".join(f"{a},{b}\n" for a, b in rows), "header is"),
    "nan": (lambda rows: rows[:5] + [(rows[5][0], "nan")] + rows[6:], "finite number"),
    "inf": (lambda rows: rows[:5] + [(rows[5][0], "inf")] + rows[6:], "finite number"),
    "text": (lambda rows: rows[:5] + [(rows[5][0], "high")] + rows[6:], "is not a number"),
    "negative": (lambda rows: rows[:5] + [(rows[5][0], "-0.1")] + rows[6:], "outside"),
    "duplicate": (lambda rows: rows[:5] + [rows[4]] + rows[6:], "appears twice"),
    "unknown id": (lambda rows: rows[:5] + [("999999999", "0.5")] + rows[6:], "is not a test"),
    "missing rows": (lambda rows: rows[:-10], "missing"),
    "extra field": (lambda rows: rows[:5] + [(rows[5][0], "0.5,1")] + rows[6:], "expected 2 fields"),
    "binary": (lambda rows: b"\xff\xfe\x00garbage" * 100, "not UTF-8"),
    "huge": (lambda rows: "x" * (5 * 1024 * 1024), "bytes; at most"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_malformed_submission_is_invalid_with_its_reason(comp: tuple[str, Path, Path],
                                                           case: str, tmp_path: Path) -> None:
    """Defence: competition.read_submission. Every format break is `invalid: <reason>`, never
    a crash and never a score."""
    name, _, private = comp
    make, reason = CASES[case]
    arts = tmp_path / "artifacts"
    arts.mkdir()
    body: object = make(_rows(comp))  # type: ignore[no-untyped-call]
    if isinstance(body, list):
        rows = [(a, b) for a, b in body]
        text = f"{COLUMNS[name][0]},{COLUMNS[name][1]}\n" + "".join(f"{a},{b}\n" for a, b in rows)
        (arts / "submission.csv").write_text(text)
    elif isinstance(body, bytes):
        (arts / "submission.csv").write_bytes(body)
    elif isinstance(body, str):
        (arts / "submission.csv").write_text(body)
    m = score(name, arts, private)
    invalid = m.get("invalid")
    assert isinstance(invalid, str) and reason in invalid, m
    assert COLUMNS[name][2] not in m


def test_a_symlinked_submission_is_invalid(comp: tuple[str, Path, Path], tmp_path: Path) -> None:
    """Defence in depth (the harness refuses symlinked artifacts first): the evaluator never
    follows a symlink, e.g. one pointing at the labels."""
    name, _, private = comp
    arts = tmp_path / "artifacts"
    arts.mkdir()
    (arts / "submission.csv").symlink_to(private / "labels.csv")
    m = score(name, arts, private)
    assert "symlink" in str(m.get("invalid")), m


def test_row_order_does_not_matter_but_the_id_does(comp: tuple[str, Path, Path],
                                                   tmp_path: Path) -> None:
    """Rows are matched by id: a shuffled submission scores the same; predictions moved to the
    wrong ids (a row-order mistake) score like noise."""
    name, _, private = comp
    ids, y = _labels(private, name)
    rng = np.random.default_rng(0)
    noisy = y + rng.normal(0, 0.5 if name == "tabular-churn" else 3.0, len(y))
    pred = np.clip(noisy, 0, 1) if name == "tabular-churn" else np.clip(noisy, 0, None)
    rows = [(i, f"{v:.5f}") for i, v in zip(ids, pred, strict=True)]
    metric = COLUMNS[name][2]
    ordered = score(name, _submit(tmp_path / "a", name, rows), private)[metric]
    perm = rng.permutation(len(rows))
    shuffled = score(name, _submit(tmp_path / "b", name, [rows[i] for i in perm]), private)[metric]
    wrong = score(name, _submit(tmp_path / "c", name,
                                [(rows[i][0], rows[j][1]) for i, j in enumerate(perm)]), private)[metric]
    assert shuffled == ordered
    assert isinstance(wrong, float) and isinstance(ordered, float)
    assert (wrong < 0.55 < ordered) if name == "tabular-churn" else (wrong > ordered + 0.2)


def test_hard_coded_answers_score_like_guessing(comp: tuple[str, Path, Path], tmp_path: Path) -> None:
    """The sample submission (the same value everywhere) has no information: AUC 0.5; for
    demand it is far worse than the baseline (the median everywhere)."""
    name, inputs, private = comp
    arts = tmp_path / "artifacts"
    arts.mkdir()
    shutil.copy(inputs / "sample_submission.csv", arts / "submission.csv")
    m = score(name, arts, private)
    sc = task(name).spec.score
    assert sc is not None
    value = m[COLUMNS[name][2]]
    assert isinstance(value, float)
    norm = sc.normalize(objective=value)
    assert norm is not None and norm < -0.3, (m, norm)


# ---- end to end, through the harness (needs [prepare] in the runner) -------------------------

LOOK_FOR_LABELS = '''
import csv, os
found = []
for top in ("/", os.path.expanduser("~"), "..", "/tmp", "/var/tmp"):
    for root, dirs, files in os.walk(top):
        if root.count(os.sep) > 6 or root.startswith(("/proc", "/sys", "/dev", "/usr")):
            dirs[:] = []
            continue
        for f in files:
            if f == "labels.csv":
                found.append(os.path.join(root, f))
print(f"found {len(found)} label files", found[:3])
import shutil
shutil.copy("inputs/sample_submission.csv", "submission.csv")
print("auc: 1.0")
print("rmsle: 0.0")
'''


@pytest.fixture
def tabular_runner(request: pytest.FixtureRequest) -> Iterator[LocalExecutor]:
    base = make_outside_dir()
    try:
        d = base / request.param
        shutil.copytree(task(request.param).dir, d, ignore=shutil.ignore_patterns("__pycache__"))
        t = load_task(d)
        yield LocalExecutor(t, base / "runs", TrialJudge.for_task(t))
    finally:
        remove_dir(base)


@pytest.mark.parametrize("tabular_runner", TABULAR, indirect=True)
def test_searching_for_labels_and_printing_a_score_gets_nothing(tabular_runner: LocalExecutor) -> None:
    """The run looks for label files anywhere it can read and prints a perfect score: it finds
    none ({private} is never mounted into the run) and is scored on its (constant) file."""
    t = tabular_runner.run({**tabular_runner.task.editable_files(), "train.py": LOOK_FOR_LABELS})
    assert t.state == State.OK, (t.state, t.reason)
    assert "found 0 label files" in t.facts.output_tail
    metric = tabular_runner.task.spec.objective.metric
    score = tabular_runner.task.spec.score
    assert score is not None and score.baseline is not None
    # a constant submission is no better than the task's baseline model (score <= 0)
    assert (t.metrics[metric] < 0.55) if metric == "auc" else (t.metrics[metric] > score.baseline)


@pytest.mark.parametrize("tabular_runner", TABULAR, indirect=True)
def test_rewriting_the_inputs_is_refused(tabular_runner: LocalExecutor) -> None:
    """inputs/ is read-only for the run; a run that changes it (e.g. to leave itself labels)
    crashes on the read-only mount or is recorded as tampered."""
    code = ('open("inputs/train.csv", "a").write("1,2,3\\n")\n'
            'import shutil; shutil.copy("inputs/sample_submission.csv", "submission.csv")\n')
    t = tabular_runner.run({**tabular_runner.task.editable_files(), "train.py": code})
    assert t.state in (State.CRASHED, State.TAMPERED), (t.state, t.reason)


@pytest.mark.slow
@pytest.mark.parametrize("tabular_runner", TABULAR, indirect=True)
def test_the_reference_runs_through_the_harness(tabular_runner: LocalExecutor) -> None:
    t = tabular_runner.task
    trial = tabular_runner.run(variant(t, "reference"))
    assert trial.state == State.OK, (trial.state, trial.reason)
    sc = t.spec.score
    assert sc is not None
    norm = sc.normalize(objective=trial.metrics[t.spec.objective.metric])
    assert norm is not None and abs(norm - 1) < 0.15
