"""Red-team for the optimize tasks, through the real harness (sandboxed run, separate checker).

Each candidate replaces the editable file with a cheat that would look fast:
- printing a score or a time instead of producing outputs;
- outputs for inputs it can know in advance (a fixed seed), with or without lying about it;
- shrinking the read-only driver's loop from inside the process (monkeypatching);
- skipping the work (zeros), doing it in low precision, or doing only what is checked in full;
- overwriting the outputs with something huge when the process exits.
The checker regenerates the inputs from the run's seed and recomputes everything itself, so
each is `invalid` or fails the `correct == 1` gate. A legitimate fast solution passes.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from task_optimize._local import task, variant

from rubicon.measure.judge import TrialJudge
from rubicon.runner.trial import LocalExecutor
from rubicon.task import Task, load_task
from rubicon.types import State

from ._helpers import make_outside_dir, remove_dir

pytest.importorskip("torch")


def _executor(t: Task, directory: Path) -> LocalExecutor:
    return LocalExecutor(t, directory, TrialJudge.for_task(t))


@pytest.fixture(scope="module")
def runners() -> Iterator[dict[str, LocalExecutor]]:
    """Private copies of both tasks outside /tmp, each with its own runner."""
    base = make_outside_dir()
    try:
        out = {}
        for name in ("optimize-attention", "optimize-adamw"):
            d = base / name
            shutil.copytree(task(name).dir, d, ignore=shutil.ignore_patterns("__pycache__"))
            out[name] = _executor(load_task(d), base / f"runs-{name}")
        yield out
    finally:
        remove_dir(base)


def _attention(runners: dict[str, LocalExecutor], code: str):  # type: ignore[no-untyped-def]
    r = runners["optimize-attention"]
    return r.run({"attention.py": code})


def _adamw(runners: dict[str, LocalExecutor], code: str):  # type: ignore[no-untyped-def]
    r = runners["optimize-adamw"]
    return r.run({"optim.py": code})


REFERENCE_ATTENTION = variant(task("optimize-attention"), "reference")["attention.py"]
REFERENCE_ADAMW = variant(task("optimize-adamw"), "reference")["optim.py"]

PRINT_A_SCORE = """
import os
print("correct: 1")
print("wall_seconds: 0.01")
os._exit(0)
"""

# The outputs of a seed the cheat chose (could be precomputed and shipped): it pins the seed the
# driver reads before the driver reads it.
FIXED_SEED = REFERENCE_ATTENTION + """
import os
os.environ["RUBICON_SEED"] = "12345"
"""

# Pin the seed but remember the real one, then write run.json with the real seed.
LIE_ABOUT_SEED = REFERENCE_ATTENTION + """
import json
import os
_orig_seed = int(os.environ["RUBICON_SEED"])
os.environ["RUBICON_SEED"] = "12345"
_dump = json.dump
def _lying_dump(obj, f, *a, **k):
    if isinstance(obj, dict) and "seed" in obj:
        obj = {**obj, "seed": _orig_seed}
    return _dump(obj, f, *a, **k)
json.dump = _lying_dump
"""

SHRINK_THE_LOOP = REFERENCE_ATTENTION + """
import cases
cases.ROUNDS = 1
"""

ZEROS = """
import torch
def attention_forward_backward(q, k, v, dout):
    z = torch.zeros_like(q)
    return z, z.clone(), z.clone(), z.clone()
"""

BFLOAT16 = REFERENCE_ATTENTION.replace("def attention_forward_backward(", "def _exact(") + """

def attention_forward_backward(q, k, v, dout):
    out = _exact(q.bfloat16(), k.bfloat16(), v.bfloat16(), dout.bfloat16())
    return tuple(t.float() for t in out)
"""

# Exact for the first round (whose outputs bench.py writes in full), then cheap garbage.
FIRST_ROUND_ONLY = REFERENCE_ATTENTION.replace(
    "def attention_forward_backward(", "def _exact(") + """

import torch
_calls = [0]

def attention_forward_backward(q, k, v, dout):
    _calls[0] += 1
    if _calls[0] <= 6:
        return _exact(q, k, v, dout)
    return q.clone(), k.clone(), v.clone(), dout.clone()
"""

HUGE_AT_EXIT = REFERENCE_ATTENTION + """
import atexit
def _big():
    with open("proj.f32", "ab") as f:
        f.write(b"\\0" * (64 * 1024 * 1024))
atexit.register(_big)
"""


def test_printing_a_score_without_outputs_is_invalid(runners: dict[str, LocalExecutor]) -> None:
    """Defence: the harness takes metrics from the checker, which reads artifacts only."""
    t = _attention(runners, PRINT_A_SCORE)
    assert t.state == State.INVALID, (t.state, t.reason)
    assert "was not produced" in t.reason


def test_outputs_for_a_seed_of_its_choosing_are_invalid(runners: dict[str, LocalExecutor]) -> None:
    """Defence: the checker requires outputs for the run's own seed (run.json)."""
    t = _attention(runners, FIXED_SEED)
    assert t.state == State.INVALID, (t.state, t.reason)
    assert "expected seed" in t.reason


def test_lying_about_the_seed_fails_the_gate(runners: dict[str, LocalExecutor]) -> None:
    """Defence: the checker recomputes from the run's seed, whatever run.json says."""
    t = _attention(runners, LIE_ABOUT_SEED)
    assert t.state == State.GATE_FAILED, (t.state, t.reason, t.metrics)
    assert t.metrics["first_wrong_call"] == 0


def test_shrinking_the_drivers_loop_is_invalid(runners: dict[str, LocalExecutor]) -> None:
    """Defence: the checker's own constants fix the number of calls (file sizes, run.json)."""
    t = _attention(runners, SHRINK_THE_LOOP)
    assert t.state == State.INVALID, (t.state, t.reason)


@pytest.mark.parametrize("code,first_wrong", [(ZEROS, 0), (BFLOAT16, 0), (FIRST_ROUND_ONLY, 6)],
                         ids=["zeros", "bfloat16", "first-round-only"])
def test_skipped_or_imprecise_work_fails_the_gate(runners: dict[str, LocalExecutor], code: str,
                                                  first_wrong: int) -> None:
    """Defence: every call is checked (projections on random directions), not only the round
    written in full; the tolerance (1e-4) is far below bfloat16's error."""
    t = _attention(runners, code)
    assert t.state == State.GATE_FAILED, (t.state, t.reason, t.metrics)
    assert t.metrics["first_wrong_call"] == first_wrong


def test_a_huge_output_is_invalid(runners: dict[str, LocalExecutor]) -> None:
    """Defence: the checker reads nothing whose size is not exactly the expected one."""
    t = _attention(runners, HUGE_AT_EXIT)
    assert t.state == State.INVALID, (t.state, t.reason)
    assert "bytes; expected" in t.reason


def test_the_reference_attention_passes(runners: dict[str, LocalExecutor]) -> None:
    """The other side: a legitimate fast solution is judged correct."""
    t = _attention(runners, REFERENCE_ATTENTION)
    assert t.state == State.OK, (t.state, t.reason)
    assert t.metrics["correct"] == 1 and t.metrics["max_rel_error"] < 1e-5


# ---- optimize-adamw ------------------------------------------------------------------------

SKIP_STEPS = REFERENCE_ADAMW.replace("    def step(self, grads", "    def _step(self, grads") + """

def _every_other(self, grads, lr):
    self._n = getattr(self, "_n", 0) + 1
    if self._n % 2:
        self._step(grads, 2 * lr)

AdamW.step = _every_other
"""

FEWER_STEPS = REFERENCE_ADAMW + """
import problem
problem.STEPS = 10
"""

BF16_MOMENTS = REFERENCE_ADAMW + """

_orig_step = AdamW.step

def _lossy(self, grads, lr):
    _orig_step(self, grads, lr)
    self.m.copy_(self.m.bfloat16().float())
    self.v.copy_(self.v.bfloat16().float())

AdamW.step = _lossy
"""


def test_adamw_driver_loop_shrunk_is_invalid(runners: dict[str, LocalExecutor]) -> None:
    t = _adamw(runners, FEWER_STEPS)
    assert t.state == State.INVALID, (t.state, t.reason)
    assert "2000 steps" in t.reason


@pytest.mark.parametrize("code", [SKIP_STEPS, BF16_MOMENTS], ids=["skip-half-the-steps", "bf16-moments"])
def test_adamw_shortcuts_fail_the_gate(runners: dict[str, LocalExecutor], code: str) -> None:
    """Defence: the checker runs the documented algorithm in float64 from the run's seed and
    compares the final parameters and both moments."""
    t = _adamw(runners, code)
    assert t.state == State.GATE_FAILED, (t.state, t.reason, t.metrics)


def test_the_reference_adamw_passes(runners: dict[str, LocalExecutor]) -> None:
    t = _adamw(runners, REFERENCE_ADAMW)
    assert t.state == State.OK, (t.state, t.reason)
    assert t.metrics["rel_error_params"] < 1e-5
