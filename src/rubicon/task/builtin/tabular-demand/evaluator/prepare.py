"""Harness-owned [prepare] step: `prepare.py INPUTS PRIVATE`.

Draws this run's competition from the secret RUBICON_EVAL_SEED: INPUTS gets train.csv,
test.csv (no labels) and sample_submission.csv, which the run sees read-only as inputs/;
PRIVATE gets labels.csv, which only the evaluator sees.
"""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

import demand_data  # noqa: E402
from competition import eval_seed, write_csv  # noqa: E402


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit("usage: prepare.py INPUTS_DIR PRIVATE_DIR")
    inputs, private = Path(sys.argv[1]), Path(sys.argv[2])
    comp = demand_data.make(eval_seed())
    write_csv(inputs / "train.csv", comp.train)
    write_csv(inputs / "test.csv", comp.test)
    ids = comp.test[demand_data.ID]
    typical = float(np.median(comp.train[demand_data.TARGET]))
    write_csv(inputs / "sample_submission.csv", {demand_data.ID: ids, "units": np.full(len(ids), typical)})
    write_csv(private / "labels.csv", {demand_data.ID: ids, demand_data.TARGET: comp.y_test})
    print(f"prepared: {len(comp.train[demand_data.ID])} train rows, {len(ids)} test rows")


if __name__ == "__main__":
    main()
