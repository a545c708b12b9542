"""The baseline and the reference train and export models the evaluator accepts: a miniature
config in seconds, the full configs (which must pass the gate) behind the slow marker."""

from __future__ import annotations

from pathlib import Path

import pytest

from rubicon.task import load_task

from ._helpers import MINI, TASK_DIR, TRAIN_SEED, make_workspace, run_evaluator, run_train


def _train_and_evaluate(tmp_path: Path, overrides: dict, reference: bool, timeout: float = 600):
    ws = make_workspace(tmp_path / "ws", overrides, reference=reference)
    proc = run_train(ws, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    art = tmp_path / "art"
    art.mkdir()
    (ws / "model.pt2").rename(art / "model.pt2")
    return proc, run_evaluator(art, sequences=512 if not overrides else 32, run_seed=TRAIN_SEED)


def test_baseline_miniature_trains_exports_and_is_valid(tmp_path: Path) -> None:
    proc, m = _train_and_evaluate(tmp_path, MINI, reference=False)
    assert "val_loss" in proc.stdout  # its own periodic evaluation ran
    assert "invalid" not in m, m
    assert m["val_loss"] > m["entropy_floor"] + 0.5  # 4 steps of a tiny model learn little


def test_reference_miniature_trains_and_is_valid(tmp_path: Path) -> None:
    mini = {"d_model": 32, "n_layer": 1, "n_head": 2, "steps": 4, "batch_size": 4}
    _, m = _train_and_evaluate(tmp_path, {**mini, "warmup_steps": 2}, reference=True)
    assert "invalid" not in m, m


def test_train_without_export_leaves_no_artifact_and_is_invalid(tmp_path: Path) -> None:
    ws = make_workspace(tmp_path / "ws", MINI)
    text = (ws / "train.py").read_text()
    cut = text.index("    model.eval()\n    wrapped = LogProbs(model)")
    (ws / "train.py").write_text(text[:cut] + "\n\nif __name__ == '__main__':\n    main()\n")
    assert run_train(ws).returncode == 0
    art = tmp_path / "art"
    art.mkdir()
    assert not (ws / "model.pt2").exists()
    assert "no model.pt2" in str(run_evaluator(art).get("invalid"))


@pytest.mark.slow
@pytest.mark.parametrize("reference", [False, True], ids=["baseline", "reference"])
def test_full_training_passes_the_gate(tmp_path: Path, reference: bool) -> None:
    gate = load_task(TASK_DIR).spec.gates[0]
    _, m = _train_and_evaluate(tmp_path, {}, reference=reference, timeout=1800)
    assert "invalid" not in m, m
    ok, why = gate.check(m)
    assert ok, why
