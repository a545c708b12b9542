"""Harness-owned: this run's hidden tests of tabloader (inputs/ for the run, expected outputs
and property checks in {private}). usage: prepare.py INPUTS PRIVATE
(env RUBICON_EVAL_SEED, RUBICON_RUN_SEED)

What the shipped package gets wrong: a grouped split sorts rows by group and cuts at a row
count, so the group at the cut lands on both sides, and validation always holds the groups with
the smallest labels whatever the seed; `make_datasets` fits the scaler on every row before
splitting, so validation statistics leak into training. The rest guard what already works.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from checks import CHECKS
from fixkit import Builder, rng_from_env


def make_groups(rng: np.random.Generator) -> np.ndarray:
    """Labels of 25-50 groups of 1-12 rows (e.g. patients), rows of a group scattered."""
    k = int(rng.integers(25, 51))
    sizes = np.minimum(rng.geometric(0.25, size=k), 12)
    labels = rng.choice(np.arange(1000, 10000), size=k, replace=False)
    g = np.repeat(labels, sizes)
    return g[rng.permutation(len(g))]


def split_case(bld: Builder, grouped: bool, op: str = "split", **extra: Any) -> dict[str, Any]:
    rng = bld.rng
    g = make_groups(rng) if grouped else None
    n = len(g) if g is not None else int(rng.integers(50, 300))
    f = round(float(rng.uniform(0.1, 0.4)), 3)
    case: dict[str, Any] = {"op": op, "n": n, "val_fraction": f, "seed": int(rng.integers(2**31)),
                            "groups": bld.array(g) if g is not None else None, **extra}
    args = {"n": n, "n_val": int(round(f * n)), "groups": None if g is None else g.tolist(),
            "max_group": 0 if g is None else int(np.unique(g, return_counts=True)[1].max())}
    if op == "split_seeds":
        args["seeds"] = case["seeds"]
    case["_check"] = {"check": op, "args": args}
    return case


def dataset_case(bld: Builder, grouped: bool) -> dict[str, Any]:
    case = split_case(bld, grouped, op="datasets")
    rng, n = bld.rng, case["n"]
    d = int(rng.integers(2, 6))
    X = rng.normal(loc=rng.uniform(-50, 50, size=d), scale=rng.uniform(0.1, 20, size=d),
                   size=(n, d))
    y = rng.integers(0, 3, size=n)
    case.update({"X": bld.array(X), "y": bld.array(y)})
    case["_check"] = {"check": "datasets",
                      "args": {**case["_check"]["args"], "X": X.tolist(), "y": y.tolist()}}
    return case


def batch_case(bld: Builder) -> dict[str, Any]:
    rng = bld.rng
    n, bs = int(rng.integers(10, 200)), int(rng.integers(1, 40))
    drop = bool(rng.random() < 0.4)
    return {"op": "batches", "n": n, "batch_size": bs, "shuffle": bool(rng.random() < 0.8),
            "seed": int(rng.integers(2**31)), "drop_last": drop,
            "_check": {"check": "batches", "args": {"n": n, "batch_size": bs, "drop_last": drop}}}


def build(bld: Builder) -> None:
    rng = bld.rng
    bld.add("split_ungrouped", [split_case(bld, False) for _ in range(5)])
    bld.add("split_repeatable", [split_case(bld, False, "split_repeat") for _ in range(4)])
    bad = [{"op": "split", "n": 20, "val_fraction": f, "seed": 1, "groups": None}
           for f in (0.0, 1.0, -0.1, 1.5)]
    bld.add("split_rejects_bad_fraction", bad)
    bld.add("batches_cover_rows", [batch_case(bld) for _ in range(5)])
    bld.add("split_grouped_no_leak", [split_case(bld, True) for _ in range(8)])
    bld.add("split_grouped_varies_with_seed", [
        split_case(bld, True, "split_seeds", seeds=[int(s) for s in rng.integers(2**31, size=5)])
        for _ in range(3)])
    bld.add("datasets_scaler_on_train_rows", [dataset_case(bld, False) for _ in range(4)])
    bld.add("datasets_grouped", [dataset_case(bld, True) for _ in range(4)])


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: prepare.py INPUTS PRIVATE", file=sys.stderr)
        return 2
    bld = Builder(rng_from_env())
    build(bld)
    with tempfile.TemporaryDirectory() as scratch:
        bld.write(Path(argv[1]), Path(argv[2]), "tabloader", Path(scratch), checks=CHECKS)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
