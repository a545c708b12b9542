"""Harness-owned evaluator: `score.py ARTIFACTS PRIVATE`.

Reads ARTIFACTS/submission.csv strictly (see competition.read_submission) and prints
`rmsle: ...` (root mean squared error of log(1 + units)) against PRIVATE/labels.csv, or
`invalid: reason`.
"""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from competition import read_labels, read_submission, rmsle, score_main  # noqa: E402

MAX_UNITS = 1e6  # far above any row's demand; a larger prediction is a bug, not a forecast


def main() -> None:
    ids, y = read_labels(Path(sys.argv[2]) / "labels.csv") if len(sys.argv) == 3 else ([], None)

    def read(artifacts: Path) -> np.ndarray:
        return read_submission(artifacts / "submission.csv", "row_id", "units", ids, 0.0, MAX_UNITS)

    def metric(pred: np.ndarray) -> dict[str, float]:
        assert y is not None
        return {"rmsle": rmsle(y, pred), "rows": float(len(ids))}

    score_main(read, metric, sys.argv)


if __name__ == "__main__":
    main()
