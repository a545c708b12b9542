"""Harness-owned [prepare] step for weak-to-strong (runs before every run, never sees candidate
code).

    python prepare.py TASK_DIR INPUTS_DIR PRIVATE_DIR

From the secret RUBICON_EVAL_SEED it draws the secret labelling rule, a small labelled set on
which it fits the weak supervisor (weak.py), an unlabelled training set and a held-out test set.
The run gets INPUTS_DIR/train.json: the training documents with the weak supervisor's labels
and probabilities only. PRIVATE_DIR/heldout.json (the evaluator's alone) keeps the test
documents and their true labels, the weak supervisor's test predictions, and the strong
ceiling: the strong model's head fit by the harness (strong.py) to the training documents'
true labels over the frozen base model, scored on the test set.
Every stream of random numbers gets its own seed, hashed from the evaluation seed, so nothing
in the inputs tells anything about the test set or the rule.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import strong  # noqa: E402
import torch  # noqa: E402
import w2sdata  # noqa: E402
import weak  # noqa: E402
from gpt import Classifier, load_weights  # noqa: E402

N_WEAK = 1000  # labelled documents the weak supervisor learns from (its own, as in Burns et al.)
N_TRAIN = 2000  # unlabelled documents for the run (weak labels only)
N_TEST = 1000  # held-out documents, never shown to the run
# Smaller sets for the task's own tests only ("weak,train,test"); the harness never sets it.
SIZES_ENV = "WEAK_TO_STRONG_SIZES"


def stream(seed: int, name: str) -> random.Random:
    """An independent random stream per purpose, seeded by a hash of (seed, name)."""
    digest = hashlib.sha256(f"weak-to-strong/{name}/{seed}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "little"))


def accuracy(probs: list[float], labels: list[int]) -> float:
    return sum((p > 0.5) == bool(y) for p, y in zip(probs, labels, strict=True)) / len(labels)


def prepare(task: Path, inputs: Path, private: Path, seed: int) -> dict[str, float]:
    t0 = time.time()
    n_weak, n_train, n_test = N_WEAK, N_TRAIN, N_TEST
    if os.environ.get(SIZES_ENV):
        n_weak, n_train, n_test = (int(v) for v in os.environ[SIZES_ENV].split(","))
    rule = w2sdata.secret_rule(stream(seed, "rule"))
    weak_x, weak_y, _ = w2sdata.dataset(stream(seed, "weak"), n_weak, rule)
    train_x, train_y, train_k = w2sdata.dataset(stream(seed, "train"), n_train, rule)
    test_x, test_y, test_k = w2sdata.dataset(stream(seed, "test"), n_test, rule)
    w = weak.fit(weak_x, weak_y)
    train_p = weak.predict_proba(w, train_x)
    test_p = weak.predict_proba(w, test_x)
    t_weak = time.time() - t0

    model = Classifier()
    model.load_state_dict(load_weights(task / "workspace" / "base" / "base.rbw")[0], strict=False)
    model.eval()
    strong.fit_head(model, strong.features(model, train_x), [float(y) for y in train_y])
    ceiling_p = strong.predict(model, test_x)

    (inputs / "train.json").write_text(json.dumps({
        "tokens": train_x,
        "weak_label": [int(p > 0.5) for p in train_p],
        "weak_prob": [round(p, 4) for p in train_p],
    }))
    facts = {
        "weak_accuracy": accuracy(test_p, test_y),
        "ceiling_accuracy": accuracy(ceiling_p, test_y),
        "weak_train_accuracy": accuracy(train_p, train_y),
        "weak_seconds": t_weak,
        "prepare_seconds": time.time() - t0,
    }
    (private / "heldout.json").write_text(json.dumps({
        "rule": w2sdata.describe(rule), "tokens": test_x, "labels": test_y, "faults": test_k,
        "weak_prob": test_p, "ceiling_prob": ceiling_p, "train_labels": train_y,
        "train_faults": train_k, **facts,
    }))
    return facts


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print("usage: python prepare.py TASK_DIR INPUTS_DIR PRIVATE_DIR", file=sys.stderr)
        return 2
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1") or 1))
    seed_env = os.environ.get("RUBICON_EVAL_SEED")
    seed = int(seed_env) if seed_env else secrets.randbits(63)
    facts = prepare(Path(argv[1]), Path(argv[2]), Path(argv[3]), seed)
    # only timings: accuracies and the rule are the evaluator's to report
    print(f"prepare_seconds: {facts['prepare_seconds']:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
