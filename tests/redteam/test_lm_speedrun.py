"""Red-team for lm-speedrun: exported models that cheat the harness evaluator.

Each candidate replaces train.py with a program that skips training and exports a crafted model
(a few seconds instead of a real training run). The harness evaluator (its own sandboxed process,
no candidate code) must catch a model that peeks at future tokens and one whose scores are not
normalized log-probabilities -- and must not flag an honest (if useless) model.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator

import pytest

from rubicon.errors import TaskError
from rubicon.measure.trial import TrialRunner
from rubicon.task import load_task
from rubicon.types import State

from ._helpers import LM_DIR, make_outside_dir, remove_dir

torch = pytest.importorskip("torch")

EXPORT = '''
import torch
import torch.nn.functional as F
from data import VOCAB_SIZE as V


class M(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(V, V)

    def forward(self, x):
        logits = self.emb(x) * 0.0
{body}


m = M().eval()
example = torch.zeros(32, 128, dtype=torch.long)
torch.jit.trace(m, (example,)).save("model.pt2")
print("exported")
'''

# Position t sees token t+1 (the answer) through a shifted copy of its input.
PEEK = '''        nxt = torch.roll(x, shifts=-1, dims=1)
        logits = logits + 20.0 * F.one_hot(nxt, V).float()
        return F.log_softmax(logits, dim=-1)'''

# Raw scores: a constant bonus on every token, so the "probabilities" sum to far more than 1.
UNNORMALIZED = '''        return F.log_softmax(logits, dim=-1) + 3.0'''

# An honest uniform model: causal and normalized, just bad.
UNIFORM = '''        return F.log_softmax(logits, dim=-1)'''


@pytest.fixture(scope="module")
def lm_runner() -> Iterator[TrialRunner]:
    """The real lm-speedrun evaluator, on a private copy of the task (while the task is being
    built its playbook may be missing: the copy then drops that optional key)."""
    if not (LM_DIR / "evaluator" / "evaluate.py").exists():
        pytest.skip("lm-speedrun is not built yet")
    base = make_outside_dir()
    try:
        d = base / "lm-speedrun"
        shutil.copytree(LM_DIR, d, ignore=shutil.ignore_patterns("__pycache__"))
        toml = d / "task.toml"
        if not (d / "playbook.toml").exists():
            toml.write_text("".join(line for line in toml.read_text().splitlines(keepends=True)
                                    if not line.startswith(("playbook", "fidelity_knob"))))
        try:
            task = load_task(d)
        except TaskError as e:
            pytest.skip(f"lm-speedrun is not loadable yet: {e}")
        yield TrialRunner(task, base / "runs")
    finally:
        remove_dir(base)


def _run(runner: TrialRunner, body: str):  # type: ignore[no-untyped-def]
    files = {**runner.task.editable_files(), "train.py": EXPORT.format(body=body)}
    return runner.run(files)


def test_model_that_peeks_at_future_tokens_is_invalid(lm_runner: TrialRunner) -> None:
    """Defence: the evaluator changes tokens after a cut and requires earlier predictions to
    stay put (evaluate.check_causal). Without it this model would score a near-zero loss."""
    t = _run(lm_runner, PEEK)
    assert t.facts.exit_code == 0, t.facts.output_tail[-500:]
    assert t.state == State.INVALID, (t.state, t.reason)
    assert "peeks at future tokens" in t.reason


def test_model_with_unnormalized_scores_is_invalid(lm_runner: TrialRunner) -> None:
    """Defence: logsumexp over the vocabulary must be 0 at every position
    (evaluate.check_normalized). Without it, +3 nats on every token lowers the loss by 3."""
    t = _run(lm_runner, UNNORMALIZED)
    assert t.state == State.INVALID, (t.state, t.reason)
    assert "not normalized" in t.reason


def test_an_honest_bad_model_is_not_flagged(lm_runner: TrialRunner) -> None:
    """The other side: a causal, normalized model is judged on its loss (it fails the gate),
    never recorded as a cheat."""
    t = _run(lm_runner, UNIFORM)
    assert t.state == State.GATE_FAILED, (t.state, t.reason)
    assert t.metrics["max_causal_leak"] <= 1e-6
    assert abs(t.metrics["val_loss"] - math.log(74)) < 0.01  # uniform over the 74 tokens
