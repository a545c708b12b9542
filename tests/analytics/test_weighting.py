from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rubicon.analytics import load_runs, records_from_rows, task_weights, weighted_success
from rubicon.errors import AnalyticsError


def _row(task: str, fam: str, score: int, agent: str = "a") -> dict[str, object]:
    return {
        "task_id": task,
        "task_family": fam,
        "alias": agent,
        "human_minutes": 1.0,
        "score_binarized": score,
    }


def test_invsqrt_and_equal_weights_known_values() -> None:
    # family A: tasks t1 (2 runs), t2 (1 run); family B: task t3 (1 run)
    rows = [_row("t1", "A", 1), _row("t1", "A", 0), _row("t2", "A", 1), _row("t3", "B", 0)]
    recs = records_from_rows(rows)
    raw = np.array([1 / (2 * np.sqrt(2)), 1 / (2 * np.sqrt(2)), 1 / np.sqrt(2), 1.0])
    np.testing.assert_allclose(task_weights(recs, "invsqrt"), raw / raw.sum())
    eq = np.array([0.5, 0.5, 1.0, 1.0])
    np.testing.assert_allclose(task_weights(recs, "equal"), eq / eq.sum())
    ws = weighted_success(recs, "equal")
    assert ws["a"] == pytest.approx((0.5 + 1.0) / 3.0)


def test_weights_are_per_agent() -> None:
    rows = [_row("t1", "A", 1, "a"), _row("t1", "A", 0, "b"), _row("t2", "A", 1, "b")]
    w = task_weights(records_from_rows(rows), "invsqrt")
    assert w[0] == pytest.approx(1.0)
    assert w[1] + w[2] == pytest.approx(1.0)


def test_unknown_weighting() -> None:
    with pytest.raises(AnalyticsError, match="invsqrt, equal"):
        task_weights(records_from_rows([_row("t", "f", 1)]), "bogus")


def test_metr_weights_match_file_columns(metr_runs: Path) -> None:
    rows = [json.loads(line) for line in metr_runs.open()]
    recs = load_runs(metr_runs)
    for scheme, col in (("invsqrt", "invsqrt_task_weight"), ("equal", "equal_task_weight")):
        expected = np.array([r[col] for r in rows])
        np.testing.assert_allclose(task_weights(recs, scheme), expected, atol=1e-9)


def test_metr_weighted_success_matches_readme(metr_runs: Path) -> None:
    ws = weighted_success(load_runs(metr_runs), "invsqrt")
    # figures quoted in /work/shared/data/metr/README.md
    assert round(ws["o1"], 4) == 0.4693
    assert round(ws["Claude 3.5 Sonnet (New)"], 4) == 0.4945
    assert round(ws["GPT-4 0314"], 4) == 0.2224
    assert round(ws["human"], 4) == 0.7825
    assert ws["davinci-002"] == 0.0
