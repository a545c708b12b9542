"""The lm-speedrun evaluator: loads exported models without candidate code, rejects models that
peek at the future or return unnormalized scores, rejects missing/garbage artifacts and
TorchScript, and scores fresh held-out data. (Attacks on the loader, state and compute:
test_artifact_safety.py, test_state_and_compute.py.)"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import pytest

from ._helpers import run_evaluator

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

V = 74  # the language's vocabulary (data.py VOCAB_SIZE)
B, T = 32, 128


class Bigram(nn.Module):
    """Causal and normalized: position t looks only at token t."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.table = nn.Embedding(V, V)

    def forward(self, idx):
        return F.log_softmax(self.table(idx), dim=-1)


class PeekNext(nn.Module):
    """Normalized, but position t puts its mass on token t + 1: a future-peeking cheat."""

    def forward(self, idx):
        nxt = torch.cat([idx[:, 1:], idx[:, :1]], dim=1)
        return F.log_softmax(F.one_hot(nxt, V).float() * 20.0, dim=-1)


class PeekOnce(nn.Module):
    """Leaks only at one position (t = 77 sees token 100): must still be caught."""

    def __init__(self) -> None:
        super().__init__()
        self.table = nn.Embedding(V, V)

    def forward(self, idx):
        logits = self.table(idx)
        leak = torch.zeros_like(logits)
        leak[:, 77] = F.one_hot(idx[:, 100], V).float()
        return F.log_softmax(logits + leak, dim=-1)


class Unnormalized(nn.Module):
    """Causal raw scores, not log-probs."""

    def __init__(self) -> None:
        super().__init__()
        self.table = nn.Embedding(V, V)

    def forward(self, idx):
        return self.table(idx)


class InflatedProbs(nn.Module):
    """log_softmax + 0.5: every 'probability' scaled by e^0.5, which would lower the loss."""

    def forward(self, idx):
        logp = F.log_softmax(torch.zeros(idx.shape[0], idx.shape[1], V), dim=-1)
        return logp + 0.5 + idx[..., None] * 0.0


class WrongShape(nn.Module):
    def forward(self, idx):
        return F.log_softmax(torch.zeros(idx.shape[0], idx.shape[1], V - 1), dim=-1)


class MakesNaN(nn.Module):
    def forward(self, idx):
        out = F.log_softmax(torch.zeros(idx.shape[0], idx.shape[1], V), dim=-1)
        return out * (idx[..., None] * 0.0 + float("nan"))


def export(model: nn.Module, path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    ep = torch.export.export(model.eval(), (torch.zeros(B, T, dtype=torch.long),))
    torch.export.save(ep, str(path / "model.pt2"))
    return path


def script(model: nn.Module, path: Path) -> Path:  # TorchScript: refused by the evaluator
    path.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        traced = torch.jit.trace(model.eval(), (torch.zeros(B, T, dtype=torch.long),))
    traced.save(str(path / "model.pt2"))
    return path


def test_valid_exported_model_is_scored(tmp_path: Path) -> None:
    m = run_evaluator(export(Bigram(), tmp_path / "a"), seed=3)
    assert "invalid" not in m, m
    assert 0.93 < m["entropy_floor"] < 1.03  # the generator's true loss on these sequences
    assert m["val_loss"] > m["entropy_floor"]  # a random bigram table is far from the floor
    assert m["loss_above_floor"] == pytest.approx(m["val_loss"] - m["entropy_floor"], abs=1e-5)
    assert m["max_abs_logsumexp"] < 1e-4
    assert m["max_causal_leak"] == 0.0
    assert m["eval_tokens"] == 4 * B * T  # at least the 4 probe batches
    assert m["model_calls"] == 8  # 4 batches + 4 causality probes, each on a fresh load
    assert 0 < m["max_call_cpu_seconds"] < 1.0  # a bigram table is cheap
    assert m["eval_cpu_seconds"] >= m["max_call_cpu_seconds"]  # the evaluator's own CPU time
    assert m["load_seconds"] > 0


def test_torchscript_archive_is_refused(tmp_path: Path) -> None:
    """TorchScript is out of the contract: torch.jit.load runs code stored in the archive."""
    m = run_evaluator(script(Bigram(), tmp_path / "a"), seed=3)
    assert "TorchScript archive: not accepted" in str(m.get("invalid")), m
    assert "val_loss" not in m


def test_uniform_model_scores_log_vocab(tmp_path: Path) -> None:
    class Uniform(nn.Module):
        def forward(self, idx):
            return torch.full((idx.shape[0], idx.shape[1], V), -math.log(V)) + idx[..., None] * 0.0

    m = run_evaluator(export(Uniform(), tmp_path / "a"))
    assert m["val_loss"] == pytest.approx(math.log(V), abs=1e-4)


def test_held_out_data_is_fresh_per_eval_seed(tmp_path: Path) -> None:
    art = export(Bigram(), tmp_path / "a")
    a, b, c = run_evaluator(art, seed=1), run_evaluator(art, seed=1), run_evaluator(art, seed=2)
    assert a["val_loss"] == b["val_loss"]
    assert a["entropy_floor"] != c["entropy_floor"]
    assert a["val_loss"] != c["val_loss"]


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        (PeekNext(), "peeks at future tokens"),
        (PeekOnce(), "peeks at future tokens"),
        (Unnormalized(), "not normalized"),
        (InflatedProbs(), "not normalized"),
        (WrongShape(), "shape"),
        (MakesNaN(), "NaN"),
    ],
    ids=["peek-next", "peek-once", "raw-logits", "inflated", "wrong-shape", "nan"],
)
def test_bad_models_are_invalid(tmp_path: Path, model: nn.Module, reason: str) -> None:
    m = run_evaluator(export(model, tmp_path / "a"))
    assert reason in str(m.get("invalid", "")), m
    assert "val_loss" not in m


def test_missing_artifact_is_invalid(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    m = run_evaluator(tmp_path / "a")
    assert "no model.pt2" in str(m.get("invalid", "")), m


def test_garbage_artifact_is_invalid(tmp_path: Path) -> None:
    art = tmp_path / "a"
    art.mkdir()
    (art / "model.pt2").write_bytes(b"\x00not a model" * 100)
    assert "not a torch.export archive" in str(run_evaluator(art).get("invalid"))


def test_zip_that_is_not_a_model_is_invalid(tmp_path: Path) -> None:
    art = tmp_path / "a"
    art.mkdir()
    with zipfile.ZipFile(art / "model.pt2", "w") as z:
        z.writestr("hello.txt", "hi")
    assert "one top folder" in str(run_evaluator(art).get("invalid"))


def test_corrupt_export_archive_is_invalid(tmp_path: Path) -> None:
    art = export(Bigram(), tmp_path / "a")
    data = (art / "model.pt2").read_bytes()
    with zipfile.ZipFile(art / "model.pt2") as z:
        names = z.namelist()
    with zipfile.ZipFile(art / "model.pt2", "w") as z:
        z.writestr(next(n for n in names if n.endswith("archive_format")), "pt2")
    assert len(data) > 0
    m = run_evaluator(art)
    assert "'models/model.json' is missing" in str(m.get("invalid")), m
