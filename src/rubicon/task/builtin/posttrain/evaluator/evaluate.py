"""Harness-owned evaluator for posttrain.

    python evaluate.py TASK_DIR ARTIFACTS_DIR

Loads ARTIFACTS_DIR/model.rbw into the evaluator's own copy of the base architecture (raw
tensors and a JSON header: no candidate code runs, nothing is unpickled), checks that it is the
base model's architecture and that it was post-trained from the base model (its weights lie
within gpt.distance_problem's limits of the base's: the mean relative change over every tensor,
and each tensor's own), reads the decoding settings of decode.json, and grades exact answers
to fresh questions drawn with the secret seed RUBICON_EVAL_SEED.
Prints `key: value` lines; a model that breaks a rule gets one `invalid: <reason>` line.
"""

from __future__ import annotations

import json
import math
import os
import random
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lang  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from gpt import (  # noqa: E402
    EXTRA_TOKENS,
    GPT,
    WeightFileError,
    check_shapes,
    distance_problem,
    load_weights,
    relative_distance,
)
from questions import DEFAULT_TEMPLATE, render, sample_question  # noqa: E402

QUESTIONS = int(os.environ.get("POSTTRAIN_EVAL_QUESTIONS", "600"))
PROBE_SEQUENCES = 64
BATCH = 100
MAX_TEMPLATE = 12
MAX_NEW_TOKENS = 24
TOKENS = set(lang.WORDS) | set(EXTRA_TOKENS)
TOKEN_ID = {**lang.ID, **{w: lang.VOCAB_SIZE + i for i, w in enumerate(EXTRA_TOKENS)}}


class Decode(NamedTuple):
    """decode.json, checked."""
    template: list[str]
    digits_only: bool
    max_new_tokens: int
    answer_after: int | None  # token id; None: the answer is the first two generated tokens


class Invalid(Exception):
    """The artifacts break a rule; the message is the reason."""


def read_decode(path: Path) -> Decode:
    """decode.json: {"template": [...], "digits_only": bool, "max_new_tokens": int,
    "answer_after": token}; every key optional."""
    if not path.is_file():
        return Decode(list(DEFAULT_TEMPLATE), False, 2, None)
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise Invalid(f"decode.json is not JSON: {e}") from None
    keys = {"template", "digits_only", "max_new_tokens", "answer_after"}
    if not isinstance(cfg, dict) or set(cfg) - keys:
        raise Invalid(f"decode.json must be an object with only the keys {sorted(keys)}")
    template = cfg.get("template", DEFAULT_TEMPLATE)
    digits_only = cfg.get("digits_only", False)
    max_new = cfg.get("max_new_tokens", 2)
    after = cfg.get("answer_after")
    if (not isinstance(template, list) or not 2 <= len(template) <= MAX_TEMPLATE
            or not all(isinstance(w, str) for w in template)):
        raise Invalid(f"decode.json 'template' must be a list of 2 to {MAX_TEMPLATE} token strings")
    bad = [w for w in template if w not in TOKENS and w not in ("A", "B")]
    if bad:
        raise Invalid(f"decode.json 'template' has unknown tokens {bad[:5]} (use the vocabulary "
                      "of lang.py, the reserved tokens, and A / B for the two variables)")
    if "A" not in template or "B" not in template:
        raise Invalid("decode.json 'template' must contain both A and B")
    if not isinstance(digits_only, bool):
        raise Invalid("decode.json 'digits_only' must be true or false")
    if isinstance(max_new, bool) or not isinstance(max_new, int) or not 2 <= max_new <= MAX_NEW_TOKENS:
        raise Invalid(f"decode.json 'max_new_tokens' must be an integer from 2 to {MAX_NEW_TOKENS}")
    if after is not None and after not in TOKENS:
        raise Invalid("decode.json 'answer_after' must be a token of the vocabulary (e.g. \"=\") or null")
    return Decode(template, digits_only, max_new, None if after is None else TOKEN_ID[after])


def load_candidate(task: Path, artifacts: Path) -> tuple[GPT, float]:
    base, _ = load_weights(task / "workspace" / "base" / "base.rbw")
    try:
        tensors, _ = load_weights(artifacts / "model.rbw")
        check_shapes(tensors, base)
    except WeightFileError as e:
        raise Invalid(f"model.rbw: {e} (export the base architecture with gpt.save_weights)") from None
    # gpt.distance_problem: the mean change over every tensor and each tensor's own change are
    # capped (limits in gpt.py, calibrated in docs/BENCHMARKS.md "rd base model")
    problem = distance_problem(tensors, base)
    if problem:
        raise Invalid(f"model.rbw is not post-trained from the base model: {problem}")
    dist = relative_distance(tensors, base)
    model = GPT()
    model.load_state_dict(tensors)
    return model.eval(), dist


def answer(model: GPT, prompts: list[list[int]], dec: Decode) -> list[list[int]]:
    """The two answer tokens after each prompt, decoded greedily: the first two generated
    tokens, or (with `answer_after`) the two generated right after the first generated
    `answer_after` token, within `max_new_tokens` (else no answer: [-1, -1]). Batches are
    decoded with the model's key/value cache (GPT.generate)."""
    out: list[list[int]] = []
    steps = 2 if dec.answer_after is None else dec.max_new_tokens
    for k in range(0, len(prompts), BATCH):
        chunk = prompts[k:k + BATCH]
        new = model.generate(chunk, steps, pick=_picker(max(map(len, chunk)), dec)).tolist()
        out += [_read_answer(toks, dec) for toks in new]
    return out


def _answer_start(toks: list[int], dec: Decode) -> int | None:
    """Where the answer starts among the generated tokens (None: not yet)."""
    if dec.answer_after is None:
        return 0
    return toks.index(dec.answer_after) + 1 if dec.answer_after in toks else None


def _read_answer(toks: list[int], dec: Decode) -> list[int]:
    start = _answer_start(toks, dec)
    got = toks[start:start + 2] if start is not None else []
    return got if len(got) == 2 else [-1, -1]


def _picker(length: int, dec: Decode) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Greedy choice; with digits_only, the two answer tokens are the best digits."""
    allowed = torch.full((lang.VOCAB_SIZE + len(EXTRA_TOKENS),), float("-inf"))
    allowed[lang.DIGIT_IDS] = 0.0

    def pick(logits: torch.Tensor, seq: torch.Tensor) -> torch.Tensor:
        if not dec.digits_only:
            return logits.argmax(-1)
        rows = []
        for row, toks in zip(logits, seq[:, length:].tolist(), strict=True):
            start = _answer_start(toks, dec)
            in_answer = start is not None and len(toks) - start < 2
            rows.append((row + allowed if in_answer else row).argmax())
        return torch.stack(rows)

    return pick


def probe_loss(model: GPT, rng: random.Random) -> float:
    """Mean NLL on fresh documents of the language (how much of the base's knowledge is left)."""
    x = torch.tensor([lang.sample_sequence(rng, 128)[0] for _ in range(PROBE_SEQUENCES)])
    with torch.no_grad():
        return F.cross_entropy(model(x[:, :-1]).flatten(0, 1), x[:, 1:].flatten()).item()


def evaluate(task: Path, artifacts: Path, seed: int) -> dict[str, float]:
    torch.manual_seed(0)
    t0 = time.time()
    dec = read_decode(artifacts / "decode.json")
    model, dist = load_candidate(task, artifacts)
    rng = random.Random(seed)
    qs = [sample_question(rng) for _ in range(QUESTIONS)]
    got = answer(model, [render(p, a, b, dec.template) for p, a, b, _ in qs], dec)
    right = [g == q[3] for g, q in zip(got, qs, strict=True)]
    acc = sum(right) / len(right)
    return {
        # the objective: Laplace-smoothed, never 0 (the harness compares objectives by ratio)
        "accuracy": (sum(right) + 1) / (len(right) + 2),
        "exact_accuracy": acc,
        "accuracy_se": math.sqrt(max(acc * (1 - acc), 1 / len(right)) / len(right)),
        "tens_accuracy": sum(g[0] == q[3][0] for g, q in zip(got, qs, strict=True)) / len(qs),
        "units_accuracy": sum(g[1] == q[3][1] for g, q in zip(got, qs, strict=True)) / len(qs),
        "distance_from_base": dist,
        "language_loss": probe_loss(model, rng),
        "questions": float(len(qs)),
        "eval_seconds": time.time() - t0,
    }


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: python evaluate.py TASK_DIR ARTIFACTS_DIR", file=sys.stderr)
        return 2
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1") or 1))
    seed_env = os.environ.get("RUBICON_EVAL_SEED")
    seed = int(seed_env) if seed_env else secrets.randbits(63)
    try:
        metrics = evaluate(Path(argv[1]), Path(argv[2]), seed)
    except Invalid as e:
        print(f"invalid: {e}", flush=True)
        return 0
    for k, v in metrics.items():
        print(f"{k}: {v:.6f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
