"""Harness-owned: this run's spirals dataset (inputs/spirals.npz, from the secret seed and the
run's seed) and the corrected repository's answers on it ({private}/expected.json).
usage: prepare.py INPUTS PRIVATE  (env RUBICON_EVAL_SEED, RUBICON_RUN_SEED)"""

import sys
from pathlib import Path

import numpy as np
from questions import QUESTIONS
from reprokit import prepare_main


def spirals(rng: np.random.Generator, n_per_class: int, noise: float, turns: float,
            ) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for c in range(3):
        t = np.sqrt(rng.uniform(0.02, 1.0, size=n_per_class))
        angle = 2 * np.pi * (c / 3 + turns * t)
        pts = np.column_stack([t * np.cos(angle), t * np.sin(angle)])
        xs.append(pts + rng.normal(0.0, noise, size=pts.shape))
        ys.append(np.full(n_per_class, c))
    X, y = np.concatenate(xs), np.concatenate(ys)
    order = rng.permutation(len(y))
    return X[order], y[order]


def make_inputs(rng: np.random.Generator, inputs: Path) -> None:
    noise, turns = float(rng.uniform(0.06, 0.09)), float(rng.uniform(0.95, 1.15))
    X_train, y_train = spirals(rng, 200, noise, turns)
    X_test, y_test = spirals(rng, 100, noise, turns)
    np.savez(inputs / "spirals.npz", X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test)


if __name__ == "__main__":
    sys.exit(prepare_main(sys.argv, make_inputs, QUESTIONS))
