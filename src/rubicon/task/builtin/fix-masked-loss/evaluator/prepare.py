"""Harness-owned: this run's hidden tests of seqtrain (inputs/ for the run, expected outputs
in {private}). usage: prepare.py INPUTS PRIVATE  (env RUBICON_EVAL_SEED, RUBICON_RUN_SEED)

Each hidden test is a few random batches of one kind. Which tests the shipped package fails:
`mean` over padded batches (it divides by every position, padding included) and any `pad_id`
other than 0 (it masks id 0 instead). The rest guard what already works.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from fixkit import Builder, rng_from_env

CASES_PER_TEST = 5


def batch(rng: np.random.Generator, pad: int, padded: bool, scale: float = 1.0,
          ) -> tuple[np.ndarray, np.ndarray, int]:
    """Random (B, T, V) logits, (B, T) targets whose padded rows end with the pad id, and that
    id (`pad` -1 means V - 1, the last id of the vocabulary)."""
    b, t = int(rng.integers(2, 6)), int(rng.integers(4, 13))
    v = int(rng.integers(110, 160)) if pad == -100 else int(rng.integers(5, 40))
    pad_id = v - 1 if pad == -1 else pad
    logits = rng.normal(size=(b, t, v)) * scale
    real = [i for i in range(v) if i != pad_id]
    targets = rng.choice(real, size=(b, t))
    if pad_id != 0:
        targets[0, 0] = 0  # token 0 is a real token here
    if padded:
        lengths = rng.integers(1, t, size=b)
        lengths[-1] = t  # one full row
        for i, n in enumerate(lengths):
            targets[i, n:] = pad_id
    return logits, targets, pad_id


def cases(bld: Builder, fn: str, pad_ids: list[int], padded: bool, scale: float = 1.0,
          **kwargs: Any) -> list[dict[str, Any]]:
    out = []
    for _ in range(CASES_PER_TEST):
        logits, targets, pad = batch(bld.rng, int(bld.rng.choice(pad_ids)), padded, scale)
        kw = {"pad_id": pad, **kwargs}
        if fn == "loss" and "label_smoothing" in kw:
            kw["label_smoothing"] = round(float(bld.rng.uniform(0.05, 0.3)), 3)
        out.append({"fn": fn, "logits": bld.array(logits), "targets": bld.array(targets),
                    "kwargs": kw})
    return out


def build(bld: Builder) -> None:
    any_pad = [0, -100, -1]  # -1 stands for V - 1 below
    bld.add("mean_without_padding", cases(bld, "loss", [0], False, reduction="mean"))
    bld.add("sum_without_padding", cases(bld, "loss", [0], False, reduction="sum"))
    bld.add("mean_large_logits", cases(bld, "loss", [0], False, scale=1e3, reduction="mean"))
    bld.add("sum_pad_zero", cases(bld, "loss", [0], True, reduction="sum"))
    bld.add("none_pad_zero", cases(bld, "loss", [0], True, reduction="none"))
    bld.add("mean_pad_zero", cases(bld, "loss", [0], True, reduction="mean"))
    bld.add("mean_smoothing_pad_zero",
            cases(bld, "loss", [0], True, reduction="mean", label_smoothing=0.1))
    bld.add("perplexity_pad_zero", cases(bld, "perplexity", [0], True))
    bld.add("sum_pad_last", cases(bld, "loss", [-1], True, reduction="sum"))
    bld.add("none_pad_minus_100", cases(bld, "loss", [-100], True, reduction="none"))
    bld.add("mean_pad_minus_100", cases(bld, "loss", [-100], True, reduction="mean"))
    bld.add("accuracy_padded", cases(bld, "accuracy", any_pad, True))
    bld.add("lengths_padded", cases(bld, "lengths", any_pad, True))


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: prepare.py INPUTS PRIVATE", file=sys.stderr)
        return 2
    bld = Builder(rng_from_env())
    build(bld)
    with tempfile.TemporaryDirectory() as scratch:
        bld.write(Path(argv[1]), Path(argv[2]), "seqtrain", Path(scratch))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
