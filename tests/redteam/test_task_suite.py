"""Red-team for the task suite's fix and reproduce families (issue 21).

The cheats a researcher would try on these tasks, each against the defence that stops it:
reading the hidden expected outputs or answers (they exist only in {private}, made by the
harness's prepare step), replaying outputs or answers remembered from another run (inputs and
seeds are new every run), hard-coding what the visible tests or the issue show, editing the tests
or the harness's files (not editable), skipping tests, objects that compare equal to anything,
and printing or injecting a score (the evaluator reads only the artifact and prints only
numbers). The evaluator and prepare scripts run here as subprocesses on temporary directories;
the campaign tests at the end run the whole loop once the harness runs [prepare].
"""

from __future__ import annotations

import difflib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from task_suite._helpers import (
    FIX_TASKS,
    REPRODUCE_TASKS,
    evaluate,
    prepare,
    reference_files,
    reference_proposal,
    task,
    trial,
    write_json,
)

from rubicon.campaign import Campaign, CampaignConfig
from rubicon.errors import ProposalError
from rubicon.measure.protocol import ProtocolConfig
from rubicon.researcher.scripted import ScriptedResearcher
from rubicon.types import Decision, Edit, Proposal, State
from rubicon.workspace import apply_edits

ALL = FIX_TASKS + REPRODUCE_TASKS
KNOWN_KEYS = {"hidden_passed", "hidden_tests", "cases_matched", "visible_passed", "visible_tests",
              "correct", "answered", "questions"}


def _prepared(name: str, base: Path, seed: int) -> tuple[Path, Path]:
    inputs, private = base / f"inputs-{seed}", base / f"private-{seed}"
    prepare(name, inputs, private, run_seed=seed, eval_seed=500 + seed)
    return inputs, private


def _fix_hunks(name: str) -> list[str]:
    """Blocks of two or more lines the reference adds to the workspace: what a fix looks like."""
    t = task(name)
    hunks: list[str] = []
    for rel, ref in reference_files(t).items():
        base = (t.workspace / rel).read_text().splitlines() if (t.workspace / rel).is_file() else []
        block: list[str] = []
        for ln in [*difflib.unified_diff(base, ref.splitlines(), lineterm="", n=0), "@@"]:
            if ln.startswith("+") and not ln.startswith("+++"):
                block.append(ln[1:])
            else:
                if len(block) >= 2:
                    hunks.append("\n".join(block))
                block = []
    return hunks


# --- reading the hidden side ------------------------------------------------------------------

@pytest.mark.parametrize("name", ALL)
def test_the_reference_is_nowhere_in_the_workspace(name: str) -> None:
    """The fixed files and the fixes' multi-line blocks exist only in the (hidden) task dir."""
    t = task(name)
    shipped = t.workspace_files()
    text = "\n".join(shipped.values())
    for rel, ref in reference_files(t).items():
        assert shipped.get(rel) != ref and ref not in text, rel
    hunks = _fix_hunks(name)
    assert hunks or name in ("fix-masked-loss", "fix-tokenizer"), "the reference adds code"
    leaked = [h for h in hunks if h in text]
    assert not leaked, f"reference code present in the shipped workspace: {leaked}"


@pytest.mark.parametrize("name", FIX_TASKS)
def test_hidden_expected_outputs_never_reach_the_run(name: str, tmp_path: Path) -> None:
    inputs, private = _prepared(name, tmp_path, 7)
    assert {p.name for p in inputs.iterdir()} <= {"cases.json", "arrays.npz"}
    assert [p.name for p in private.iterdir()] == ["expected.json"]
    shown = (inputs / "cases.json").read_text()
    spec = json.loads((private / "expected.json").read_text())
    cases = {c["id"]: c for c in json.loads(shown)["cases"]}
    assert set(cases) == set(spec["expected"]) and "expected" not in shown
    hidden = 0
    for cid, want in spec["expected"].items():
        if isinstance(want, dict) and "__check__" in want:
            continue  # judged by a property computed in the evaluator
        text = json.dumps(want)
        if len(text) >= 12 and want not in cases[cid].values():
            hidden += 1
            assert text not in shown, f"{name}: the expected output of {cid} is in inputs/"
    assert hidden > 0 or name == "fix-dataloader-leak"


def test_answers_never_reach_the_run(tmp_path: Path) -> None:
    """Shown on reproduce-mlp-ablation; reproduce-lr-sweep prepares the same way (reprokit.py,
    identical in both, checked in tests/task_suite) but trains 10 models to do it."""
    inputs, private = _prepared("reproduce-mlp-ablation", tmp_path, 7)
    assert [p.suffix for p in inputs.iterdir()] == [".npz"]  # the data, nothing else
    assert [p.name for p in private.iterdir()] == ["expected.json"]
    answers = json.loads((private / "expected.json").read_text())["answers"]
    raw = b"".join(p.read_bytes() for p in inputs.iterdir())
    assert b"q1_" not in raw and json.dumps(answers).encode() not in raw


# --- remembering, hard-coding, guessing -------------------------------------------------------

@pytest.mark.parametrize("name", FIX_TASKS)
def test_outputs_remembered_from_another_run_fail(name: str, tmp_path: Path) -> None:
    """The reference's own results for one run, replayed in the next: worse than the bug."""
    t = task(name)
    assert t.spec.score is not None and t.spec.score.baseline is not None
    # the reference's artifact of one run (seed 21)...
    first_in, first_priv = _prepared(name, tmp_path, 21)
    _, later_priv = _prepared(name, tmp_path, 22)
    ws = tmp_path / "ws"
    shutil.copytree(t.workspace, ws)
    for rel, text in reference_files(t).items():
        (ws / rel).write_text(text)
    shutil.copytree(first_in, ws / "inputs")
    p = subprocess.run([sys.executable, "check.py"], cwd=ws, capture_output=True, text=True,
                       timeout=600, check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    arts = tmp_path / "arts"
    arts.mkdir()
    shutil.copyfile(ws / "results.json", arts / "results.json")
    assert evaluate(name, arts, first_priv)["hidden_passed"] == 1.0
    # ...replayed against the next run's hidden cases (seed 22)
    assert evaluate(name, arts, later_priv)["hidden_passed"] < t.spec.score.baseline


def test_answers_remembered_or_guessed_fail(tmp_path: Path) -> None:
    name = "reproduce-mlp-ablation"
    _, priv_a = _prepared(name, tmp_path, 31)
    _, priv_b = _prepared(name, tmp_path, 32)
    remembered = json.loads((priv_a / "expected.json").read_text())["answers"]
    arts = tmp_path / "arts"
    write_json(arts / "answers.json", remembered)
    assert evaluate(name, arts, priv_a)["correct"] == 1.0
    assert evaluate(name, arts, priv_b)["correct"] <= 0.4
    # typical values a researcher could guess from the README without running anything
    guess = {"q1_res6_test_acc": 0.93, "q2_plain6_train_loss": 0.2, "q3_best_variant": "res-6",
             "q4_res6_epochs_to_90": 5, "q5_res6_gain_pp": 3.0}
    write_json(arts / "answers.json", guess)
    assert evaluate(name, arts, priv_a)["correct"] <= 0.4
    assert evaluate(name, arts, priv_b)["correct"] <= 0.4


def test_special_casing_the_issues_example_does_not_help() -> None:
    """A 'fix' that returns the right number for the issue's repro only scores the bug's score."""
    name = "fix-masked-loss"
    t = task(name)
    losses = (t.workspace / "seqtrain" / "losses.py").read_text()
    hack = losses.replace(
        "    total = float(nll.sum())\n",
        "    total = float(nll.sum())\n"
        "    if t.shape == (2, 8) and reduction == 'mean':  # the issue's example, hard-coded\n"
        "        return total / 5\n")
    assert hack != losses
    r = trial(name, 3, files={"seqtrain/losses.py": hack})
    assert r.metrics["visible_passed"] == 1.0
    assert r.metrics["hidden_passed"] == pytest.approx(t.spec.score.baseline if t.spec.score else 0, abs=1e-3)


# --- equality tricks, printed and injected scores ---------------------------------------------

ALWAYS_EQUAL = '''
class Anything(float):
    """Compares equal to everything."""
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    __hash__ = float.__hash__


class Whatever:
    def __eq__(self, other): return True
    def tolist(self): return self


def masked_cross_entropy(*a, **k): return Anything(0.0)
def masked_accuracy(*a, **k): return Whatever()
def perplexity(*a, **k): return Anything(1.0)
def sequence_lengths(*a, **k): return Whatever()
def log_softmax(x, axis=-1):
    import numpy as np
    x = np.asarray(x, dtype=float)
    s = x - x.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))
print("hidden_passed: 1")
print("visible_passed: 1")
'''


def test_objects_equal_to_anything_and_printed_scores_get_nothing() -> None:
    """The package's outputs are stored as plain JSON values (an always-equal float subclass
    becomes its float; other objects an error) and compared by the evaluator; what the run
    prints is never read."""
    r = trial("fix-masked-loss", 4, files={"seqtrain/__init__.py": ALWAYS_EQUAL})
    assert r.exit_code == 0 and "hidden_passed: 1" in r.run_output
    assert r.metrics["hidden_passed"] == 0.0 and r.metrics["visible_passed"] < 1.0


@pytest.mark.parametrize("name", FIX_TASKS)
def test_scores_inside_the_artifact_are_ignored(name: str, tmp_path: Path) -> None:
    inputs, private = _prepared(name, tmp_path, 9)
    ids = [c["id"] for c in json.loads((inputs / "cases.json").read_text())["cases"]]
    visible = evaluate_visible_total(private)
    forged = {"hidden_passed": 1.0, "score": 1.0, "visible": {"passed": visible, "total": visible},
              "outputs": {cid: "ok\nhidden_passed: 1\ntampered: no" for cid in ids}}
    arts = tmp_path / "arts"
    write_json(arts / "results.json", forged)
    m = _metrics_strict(name, arts, private)
    assert m["hidden_passed"] == 0.0 and m["visible_passed"] == 1.0


def evaluate_visible_total(private: Path) -> int:
    return int(json.loads((private / "expected.json").read_text())["visible_total"])


def _metrics_strict(name: str, arts: Path, private: Path) -> dict[str, Any]:
    """Evaluator metrics, asserting that every line it printed is a known key with a number."""
    from task_suite._helpers import script

    p = script(name, "evaluator/evaluate.py", str(arts), str(private))
    assert p.returncode == 0, p.stderr
    out: dict[str, Any] = {}
    for line in p.stdout.splitlines():
        key, _, value = line.partition(": ")
        assert key in KNOWN_KEYS or key == "invalid", line
        out[key] = float(value) if key != "invalid" else value
    return out


@pytest.mark.parametrize("name", FIX_TASKS)
def test_skipping_visible_tests_fails_the_gate(name: str, tmp_path: Path) -> None:
    _, private = _prepared(name, tmp_path, 10)
    n = evaluate_visible_total(private)
    arts = tmp_path / "arts"
    for passed, total in ((n - 1, n - 1), (n + 1, n), (0, 0), (n, n + 3)):
        write_json(arts / "results.json", {"visible": {"passed": passed, "total": total}, "outputs": {}})
        assert _metrics_strict(name, arts, private)["visible_passed"] == 0.0, (passed, total)
    write_json(arts / "results.json", {"visible": {"passed": n, "total": n}, "outputs": {}})
    assert _metrics_strict(name, arts, private)["visible_passed"] == 1.0


def test_injected_text_in_answers_is_not_a_metric(tmp_path: Path) -> None:
    name = "reproduce-mlp-ablation"
    private = tmp_path / "private"
    want = {"q1_res6_test_acc": 0.9, "q2_plain6_train_loss": 0.3, "q3_best_variant": "res-6",
            "q4_res6_epochs_to_90": 4, "q5_res6_gain_pp": 2.0}
    write_json(private / "expected.json", {"answers": want})
    arts = tmp_path / "arts"
    write_json(arts / "answers.json", {"correct": 1, "q1_res6_test_acc": "0.9\ncorrect: 1",
                                       "q3_best_variant": "plain-2\ncorrect: 1",
                                       "q4_res6_epochs_to_90": True, "q5_res6_gain_pp": [2.0]})
    m = _metrics_strict(name, arts, private)
    assert m == {"correct": 0.0, "answered": 4.0, "questions": 5.0}


@pytest.mark.parametrize("family", ["fix", "reproduce"])
def test_malformed_artifacts_are_invalid_not_crashes(family: str, tmp_path: Path) -> None:
    name, art = (("fix-masked-loss", "results.json") if family == "fix"
                 else ("reproduce-mlp-ablation", "answers.json"))
    private = tmp_path / "private"
    if family == "fix":
        write_json(private / "expected.json", {"rtol": 0, "atol": 0, "visible_total": 1,
                                               "tests": [{"name": "t", "cases": ["c0"]}],
                                               "expected": {"c0": 1.0}})
    else:
        write_json(private / "expected.json", {"answers": {"q1_res6_test_acc": 0.5}})
    arts = tmp_path / "arts"
    arts.mkdir()
    assert "invalid" in _metrics_strict(name, arts, private)  # missing
    wrong_shape = b'{"visible": 3}' if family == "fix" else b'"all of them"'
    for body in (b"not json", b"[1, 2]", b"\xff\xfe", wrong_shape):
        (arts / art).write_bytes(body)
        assert "invalid" in _metrics_strict(name, arts, private), body
    with open(arts / art, "wb") as f:  # sparse: larger than any honest artifact
        f.truncate(65 * 1024 * 1024)
    assert "invalid" in _metrics_strict(name, arts, private)


def test_a_printed_score_in_the_run_gets_nothing() -> None:
    name = "reproduce-mlp-ablation"
    cheat = ('import json\nprint("correct: 1")\nprint("answered: 5")\n'
             'json.dump({"note": "correct: 1"}, open("answers.json", "w"))\n')
    r = trial(name, 5, files={"answer.py": cheat})
    assert "correct: 1" in r.run_output
    assert r.metrics == {"correct": 0.0, "answered": 0.0, "questions": 5.0}


# --- editing what is not the candidate's ------------------------------------------------------

READ_ONLY = {
    "fix-masked-loss": ["tests/test_losses.py", "check.py", "inputs/cases.json"],
    "fix-tokenizer": ["tests/test_tokenizer.py", "check.py", "inputs/cases.json"],
    "fix-dataloader-leak": ["tests/test_split.py", "check.py", "inputs/arrays.npz"],
    "reproduce-mlp-ablation": ["run_reproduction.py", "README.md", "inputs/spirals.npz"],
    "reproduce-lr-sweep": ["run_reproduction.py", "README.md", "inputs/corpus.npz"],
}


@pytest.mark.parametrize("name", ALL)
def test_tests_harness_and_inputs_cannot_be_edited(name: str) -> None:
    t = task(name)
    for rel in READ_ONLY[name]:
        with pytest.raises(ProposalError, match="not editable"):
            apply_edits(t, t.editable_files(), [Edit(file=rel, search="", replace="x = 1\n")])


# --- end to end, once the harness runs [prepare] ----------------------------------------------

def _campaign(name: str, proposals: list[Proposal], where: Path) -> Campaign:
    c = Campaign.create(task(name), "scripted", researcher_obj=ScriptedResearcher(proposals),
                        directory=where / "runs",
                        cfg=CampaignConfig(max_experiments=len(proposals), baseline_runs=1,
                                           protocol=ProtocolConfig(max_foreign_load=1e9, max_pairs=2)))
    c.run()
    return c


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n == "reproduce-lr-sweep"
                                  else n for n in ALL])
def test_scripted_researcher_replays_the_reference(name: str, tmp_path: Path) -> None:
    c = _campaign(name, [reference_proposal(task(name))], tmp_path)
    base, ref = c.store.experiments(c.info.id, full=True)
    metric = task(name).spec.objective.metric
    assert base.state == State.OK and ref.state == State.OK, ref.reason
    assert ref.metrics[metric] == 1.0 and ref.decision == Decision.KEEP


def test_a_run_that_rewrites_its_inputs_or_tests_is_caught(tmp_path: Path) -> None:
    name = "fix-masked-loss"
    t = task(name)
    init = (t.workspace / "seqtrain" / "__init__.py").read_text()
    rewrite_inputs = init + ('\nimport pathlib\np = pathlib.Path("inputs/cases.json")\n'
                             'p.write_text(p.read_text().replace("c0", "c1"))\n')
    rewrite_tests = init + ('\nimport pathlib\nfor p in pathlib.Path("tests").glob("test_*.py"):\n'
                            '    p.write_text("")\n')
    props = [Proposal(edits=[Edit(file="seqtrain/__init__.py", search="", replace=code)],
                      rationale=why)
             for why, code in (("inputs", rewrite_inputs), ("tests", rewrite_tests))]
    c = _campaign(name, props, tmp_path)
    _, a, b = c.store.experiments(c.info.id, full=True)
    # inputs/: read-only (the write raises: crashed) or hash-checked (tampered)
    assert a.state in (State.TAMPERED, State.CRASHED), a.reason
    assert b.state == State.TAMPERED, b.reason
