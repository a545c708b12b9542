"""Harness-owned evaluator for lm-speedrun.

    python evaluate.py ARTIFACTS_DIR

Checks ARTIFACTS_DIR/model.pt2 against an allow-list and reads it without running anything it
contains (archive.py: a torch.export program only, no pickles, aten operators only; TorchScript
is refused), checks that it is a causal language model that returns normalized log-probabilities,
and measures its loss on fresh held-out sequences drawn with the secret seed in RUBICON_EVAL_SEED,
in the run's variant of the language (token ids permuted by the run's seed, RUBICON_RUN_SEED).

Every call of the model gets a fresh module built from the archive, runs under
torch.inference_mode() within a compute budget, and must leave the module's tensors as they
were. Prints `key: value` lines, its own CPU time among them; a model that fails a check gets a
single `invalid: <reason>` line (exit code 0: the verdict is the output).
"""

from __future__ import annotations

import math
import os
import random
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from archive import Archive, Invalid, read  # noqa: E402
from lang import VOCAB_SIZE, sample_sequence, variant  # noqa: E402  (the evaluator's own copy)

ARTIFACT = "model.pt2"
BATCH = 32
CONTEXT = 128
EVAL_SEQUENCES = int(os.environ.get("LM_SPEEDRUN_EVAL_SEQUENCES", "512"))
NORM_TOL = 2e-3  # |logsumexp over the vocabulary| allowed, in nats
CAUSAL_TOL = 1e-3  # largest change of an earlier log-prob when later tokens change
# Per-call compute budget: 4x what one call of the largest model the knobs allow costs here
# (8 layers of width 384, 8 heads, fp32; docs/SECURITY.md "lm-speedrun artifacts" has the
# measurement). CPU time is the process's (torch's worker threads included); the wall-time
# bound leaves room for a loaded machine.
CALL_CPU_LIMIT = 12.0
CALL_WALL_LIMIT = 3 * CALL_CPU_LIMIT

__all__ = ["Invalid", "call", "evaluate", "run_model"]


@dataclass
class Costs:
    """What the model calls cost: fresh loads and the calls themselves."""

    calls: int = 0
    load_seconds: float = 0.0
    max_call_cpu: float = 0.0
    max_call_wall: float = 0.0


def run_model(model: Any, x: Any) -> tuple[Any, float, float]:
    """One call under inference mode on a private copy of x: (float64 log-probs, cpu s, wall s).

    Inference mode, not no_grad: a module that turns grad mode back on inside forward still
    gets tensors that autograd cannot record, so it cannot train itself here."""
    import torch

    torch.manual_seed(0)  # random operators draw the same numbers in every call
    inp = x.clone()
    with torch.inference_mode():
        cpu0, wall0 = time.process_time(), time.perf_counter()
        try:
            out = model(inp)
        except Exception as e:  # noqa: BLE001
            why = f"{type(e).__name__}: {str(e)[:300]}"
            raise Invalid(f"model failed on int64 input of shape {tuple(x.shape)}: {why}") from None
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    if isinstance(out, tuple | list) and len(out) == 1:
        out = out[0]
    if not isinstance(out, torch.Tensor):
        raise Invalid(f"model returned {type(out).__name__}, expected a tensor of log-probs")
    want = (x.shape[0], x.shape[1], VOCAB_SIZE)
    if tuple(out.shape) != want:
        raise Invalid(f"model output has shape {tuple(out.shape)}, expected {want}")
    if not out.is_floating_point():
        raise Invalid(f"model output has dtype {out.dtype}, expected floating point log-probs")
    out = out.detach().to(torch.float64)
    if not torch.isfinite(out).all():
        raise Invalid("model output has NaN or inf")
    return out, cpu, wall


def call(archive: Archive, x: Any, costs: Costs) -> Any:
    """A fresh module from the archive, one call within the budget, its tensors unchanged."""
    t0 = time.perf_counter()
    model, tensors = archive.fresh()
    costs.load_seconds += time.perf_counter() - t0
    out, cpu, wall = run_model(model, x)
    costs.calls += 1
    costs.max_call_cpu, costs.max_call_wall = max(costs.max_call_cpu, cpu), max(costs.max_call_wall, wall)
    if cpu > CALL_CPU_LIMIT or wall > CALL_WALL_LIMIT:
        raise Invalid(
            f"one call of the model took {cpu:.1f} s of CPU and {wall:.1f} s of wall time on a batch "
            f"of {x.shape[0]} x {x.shape[1]} tokens (limits {CALL_CPU_LIMIT:g} s and "
            f"{CALL_WALL_LIMIT:g} s: 4x the largest model the knobs allow)"
        )
    changed = archive.changed(tensors)
    if changed:
        raise Invalid(f"the model changed its own tensors during a call ({changed!r}): it must be a "
                      "fixed function of its input (no state between calls)")
    return out


def check_normalized(logp: Any) -> float:
    """Every position must be a distribution over the vocabulary: logsumexp == 0."""
    lse = logp.logsumexp(dim=-1).abs().max().item()
    if lse > NORM_TOL:
        raise Invalid(
            f"outputs are not normalized log-probs: |logsumexp| up to {lse:.4g} "
            f"(allowed {NORM_TOL}); return log_softmax of the logits"
        )
    return lse


def check_causal(archive: Archive, x: Any, logp: Any, cuts: list[int], rng: random.Random,
                 costs: Costs) -> float:
    """Change every token after each row's cut point; predictions up to it must not move."""
    y = x.clone()
    for b, cut in enumerate(cuts):
        for t in range(cut + 1, x.shape[1]):
            y[b, t] = (int(x[b, t]) + 1 + rng.randrange(VOCAB_SIZE - 1)) % VOCAB_SIZE
    logp2 = call(archive, y, costs)
    worst = 0.0
    for b, cut in enumerate(cuts):
        diff = (logp2[b, : cut + 1] - logp[b, : cut + 1]).abs().max().item()
        worst = max(worst, diff)
        if diff > CAUSAL_TOL:
            raise Invalid(
                f"model peeks at future tokens: changing tokens after position {cut} "
                f"changed predictions at or before it by {diff:.4g} nats"
            )
    return worst


def evaluate(artifacts: Path, eval_seed: int, run_seed: str | None = None) -> dict[str, float]:
    """Score ARTIFACTS/model.pt2 on held-out data from `eval_seed`, in the variant of `run_seed`."""
    import torch

    t0 = time.time()
    archive = read(artifacts / ARTIFACT)
    perm = variant(run_seed)
    costs = Costs()
    rng = random.Random(eval_seed)
    n_batches = max(1, EVAL_SEQUENCES // BATCH)
    total_nll, total_floor, n_tokens = 0.0, 0.0, 0
    seq_excess: list[float] = []
    seq_loss: list[float] = []
    max_lse, max_causal = 0.0, 0.0
    # causality probe: every cut point 0..CONTEXT-2 once, spread over the first batches
    cuts = list(range(CONTEXT - 1))
    cuts += [rng.randrange(CONTEXT - 1) for _ in range(-len(cuts) % BATCH)]
    rng.shuffle(cuts)
    n_batches = max(n_batches, len(cuts) // BATCH)
    for i in range(n_batches):
        seqs = [sample_sequence(rng, CONTEXT, perm) for _ in range(BATCH)]
        tokens = torch.tensor([s[0] for s in seqs], dtype=torch.long)
        true_logp = torch.tensor([s[1] for s in seqs], dtype=torch.float64)
        x, y = tokens[:, :-1].contiguous(), tokens[:, 1:]
        logp = call(archive, x, costs)
        max_lse = max(max_lse, check_normalized(logp))
        if i * BATCH < len(cuts):
            row_cuts = cuts[i * BATCH : (i + 1) * BATCH]
            max_causal = max(max_causal, check_causal(archive, x, logp, row_cuts, rng, costs))
        nll = -logp.gather(-1, y.unsqueeze(-1)).squeeze(-1)  # (BATCH, CONTEXT)
        total_nll += nll.sum().item()
        total_floor += -true_logp.sum().item()
        n_tokens += nll.numel()
        seq_excess.extend((nll.mean(1) + true_logp.mean(1)).tolist())
        seq_loss.extend(nll.mean(1).tolist())
    val_loss = total_nll / n_tokens
    floor = total_floor / n_tokens
    return {
        "val_loss": val_loss,
        "val_loss_se": _se(seq_loss),
        "entropy_floor": floor,
        "loss_above_floor": val_loss - floor,
        "loss_above_floor_se": _se(seq_excess),
        "eval_tokens": float(n_tokens),
        "max_abs_logsumexp": max_lse,
        "max_causal_leak": max_causal,
        "model_calls": float(costs.calls),
        "load_seconds": costs.load_seconds / max(1, costs.calls),
        "max_call_cpu_seconds": costs.max_call_cpu,
        "max_call_seconds": costs.max_call_wall,
        "eval_seconds": time.time() - t0,
        "eval_cpu_seconds": time.process_time(),  # this process's CPU so far (torch import included)
    }


def _se(xs: list[float]) -> float:
    """Standard error of the mean of per-sequence values."""
    m = sum(xs) / len(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / max(1, len(xs) - 1) / len(xs))


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python evaluate.py ARTIFACTS_DIR", file=sys.stderr)
        return 2
    seed_env = os.environ.get("RUBICON_EVAL_SEED")
    eval_seed = int(seed_env) if seed_env else secrets.randbits(63)
    # the run's seed picks its variant of the language (the sandbox sets both to the run's seed;
    # without either, the canonical language)
    run_seed = os.environ.get("RUBICON_RUN_SEED") or os.environ.get("RUBICON_SEED")
    try:
        metrics = evaluate(Path(argv[1]), eval_seed, run_seed)
    except Invalid as e:
        print(f"invalid: {e}", flush=True)
        return 0
    for k, v in metrics.items():
        print(f"{k}: {int(v)}" if k in ("eval_tokens", "model_calls") else f"{k}: {v:.6f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
