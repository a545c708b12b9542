"""Harness-owned evaluator: `score.py ARTIFACTS PRIVATE`.

Reads ARTIFACTS/submission.csv strictly (see competition.read_submission) and prints
`auc: ...` against PRIVATE/labels.csv, or `invalid: reason`.
"""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from competition import auc, read_labels, read_submission, score_main  # noqa: E402


def main() -> None:
    ids, y = read_labels(Path(sys.argv[2]) / "labels.csv") if len(sys.argv) == 3 else ([], None)

    def read(artifacts: Path) -> np.ndarray:
        return read_submission(artifacts / "submission.csv", "customer_id", "churn_probability",
                               ids, 0.0, 1.0)

    def metric(pred: np.ndarray) -> dict[str, float]:
        assert y is not None
        return {"auc": auc(y, pred), "rows": float(len(ids))}

    score_main(read, metric, sys.argv)


if __name__ == "__main__":
    main()
