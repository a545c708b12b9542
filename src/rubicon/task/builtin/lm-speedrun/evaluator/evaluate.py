"""Harness-owned evaluator for lm-speedrun.

    python evaluate.py ARTIFACTS_DIR

Loads ARTIFACTS_DIR/model.pt2 (a torch.export program, or a TorchScript archive) without importing
any candidate Python code, checks that it is a causal language model that returns normalized
log-probabilities, and measures its loss on fresh held-out sequences drawn from the generating
process with the secret seed in RUBICON_EVAL_SEED. Prints `key: value` lines; a model that fails
a check gets a single `invalid: <reason>` line (exit code 0: the verdict is the output).
"""

from __future__ import annotations

import math
import os
import random
import secrets
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lang import VOCAB_SIZE, sample_sequence  # noqa: E402  (the evaluator's own copy)

ARTIFACT = "model.pt2"
BATCH = 32
CONTEXT = 128
EVAL_SEQUENCES = int(os.environ.get("LM_SPEEDRUN_EVAL_SEQUENCES", "512"))
NORM_TOL = 2e-3  # |logsumexp over the vocabulary| allowed, in nats
CAUSAL_TOL = 1e-3  # largest change of an earlier log-prob when later tokens change


class Invalid(Exception):
    """The artifact is not an acceptable model; the message is the reason."""


def load_model(path: Path) -> tuple[Any, str]:
    """Load an exported program or a TorchScript module; never imports candidate code."""
    import torch

    if not path.is_file():
        raise Invalid(f"no {path.name} artifact: train.py must save the model as {path.name}")
    if not zipfile.is_zipfile(path):
        raise Invalid(f"{path.name} is not a torch.export or TorchScript archive")
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
    is_export = any(n.endswith("archive_format") for n in names)
    is_script = any(n.endswith("constants.pkl") or "/code/" in n for n in names)
    try:
        if is_export:
            return torch.export.load(str(path)).module(), "torch.export"
        if is_script:
            return torch.jit.load(str(path), map_location="cpu").eval(), "torchscript"
    except Exception as e:  # noqa: BLE001 - any failure to load makes the artifact invalid
        raise Invalid(f"{path.name} cannot be loaded: {type(e).__name__}: {str(e)[:300]}") from None
    raise Invalid(f"{path.name} is a zip archive but neither a torch.export nor a TorchScript one")


def call(model: Any, x: Any) -> Any:
    """Run the model on a (BATCH, CONTEXT) batch; check shape and finiteness; float64 result."""
    import torch

    with torch.no_grad():
        try:
            out = model(x)
        except Exception as e:  # noqa: BLE001
            why = f"{type(e).__name__}: {str(e)[:300]}"
            raise Invalid(f"model failed on int64 input of shape {tuple(x.shape)}: {why}") from None
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


def check_causal(model: Any, x: Any, logp: Any, cuts: list[int], rng: random.Random) -> float:
    """Change every token after each row's cut point; predictions up to it must not move."""
    y = x.clone()
    for b, cut in enumerate(cuts):
        for t in range(cut + 1, x.shape[1]):
            y[b, t] = (int(x[b, t]) + 1 + rng.randrange(VOCAB_SIZE - 1)) % VOCAB_SIZE
    logp2 = call(model, y)
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


def evaluate(artifacts: Path, eval_seed: int) -> dict[str, float]:
    import torch

    torch.manual_seed(0)
    t0 = time.time()
    model, fmt = load_model(artifacts / ARTIFACT)
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
        seqs = [sample_sequence(rng, CONTEXT) for _ in range(BATCH)]
        tokens = torch.tensor([s[0] for s in seqs], dtype=torch.long)
        true_logp = torch.tensor([s[1] for s in seqs], dtype=torch.float64)
        x, y = tokens[:, :-1].contiguous(), tokens[:, 1:]
        logp = call(model, x)
        max_lse = max(max_lse, check_normalized(logp))
        if i * BATCH < len(cuts):
            row_cuts = cuts[i * BATCH : (i + 1) * BATCH]
            max_causal = max(max_causal, check_causal(model, x, logp, row_cuts, rng))
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
        "eval_seconds": time.time() - t0,
        "torchscript": 1.0 if fmt == "torchscript" else 0.0,
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
    try:
        metrics = evaluate(Path(argv[1]), eval_seed)
    except Invalid as e:
        print(f"invalid: {e}", flush=True)
        return 0
    for k, v in metrics.items():
        print(f"{k}: {v:.6f}" if k != "eval_tokens" else f"{k}: {int(v)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
