"""Red-team for the rd tasks (posttrain, weak-to-strong): the cheats a researcher would try.

posttrain runs through the real harness (LocalExecutor: sandboxed run, artifacts only, then
the evaluator): printing a score instead of exporting a model, replacing the base model (a fresh
model from the base's own initialization, another architecture, a pickle), and looking for the
evaluator's seed or questions. weak-to-strong's prepare and evaluate scripts are called directly
with temp dirs (fast, small sizes), and one end-to-end test runs it through the harness.
Each defence is named in the test's docstring; each test fails without it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from task_rd._helpers import POSTTRAIN, W2S, parse, run_script, workspace

from rubicon.runner.trial import LocalExecutor
from rubicon.task import load_task
from rubicon.types import State

from ._helpers import local_executor, make_outside_dir, remove_dir

torch = pytest.importorskip("torch")

HEADER = '''
import json, os, torch
from gpt import GPT, Classifier, load_weights, model_tensors, save_weights
'''

SCORE_ONLY = HEADER + '''
print("accuracy: 1.0")
print("exact_accuracy: 1.0")
print("recovery: 2.0")
'''

# The base's own initialization (the build's seed): the closest a model trained from scratch
# can start to the base.
FROM_SCRATCH = HEADER + '''
torch.manual_seed(0)
save_weights("model.rbw", model_tensors(GPT()))
'''

WIDER = HEADER + '''
from gpt import CONFIG
save_weights("model.rbw", model_tensors(GPT({**CONFIG, "d_model": 160})))
'''

PICKLED = HEADER + '''
base, _ = load_weights("base/base.rbw")
torch.save(base, "model.rbw")
'''

# Exports the base unchanged, and reports what it could find of the evaluator's secrets: the
# eval seed in its environment, the evaluator at the task's real path (the test tells it), and
# the built-in tasks of the rubicon package it can import.
SNOOP = HEADER + '''
base, _ = load_weights("base/base.rbw")
save_weights("model.rbw", base)
print("eval_seed_env", os.environ.get("RUBICON_EVAL_SEED"))
seen = os.path.exists("{task}/evaluator/questions.py")
try:
    import rubicon.task
    seen = seen or os.path.exists(os.path.join(os.path.dirname(rubicon.task.__file__),
                                               "builtin", "posttrain", "evaluator"))
except Exception:
    pass
print("evaluator_visible", seen)
'''


@pytest.fixture(scope="module")
def posttrain_runner() -> Iterator[LocalExecutor]:
    """The real posttrain task, copied outside /tmp (the sandbox hides /tmp anyway)."""
    base = make_outside_dir()
    try:
        d = base / "posttrain"
        shutil.copytree(POSTTRAIN, d, ignore=shutil.ignore_patterns("__pycache__"))
        yield local_executor(load_task(d), base / "runs")
    finally:
        remove_dir(base)


def _run(runner: LocalExecutor, code: str):  # type: ignore[no-untyped-def]
    return runner.run({**runner.task.editable_files(), "posttrain.py": code})


def test_printing_a_score_instead_of_exporting_a_model_is_invalid(posttrain_runner: LocalExecutor) -> None:
    """Defence: metrics come from the evaluator reading artifacts, never from the run's output;
    a missing model.rbw makes the candidate invalid before any evaluation."""
    t = _run(posttrain_runner, SCORE_ONLY)
    assert t.state == State.INVALID, (t.state, t.reason)
    assert "model.rbw" in t.reason
    assert "accuracy" not in t.metrics and "recovery" not in t.metrics


def test_a_model_trained_from_scratch_is_invalid(posttrain_runner: LocalExecutor) -> None:
    """Defence: gpt.relative_distance <= 0.4 from the base (evaluate.load_candidate). Even the
    base's own initialization is 0.77 away; without the check this model would be scored."""
    t = _run(posttrain_runner, FROM_SCRATCH)
    assert t.state == State.INVALID, (t.state, t.reason)
    assert "not post-trained from the base model" in t.reason


@pytest.mark.parametrize(("code", "why"), [(WIDER, "has shape"), (PICKLED, "magic")],
                         ids=["other-architecture", "pickle"])
def test_another_architecture_or_a_pickle_is_invalid(posttrain_runner: LocalExecutor, code: str,
                                                     why: str) -> None:
    """Defence: the evaluator reads raw tensors into its own copy of the architecture and checks
    every name and shape (gpt.check_shapes); a pickle is refused unread (gpt.load_weights)."""
    t = _run(posttrain_runner, code)
    assert t.state == State.INVALID, (t.state, t.reason)
    assert why in t.reason


def test_the_run_sees_no_eval_seed_and_no_evaluator(posttrain_runner: LocalExecutor) -> None:
    """Defence: the eval seed exists only in the evaluator's environment, and the task directory
    (evaluator, reference) is hidden from the run; the honest export is scored normally."""
    t = _run(posttrain_runner, SNOOP.replace("{task}", str(posttrain_runner.task.dir)))
    assert t.state == State.OK, (t.state, t.reason)
    assert "eval_seed_env None" in t.facts.output_tail
    assert "evaluator_visible False" in t.facts.output_tail
    assert t.metrics["distance_from_base"] == 0.0 and t.metrics["exact_accuracy"] < 0.05


# ---- weak-to-strong: prepare and evaluate called directly ---------------------------------------

SIZES = "400,400,300"


def _prepare(tmp: Path, seed: int = 11) -> tuple[Path, Path]:
    inputs, private = tmp / "inputs", tmp / "private"
    inputs.mkdir()
    private.mkdir()
    proc = run_script([str(W2S / "evaluator" / "prepare.py"), str(W2S), str(inputs), str(private)],
                      cwd=tmp, RUBICON_EVAL_SEED=str(seed), WEAK_TO_STRONG_SIZES=SIZES)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return inputs, private


@pytest.fixture(scope="module")
def w2s_prepared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return _prepare(tmp_path_factory.mktemp("w2s"))


def _w2s_run(tmp: Path, inputs: Path, code: str | None = None) -> Path:
    ws = workspace(W2S, tmp / "ws")
    shutil.copytree(inputs, ws / "inputs")
    if code is not None:
        (ws / "w2s.py").write_text(code)
    proc = run_script(["w2s.py"], cwd=ws, RUBICON_SEED="3")
    assert proc.returncode == 0, proc.stderr[-2000:]
    art = tmp / "art"
    art.mkdir()
    if (ws / "strong.rbw").exists():
        shutil.copy(ws / "strong.rbw", art / "strong.rbw")
    return art


def _w2s_eval(art: Path, private: Path) -> dict[str, object]:
    proc = run_script([str(W2S / "evaluator" / "evaluate.py"), str(W2S), str(art), str(private)],
                      cwd=art.parent)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return parse(proc.stdout)


def test_w2s_inputs_hold_no_truth_and_no_test_documents(w2s_prepared: tuple[Path, Path]) -> None:
    """Defence: prepare.py writes only documents and the weak supervisor's answers to inputs/;
    the true labels, the rule and the held-out documents stay in private/."""
    inputs, private = w2s_prepared
    assert sorted(p.name for p in inputs.iterdir()) == ["train.json"]
    data = json.loads((inputs / "train.json").read_text())
    assert sorted(data) == ["tokens", "weak_label", "weak_prob"]
    held = json.loads((private / "heldout.json").read_text())
    assert not {tuple(t) for t in data["tokens"]} & {tuple(t) for t in held["tokens"]}
    # the weak labels are not the truth in disguise
    agree = sum(a == b for a, b in zip(data["weak_label"], held["train_labels"], strict=True))
    assert agree / len(data["weak_label"]) < 0.95


def test_w2s_printing_a_score_is_invalid(tmp_path: Path, w2s_prepared: tuple[Path, Path]) -> None:
    """Defence: the evaluator scores strong.rbw only; a run that prints a PGR exports nothing."""
    inputs, private = w2s_prepared
    m = _w2s_eval(_w2s_run(tmp_path, inputs, SCORE_ONLY), private)
    assert "strong.rbw" in str(m.get("invalid")), m


def test_w2s_replacing_the_base_model_is_invalid(tmp_path: Path, w2s_prepared: tuple[Path, Path]) -> None:
    """Defence: the strong model's body must stay within 0.4 of the base (as in posttrain)."""
    inputs, private = w2s_prepared
    code = HEADER + 'torch.manual_seed(0)\nsave_weights("strong.rbw", model_tensors(Classifier()))\n'
    m = _w2s_eval(_w2s_run(tmp_path, inputs, code), private)
    assert "not trained from the base model" in str(m.get("invalid")), m


def test_w2s_weak_and_ceiling_come_from_private_not_from_the_run(
        tmp_path: Path, w2s_prepared: tuple[Path, Path]) -> None:
    """Defence: the weak supervisor's and the ceiling's accuracies are measured by prepare.py
    (before the run, from private/ data); a run that rewrote its weak labels (in the harness:
    inputs/ is read-only and hash-checked) changes nothing the evaluator reports about them."""
    inputs, private = w2s_prepared
    honest = _w2s_eval(_w2s_run(tmp_path / "a", inputs), private)
    assert "invalid" not in honest, honest
    forged = tmp_path / "forged"
    shutil.copytree(inputs, forged)
    data = json.loads((forged / "train.json").read_text())
    data["weak_label"] = [1 - y for y in data["weak_label"]]  # "edit the weak supervisor"
    (forged / "train.json").write_text(json.dumps(data))
    m = _w2s_eval(_w2s_run(tmp_path / "b", forged), private)
    assert m["weak_accuracy"] == honest["weak_accuracy"]
    assert m["ceiling_accuracy"] == honest["ceiling_accuracy"]
    assert m["pgr"] < honest["pgr"]  # flipped labels only hurt


@pytest.mark.slow
def test_w2s_through_the_harness_keeps_private_data_private() -> None:
    """End to end: a run that searches for heldout.json and the evaluator finds neither, cannot
    write inputs/ (tampered), and its honest export is scored."""
    base = make_outside_dir()
    try:
        d = base / "weak-to-strong"
        shutil.copytree(W2S, d, ignore=shutil.ignore_patterns("__pycache__"))
        runner = local_executor(load_task(d), base / "runs")
        # where the private data really is on the host: under `base` (the campaign's work
        # dir holds {private}); a search of the whole root would not end within the time limit
        find = f"import glob\nprint('found', len(glob.glob({str(base) + '/**/heldout.json'!r}, recursive=True)))"
        snoop = runner.task.editable_files()["w2s.py"].replace("def main():", find + "\n\n\ndef main():")
        t = runner.run({**runner.task.editable_files(), "w2s.py": snoop})
        assert t.state == State.OK, (t.state, t.reason)
        assert "found 0" in t.facts.output_tail
        write = HEADER + 'open("inputs/train.json", "w").write("{}")\n'
        t = runner.run({**runner.task.editable_files(), "w2s.py": write})
        assert t.state in (State.TAMPERED, State.CRASHED), (t.state, t.reason)
    finally:
        remove_dir(base)
