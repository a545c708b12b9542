"""Harness-owned: this run's corpus (inputs/corpus.npz, from the secret seed and the run's seed)
and the corrected repository's answers on it ({private}/expected.json).
usage: prepare.py INPUTS PRIVATE  (env RUBICON_EVAL_SEED, RUBICON_RUN_SEED)"""

import sys
from pathlib import Path

import numpy as np
from questions import QUESTIONS
from reprokit import prepare_main

VOCAB = 20


def markov_stream(rng: np.random.Generator, probs: np.ndarray, n: int) -> np.ndarray:
    """n tokens from a second-order Markov source with transition table probs[a, b] -> next."""
    out = np.empty(n, dtype=np.int64)
    out[:2] = rng.integers(0, VOCAB, size=2)
    u = rng.random(n)
    cdf = probs.cumsum(axis=-1)
    for i in range(2, n):
        out[i] = min(int(np.searchsorted(cdf[out[i - 2], out[i - 1]], u[i])), VOCAB - 1)
    return out


def make_inputs(rng: np.random.Generator, inputs: Path) -> None:
    alpha = float(rng.uniform(0.05, 0.2))  # how sparse the source's transitions are
    probs = rng.dirichlet(np.full(VOCAB, alpha), size=(VOCAB, VOCAB))
    np.savez(inputs / "corpus.npz", train=markov_stream(rng, probs, 20_000),
             val=markov_stream(rng, probs, 5_000))


if __name__ == "__main__":
    sys.exit(prepare_main(sys.argv, make_inputs, QUESTIONS))
