"""Red-team for lm-speedrun: exported models that cheat the harness evaluator.

Each candidate replaces train.py with a program that skips training and exports a crafted model
(a few seconds instead of a real training run), through the real harness (LocalExecutor: sandboxed
run, then the sandboxed evaluator). The evaluator (its own process, no candidate code) must catch
a model that peeks at future tokens, one whose scores are not normalized log-probabilities, an
archive whose weights are a pickle with a payload, a TorchScript archive that runs code when
loaded, a model that keeps state between calls, and weights brought from outside the run (they
speak the wrong variant of the language) -- and must not flag an honest (if useless) model.
The evaluator-level tests with each defence taken out are in tests/task_lm_speedrun.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator

import pytest

from rubicon.errors import TaskError
from rubicon.runner.trial import LocalExecutor
from rubicon.task import load_task
from rubicon.types import State

from ._helpers import LM_DIR, local_executor, make_outside_dir, remove_dir

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
torch.export.save(torch.export.export(m, (example,)), "model.pt2")
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


# A weight replaced by a pickle whose payload prints the metrics the attacker wants and exits 0
# (what torch.export.load would run, with torch.load(weights_only=False)).
PICKLE_PAYLOAD = EXPORT.format(body=UNIFORM) + '''


import io, json, zipfile


class Payload:
    def __reduce__(self):
        return (exec, ("print('val_loss: 0.990000'); print('entropy_floor: 0.977000'); "
                       "import os; os._exit(0)",))


with zipfile.ZipFile("model.pt2") as z:
    files = {n: z.read(n) for n in z.namelist()}
cfg_name = next(n for n in files if n.endswith("model_weights_config.json"))
cfg = json.loads(files[cfg_name])
entry = next(iter(cfg["config"].values()))
entry["use_pickle"] = True
files[cfg_name] = json.dumps(cfg).encode()
buf = io.BytesIO()
torch.save(Payload(), buf)
files[next(n for n in files if n.endswith("weights/" + entry["path_name"]))] = buf.getvalue()
with zipfile.ZipFile("model.pt2", "w") as z:
    for n, b in files.items():
        z.writestr(n, b)
print("poisoned")'''

# TorchScript whose __setstate__ (run by torch.jit.load while loading) prints fake metrics.
TORCHSCRIPT = '''
import torch
from data import VOCAB_SIZE as V


class M(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.table = torch.nn.Parameter(torch.zeros(V, V))

    def forward(self, idx):
        return torch.log_softmax(self.table[idx], dim=-1)

    @torch.jit.export
    def __getstate__(self) -> tuple[torch.Tensor, bool]:
        return (self.table, self.training)

    @torch.jit.export
    def __setstate__(self, state: tuple[torch.Tensor, bool]) -> None:
        print("val_loss: 0.990000")
        self.table = state[0]
        self.training = state[1]


torch.jit.script(M()).save("model.pt2")
'''

# Peeks at the next token and replays its previous output for inputs sharing a prefix (state
# kept in buffers between calls), which defeats a causality probe run on a model loaded once.
REPLAY = '''
import torch
import torch.nn.functional as F
from data import VOCAB_SIZE as V


class M(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("last_in", torch.full((32, 128), -1, dtype=torch.long))
        self.register_buffer("last_out", torch.zeros(32, 128, V))

    def forward(self, idx):
        peek = F.log_softmax(F.one_hot(torch.roll(idx, -1, 1), V).float() * 12.0, dim=-1)
        same = (idx == self.last_in).long().cumprod(dim=1).bool()
        out = torch.where(same.unsqueeze(-1), self.last_out, peek)
        self.last_in.copy_(idx)
        self.last_out.copy_(out)
        return out


torch.export.save(torch.export.export(M().eval(), (torch.zeros(32, 128, dtype=torch.long),)),
                  "model.pt2")
'''

# Weights trained outside the run, embedded verbatim: a bigram table of the canonical language
# (here counted by the test; {table} is its bytes in base64). No training in the run.
EMBEDDED = '''
import base64
import torch
import torch.nn.functional as F
from data import VOCAB_SIZE as V

TABLE = torch.frombuffer(bytearray(base64.b64decode("{table}")), dtype=torch.float32).reshape(V, V)


class M(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.logp = torch.nn.Parameter(TABLE.clone())

    def forward(self, idx):
        return F.log_softmax(self.logp[idx], dim=-1)


torch.export.save(torch.export.export(M().eval(), (torch.zeros(32, 128, dtype=torch.long),)),
                  "model.pt2")
'''


@pytest.fixture(scope="module")
def lm_runner() -> Iterator[LocalExecutor]:
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
        yield local_executor(task, base / "runs")
    finally:
        remove_dir(base)


def _run(runner: LocalExecutor, body: str):  # type: ignore[no-untyped-def]
    return _run_program(runner, EXPORT.format(body=body))


def _run_program(runner: LocalExecutor, train_py: str):  # type: ignore[no-untyped-def]
    files = {**runner.task.editable_files(), "train.py": train_py}
    return runner.run(files)


def test_model_that_peeks_at_future_tokens_is_invalid(lm_runner: LocalExecutor) -> None:
    """Defence: the evaluator changes tokens after a cut and requires earlier predictions to
    stay put (evaluate.check_causal). Without it this model would score a near-zero loss."""
    t = _run(lm_runner, PEEK)
    assert t.facts.exit_code == 0, t.facts.output_tail[-500:]
    assert t.state == State.INVALID, (t.state, t.reason)
    assert "peeks at future tokens" in t.reason


def test_model_with_unnormalized_scores_is_invalid(lm_runner: LocalExecutor) -> None:
    """Defence: logsumexp over the vocabulary must be 0 at every position
    (evaluate.check_normalized). Without it, +3 nats on every token lowers the loss by 3."""
    t = _run(lm_runner, UNNORMALIZED)
    assert t.state == State.INVALID, (t.state, t.reason)
    assert "not normalized" in t.reason


def test_an_honest_bad_model_is_not_flagged(lm_runner: LocalExecutor) -> None:
    """The other side: a causal, normalized model is judged on its loss (it fails the gate),
    never recorded as a cheat."""
    t = _run(lm_runner, UNIFORM)
    assert t.state == State.GATE_FAILED, (t.state, t.reason)
    assert t.metrics["max_causal_leak"] <= 1e-6
    assert abs(t.metrics["val_loss"] - math.log(74)) < 0.01  # uniform over the 74 tokens


def test_pickle_payload_in_the_weights_never_runs(lm_runner: LocalExecutor) -> None:
    """Defence: the evaluator allow-lists the archive and reads it itself; no pickle is ever
    loaded (evaluator/archive.py). With torch.export.load the payload would print the attacker's
    metrics and exit 0: recorded as a genuine, passing result."""
    t = _run_program(lm_runner, PICKLE_PAYLOAD)
    assert t.facts.exit_code == 0 and "poisoned" in t.facts.output_tail, t.facts.output_tail[-500:]
    assert t.state == State.INVALID, (t.state, t.reason)
    assert "stored as a pickle" in t.reason
    assert "val_loss" not in t.metrics


def test_torchscript_that_runs_code_at_load_is_invalid(lm_runner: LocalExecutor) -> None:
    """Defence: TorchScript is out of the contract (torch.jit.load runs the archive's
    __setstate__); the evaluator refuses it before loading anything."""
    t = _run_program(lm_runner, TORCHSCRIPT)
    assert t.state == State.INVALID, (t.state, t.reason)
    assert "TorchScript archive: not accepted" in t.reason


def test_model_that_keeps_state_between_calls_is_invalid(lm_runner: LocalExecutor) -> None:
    """Defence: a fresh load for every call, and the model's tensors compared with the archive
    after every call (evaluate.call). Loaded once, this model passes the causality probe and the
    gate (tests/task_lm_speedrun/test_state_and_compute.py)."""
    t = _run_program(lm_runner, REPLAY)
    assert t.state == State.INVALID, (t.state, t.reason)
    assert "changed its own tensors" in t.reason


def test_weights_brought_from_outside_the_run_fail(lm_runner: LocalExecutor) -> None:
    """Defence: each run's language is a fresh variant (ids permuted by RUBICON_SEED). A model of
    the canonical language embedded verbatim scores far worse than it does on the canonical
    language (here a bigram table). Relabelling embedded weights with data.PERM would undo this (the embedded-data
    scanner's job, docs/SECURITY.md)."""
    import base64
    import random
    import sys

    sys.path.insert(0, str(LM_DIR / "evaluator"))
    try:
        import lang
    finally:
        sys.path.pop(0)
    counts = torch.full((74, 74), 0.1)
    rng = random.Random(99)
    for _ in range(400):
        toks = lang.sample_sequence(rng, 128, lang.variant(None))[0]
        for a, b in zip(toks, toks[1:], strict=False):
            counts[a, b] += 1
    table = (counts / counts.sum(1, keepdim=True)).log().contiguous()
    held_out = [lang.sample_sequence(rng, 128, lang.variant(None))[0] for _ in range(64)]
    canonical_loss = -sum(float(table[a, b]) for s in held_out for a, b in zip(s, s[1:], strict=False))
    canonical_loss /= 64 * 128
    code = EMBEDDED.replace("{table}", base64.b64encode(table.numpy().tobytes()).decode())
    t = _run_program(lm_runner, code)
    assert t.state == State.GATE_FAILED, (t.state, t.reason)
    assert t.metrics["val_loss"] > canonical_loss + 1.0, (canonical_loss, t.metrics)


# Mutations for tests/redteam/mutate_defences.py (same format as its MUTATIONS; paths relative
# to src/rubicon): each takes ONE lm-speedrun evaluator defence out. Results in docs/SECURITY.md
# ("lm-speedrun artifacts"). The state defences are layered (fresh loads, tensor check): each is
# taken out alone and both together.
_E = "task/builtin/lm-speedrun/evaluator/"
_UNCHECKED = '''class _Unchecked:  # what the evaluator did before: torch.export.load, one module
    def __init__(self, path):
        import torch

        self.m = torch.export.load(str(path)).module()

    def fresh(self):
        return self.m, {}

    def changed(self, flats):
        return []


def evaluate('''
LM_MUTATIONS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "lm_torch_export_load": (_E + "evaluate.py", [
        ("def evaluate(", _UNCHECKED),
        ("    archive = read(artifacts / ARTIFACT)", "    archive = _Unchecked(artifacts / ARTIFACT)")]),
    "lm_pickle_check": (_E + "archive.py", [('if e.get("use_pickle") is not False:', "if False:")]),
    "lm_torchscript_check": (_E + "archive.py", [
        ('if any(r in ("data.pkl", "constants.pkl") or r.startswith("code/") for r in rels):',
         "if False:")]),
    "lm_op_check": (_E + "program.py", [("        _check_op(target)", "        pass")]),
    "lm_guards_check": (_E + "program.py", [('    if p.get("guards_code"):', "    if False:")]),
    "lm_fresh_load": (_E + "evaluate.py", [
        ("__all__ = [", "_ONCE: dict = {}\n__all__ = ["),
        ("    model, tensors = archive.fresh()",
         "    model, tensors = _ONCE.setdefault(id(archive), archive.fresh())")]),
    "lm_state_check": (_E + "evaluate.py", [("    changed = archive.changed(tensors)",
                                             "    changed = []")]),
    "lm_state_both": (_E + "evaluate.py", [
        ("__all__ = [", "_ONCE: dict = {}\n__all__ = ["),
        ("    model, tensors = archive.fresh()",
         "    model, tensors = _ONCE.setdefault(id(archive), archive.fresh())"),
        ("    changed = archive.changed(tensors)", "    changed = []")]),
    "lm_inference_mode": (_E + "evaluate.py", [("    with torch.inference_mode():",
                                                "    with torch.no_grad():")]),
    "lm_budget": (_E + "evaluate.py", [("    if cpu > CALL_CPU_LIMIT or wall > CALL_WALL_LIMIT:",
                                        "    if False:")]),
    "lm_variant": (_E + "evaluate.py", [("    perm = variant(run_seed)", "    perm = variant(None)")]),
}
