"""Artifacts that keep state between calls, and free compute inside the evaluator (issue 18,
classes 2 and 4 for lm-speedrun).

Each stateful attack is run twice in-process through the evaluator's own `evaluate`: once with
its two state defences taken out (a module loaded once and reused, no check of its tensors),
where it must beat the evaluator -- that shows the attack is real -- and once with each
defence alone, where it must fail. Then the full evaluator, as the harness runs it.
"""

from __future__ import annotations

import math
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from ._attacks import B, Bigram, CountingBigram, PrefixReplay, T, V, export, torch
from ._helpers import ev, run_evaluator  # noqa: F401  (ev is a fixture)

nn = torch.nn
F = torch.nn.functional
GATE = 1.08


def _load_once(monkeypatch: pytest.MonkeyPatch, ev: ModuleType) -> None:  # noqa: F811
    """Defence 1 out: one module per archive, reused for every call (what the evaluator did)."""
    cache: dict[int, Any] = {}
    fresh = ev.Archive.fresh

    def once(self: Any) -> Any:
        if id(self) not in cache:
            cache[id(self)] = fresh(self)
        return cache[id(self)]

    monkeypatch.setattr(ev.Archive, "fresh", once)


def _no_state_check(monkeypatch: pytest.MonkeyPatch, ev: ModuleType) -> None:  # noqa: F811
    """Defence 2 out: tensors are not compared with the archive after a call."""
    monkeypatch.setattr(ev.Archive, "changed", lambda self, flats: [])


@pytest.fixture(scope="module")
def replay_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export(PrefixReplay(), tmp_path_factory.mktemp("replay"))


@pytest.fixture(scope="module")
def counting_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export(CountingBigram(), tmp_path_factory.mktemp("counting"))


def test_prefix_replay_beats_an_evaluator_without_the_defences(
        ev, replay_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    _load_once(monkeypatch, ev)
    _no_state_check(monkeypatch, ev)
    m = ev.evaluate(replay_dir, eval_seed=5)
    assert m["max_causal_leak"] <= ev.CAUSAL_TOL  # the probe sees no leak...
    assert m["val_loss"] < GATE  # ...and peeking passes the gate


def test_prefix_replay_fails_with_fresh_loads_alone(
        ev, replay_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    _no_state_check(monkeypatch, ev)
    with pytest.raises(ev.Invalid, match="peeks at future tokens"):
        ev.evaluate(replay_dir, eval_seed=5)


def test_prefix_replay_fails_with_the_state_check_alone(
        ev, replay_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    _load_once(monkeypatch, ev)
    with pytest.raises(ev.Invalid, match="changed its own tensors"):
        ev.evaluate(replay_dir, eval_seed=5)


def _batch(ev: ModuleType, seed: int) -> Any:  # noqa: F811
    import random

    rng = random.Random(seed)
    return torch.tensor([ev.sample_sequence(rng, T, ev.variant(None))[0] for _ in range(B)])


def _nll(ev: ModuleType, module: Any, tokens: Any) -> float:  # noqa: F811
    logp, _, _ = ev.run_model(module, tokens[:, :-1])
    return -logp.gather(-1, tokens[:, 1:].unsqueeze(-1)).mean().item()


def test_buffer_mutating_model_trains_itself_when_loaded_once(ev, counting_dir: Path) -> None:  # noqa: F811
    """A model that counts the bigrams of every batch it is shown learns inside the evaluator
    when it is loaded once; a fresh load forgets everything; the evaluator refuses it."""
    archive = ev.read(counting_dir / "model.pt2")
    probe = _batch(ev, 0)
    once, _ = archive.fresh()
    before = _nll(ev, once, probe)
    for seed in range(1, 8):
        _nll(ev, once, _batch(ev, seed))
    after = _nll(ev, once, probe)
    assert before == pytest.approx(math.log(V), abs=1e-6)
    assert after < before - 1.0  # seven batches of free training were worth more than a nat
    assert _nll(ev, archive.fresh()[0], probe) == before  # a fresh load has learned nothing
    with pytest.raises(ev.Invalid, match="changed its own tensors"):
        ev.evaluate(counting_dir, eval_seed=5)


@pytest.mark.parametrize("name", ["replay", "counting"])
def test_stateful_models_are_invalid_in_the_real_evaluator(
        replay_dir: Path, counting_dir: Path, name: str) -> None:
    m = run_evaluator(replay_dir if name == "replay" else counting_dir)
    assert "changed its own tensors" in str(m.get("invalid")), m
    assert "val_loss" not in m


class SelfTrainer(nn.Module):
    """Turns grad mode back on inside forward and takes an SGD step on its own table each call
    (the 'train itself in the evaluator' attack, as a plain module)."""

    def __init__(self) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.zeros(V, V))
        self.steps = 0

    def forward(self, idx):
        with torch.enable_grad():
            self.table.requires_grad_(True)
            try:
                logits = self.table[idx[:, :-1]].reshape(-1, V)
                F.cross_entropy(logits, idx[:, 1:].reshape(-1)).backward()
                with torch.no_grad():
                    self.table -= 50.0 * self.table.grad
                self.steps += 1
            except RuntimeError:
                pass  # no graph to differentiate: stay quiet, look honest
        return F.log_softmax(self.table[idx], dim=-1)


def test_a_module_cannot_train_itself_under_inference_mode(ev) -> None:  # noqa: F811
    x = torch.randint(1, V, (B, T))
    under_no_grad = SelfTrainer()
    with torch.no_grad():  # what the evaluator used to call models under
        under_no_grad(x)
    assert under_no_grad.steps == 1 and under_no_grad.table.abs().sum() > 0  # it trained

    m = SelfTrainer()
    for _ in range(3):
        ev.run_model(m, x)
    assert m.steps == 0
    assert m.table.abs().sum() == 0  # unchanged: nothing was learned


def test_an_exported_model_cannot_even_carry_autograd(tmp_path: Path) -> None:
    """torch.export refuses autograd inside forward, so in an artifact 'training' can only be
    hand-written arithmetic: it writes to the model's tensors (caught above) or is plain
    compute within one call (the budget below)."""

    class Grad(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.zeros(V, V))

        def forward(self, idx):
            with torch.enable_grad():
                w = self.w.detach().requires_grad_()
                loss = F.cross_entropy(w[idx[:, :-1]].reshape(-1, V), idx[:, 1:].reshape(-1))
                (g,) = torch.autograd.grad(loss, w)
            return F.log_softmax((w - g)[idx], dim=-1)

    with pytest.raises(Exception):  # noqa: B017 - torch raises RuntimeError today
        export(Grad(), tmp_path / "a")


class Burner(nn.Module):
    """Honest outputs after a lot of pointless matrix products."""

    def __init__(self) -> None:
        super().__init__()
        self.table = nn.Embedding(V, V)
        self.w = nn.Parameter(torch.randn(256, 256) / 16)

    def forward(self, idx):
        h = torch.ones(256, 256)
        for _ in range(40):
            h = torch.tanh(h @ self.w)
        return F.log_softmax(self.table(idx) + 0.0 * h.sum(), dim=-1)


def test_per_call_compute_budget(ev, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """A call over the budget makes the model invalid (the budget lowered so the test is fast;
    docs/SECURITY.md has the real bound and how it was measured)."""
    burner, cheap = export(Burner(), tmp_path / "burn"), export(Bigram(), tmp_path / "cheap")
    x = torch.zeros(B, T, dtype=torch.long)
    cost = {}
    for name, art in (("burn", burner), ("cheap", cheap)):
        costs = ev.Costs()
        for _ in range(3):
            ev.call(ev.read(art / "model.pt2"), x, costs)
        cost[name] = costs.max_call_cpu
    assert cost["burn"] > 5 * cost["cheap"], cost
    monkeypatch.setattr(ev, "CALL_CPU_LIMIT", (cost["burn"] + cost["cheap"]) / 4)
    with pytest.raises(ev.Invalid, match="one call of the model took"):
        ev.evaluate(burner, eval_seed=1)
    assert ev.evaluate(cheap, eval_seed=1)["max_call_cpu_seconds"] < ev.CALL_CPU_LIMIT  # scored


def test_every_module_holds_the_storage_the_state_check_reads(ev, counting_dir: Path) -> None:  # noqa: F811
    """Modules are deep copies of one deserialized template; each must run on exactly the fresh
    tensors that `changed` compares afterwards, also when the copy fails to map a tensor."""
    archive = ev.read(counting_dir / "model.pt2")

    def storage_is_checked(module: Any, flats: dict[str, Any]) -> bool:
        checked = {f.untyped_storage().data_ptr() for f in flats.values()}
        return all(t.untyped_storage().data_ptr() in checked for t in module.state_dict().values())

    assert storage_is_checked(*archive.fresh())
    program, _, _ = archive.template
    archive.template = (program, {}, {})  # a copy that maps none of the template's tensors
    assert storage_is_checked(*archive.fresh())
