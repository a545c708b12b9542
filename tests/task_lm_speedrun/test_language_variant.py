"""Each run speaks its own variant of the language (issue 18, class 1 for lm-speedrun): token ids
permuted by the run's seed, in data.py (the run), fastdata.py (the reference) and lang.py (the
evaluator). Knowledge brought from outside the run -- a model of the canonical language or of
another run's variant -- fails; the calibration is unchanged (same sequences, same entropy floor,
and the model family is equivariant to relabelling the ids)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from rubicon.task import load_task

from ._attacks import B, T, V, export, torch
from ._helpers import TASK_DIR, TRAIN_SEED, ev, make_workspace, run_evaluator, run_train  # noqa: F401

nn = torch.nn
F = torch.nn.functional


def test_a_variant_is_a_permutation_that_keeps_bos(ev: ModuleType) -> None:  # noqa: F811
    assert ev.variant(None) == list(range(V))  # no seed: the canonical ids
    seen = set()
    for seed in range(20):
        p = ev.variant(seed)
        assert sorted(p) == list(range(V)) and p[0] == 0  # <bos> stays id 0
        assert p == ev.variant(str(seed))  # the environment's string spelling is the same seed
        seen.add(tuple(p))
    assert len(seen) == 20


def test_variants_relabel_the_same_sequences_with_the_same_floor(ev: ModuleType) -> None:  # noqa: F811
    """For one eval seed, every variant yields the canonical sequences with ids relabelled and
    identical true log-probs: the entropy floor of every sequence is the same."""
    for a, b in ((None, 1), (1, 2), (3, 12345)):
        pa, pb = ev.variant(a), ev.variant(b)
        relabel = {pa[i]: pb[i] for i in range(V)}
        for seed in range(50):
            ta, la = ev.sample_sequence(random.Random(seed), T, pa)
            tb, lb = ev.sample_sequence(random.Random(seed), T, pb)
            assert tb == [relabel[t] for t in ta]
            assert la == lb


def test_data_py_speaks_the_variant_of_rubicon_seed() -> None:
    code = "import data; print(data.PERM == data.variant({}))"
    for env_seed, expect in (("5", "5"), (None, "None")):
        env = {k: v for k, v in os.environ.items() if k != "RUBICON_SEED"}
        if env_seed:
            env["RUBICON_SEED"] = env_seed
        out = subprocess.run([sys.executable, "-c", code.format(expect)], cwd=TASK_DIR / "workspace",
                             env=env, capture_output=True, text=True, timeout=60)
        assert out.stdout.strip() == "True", out.stderr


class Table(nn.Module):
    """A bigram model: a (V, V) table of log-probs indexed by the current token."""

    def __init__(self, logp: torch.Tensor) -> None:
        super().__init__()
        self.logp = nn.Parameter(logp)

    def forward(self, idx):
        return F.log_softmax(self.logp[idx], dim=-1)


def _bigram_for(ev: ModuleType, seed: int | None) -> torch.Tensor:  # noqa: F811
    """Bigram log-probs counted (no training) on 400 sequences of one variant."""
    counts = torch.full((V, V), 0.1)
    rng = random.Random(99)
    for _ in range(400):
        toks = ev.sample_sequence(rng, T, ev.variant(seed))[0]
        for a, b in zip(toks, toks[1:], strict=False):
            counts[a, b] += 1
    return (counts / counts.sum(1, keepdim=True)).log()


def test_a_model_of_another_variant_is_useless_and_relabelling_restores_it(
        ev: ModuleType, tmp_path: Path) -> None:  # noqa: F811
    """A model of the canonical language scores far worse on a run's variant; relabelling it
    (what an embedded model would need) gives back exactly its loss: the task's difficulty and
    floor do not depend on the variant."""
    canonical = _bigram_for(ev, None)
    art = export(Table(canonical), tmp_path / "canonical")
    own = ev.evaluate(art, eval_seed=4, run_seed=None)
    other = ev.evaluate(art, eval_seed=4, run_seed=str(TRAIN_SEED))
    assert own["entropy_floor"] == other["entropy_floor"]  # same held-out sequences, relabelled
    assert other["val_loss"] > own["val_loss"] + 1.0, (own, other)

    p = torch.tensor(ev.variant(TRAIN_SEED))
    relabelled = torch.empty_like(canonical)
    relabelled[p.unsqueeze(1), p.unsqueeze(0)] = canonical  # row/column i -> PERM[i]
    # (the real evaluator as the harness runs it: the run's seed comes in RUBICON_RUN_SEED)
    again = run_evaluator(export(Table(relabelled), tmp_path / "relabelled"), seed=4,
                          run_seed=TRAIN_SEED)
    assert again["val_loss"] == pytest.approx(own["val_loss"], abs=1e-6)
    assert again["entropy_floor"] == pytest.approx(own["entropy_floor"], abs=1e-6)


@pytest.mark.slow
def test_the_reference_passes_only_in_its_own_variant(tmp_path: Path) -> None:
    """The reference trained in one run passes the gate there, and fails in the canonical
    language and in another run's variant (~10 s of training, three evaluations)."""
    gate = load_task(TASK_DIR).spec.gates[0]
    ws = make_workspace(tmp_path / "ws", {}, reference=True)
    proc = run_train(ws, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    art = tmp_path / "art"
    art.mkdir()
    (ws / "model.pt2").rename(art / "model.pt2")
    own = run_evaluator(art, sequences=512, run_seed=TRAIN_SEED)
    assert gate.check(own)[0], own
    for other in (None, TRAIN_SEED + 1):
        m = run_evaluator(art, sequences=128, run_seed=other)
        assert not gate.check(m)[0] and m["val_loss"] > own["val_loss"] + 1.0, (other, m)


def test_batch_shape_constants_match(ev: ModuleType) -> None:  # noqa: F811
    assert (ev.BATCH, ev.CONTEXT, ev.VOCAB_SIZE) == (B, T, V)
