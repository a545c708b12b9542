"""Harness-owned evaluator for weak-to-strong.

    python evaluate.py TASK_DIR ARTIFACTS_DIR PRIVATE_DIR

Loads ARTIFACTS_DIR/strong.rbw into the evaluator's own gpt.Classifier (raw tensors and a JSON
header: no candidate code runs, nothing is unpickled), checks that it is the strong model's
architecture and that its body was trained from the base model (gpt.distance_problem: the
mean relative change over every tensor of the base, and each tensor's own, within limits),
classifies the held-out test documents that prepare.py kept in PRIVATE_DIR (the run never saw
them), and reports the performance gap recovered

    pgr = (transfer_accuracy - weak_accuracy) / (ceiling_accuracy - weak_accuracy)

with the weak supervisor's and the strong ceiling's accuracies measured by prepare.py on the
same test documents. Prints `key: value` lines; a model that breaks a rule gets one
`invalid: <reason>` line.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import strong  # noqa: E402
import torch  # noqa: E402
from gpt import (  # noqa: E402
    Classifier,
    WeightFileError,
    check_shapes,
    distance_problem,
    load_weights,
    relative_distance,
)

MIN_GAP = 0.05  # ceiling - weak below this makes PGR meaningless


class Invalid(Exception):
    """The artifacts break a rule; the message is the reason."""


def load_candidate(task: Path, artifacts: Path) -> tuple[Classifier, float]:
    base, _ = load_weights(task / "workspace" / "base" / "base.rbw")
    shapes = {k: v for k, v in Classifier().state_dict().items()}
    try:
        tensors, _ = load_weights(artifacts / "strong.rbw")
        check_shapes(tensors, shapes, what="the strong model (gpt.Classifier)")
    except WeightFileError as e:
        raise Invalid(f"strong.rbw: {e} (export gpt.Classifier's tensors with gpt.save_weights)") from None
    # the body only (the head is new); limits shared with posttrain, in gpt.py
    problem = distance_problem(tensors, base)
    if problem:
        raise Invalid(f"strong.rbw's body is not trained from the base model: {problem}")
    dist = relative_distance(tensors, base)
    model = Classifier()
    model.load_state_dict(tensors)
    return model.eval(), dist


def evaluate(task: Path, artifacts: Path, private: Path) -> dict[str, float]:
    t0 = time.time()
    held = json.loads((private / "heldout.json").read_text())
    model, dist = load_candidate(task, artifacts)
    probs = strong.predict(model, held["tokens"])
    labels = held["labels"]
    right = [(p > 0.5) == bool(y) for p, y in zip(probs, labels, strict=True)]
    transfer = sum(right) / len(right)
    weak, ceiling = held["weak_accuracy"], held["ceiling_accuracy"]
    gap = ceiling - weak
    if gap < MIN_GAP:  # never seen in calibration (docs/BENCHMARKS.md); not the candidate's fault
        raise RuntimeError(f"ceiling {ceiling:.3f} - weak {weak:.3f} < {MIN_GAP}: PGR undefined")
    pgr = (transfer - weak) / gap
    out = {
        # the objective: the harness compares objectives by ratio, so it must be positive
        "recovery": max(1.0 + pgr, 0.01),
        "pgr": pgr,
        "transfer_accuracy": transfer,
        "transfer_accuracy_se": math.sqrt(transfer * (1 - transfer) / len(right)),
        "weak_accuracy": weak,
        "ceiling_accuracy": ceiling,
        "distance_from_base": dist,
        "test_documents": float(len(labels)),
        "eval_seconds": time.time() - t0,
    }
    # accuracy on each kind of document (clean, and each fault kind): where the gap is
    for kind in sorted(set(held["faults"])):
        rows = [r for r, k in zip(right, held["faults"], strict=True) if k == kind]
        out[f"accuracy_{kind}"] = sum(rows) / len(rows)
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print("usage: python evaluate.py TASK_DIR ARTIFACTS_DIR PRIVATE_DIR", file=sys.stderr)
        return 2
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1") or 1))
    if not (Path(argv[3]) / "heldout.json").is_file():
        print(f"no heldout.json in {argv[3]}: run prepare.py first", file=sys.stderr)
        return 2
    try:
        metrics = evaluate(Path(argv[1]), Path(argv[2]), Path(argv[3]))
    except Invalid as e:
        print(f"invalid: {e}", flush=True)
        return 0
    for k, v in metrics.items():
        print(f"{k}: {v:.6f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
