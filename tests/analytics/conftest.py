"""Shared fixtures: synthetic run records with known answers, and METR's public data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rubicon.analytics import RunRecords, records_from_rows

METR_DIR = next(
    (p / "shared" / "data" / "metr" for p in Path(__file__).resolve().parents
     if (p / "shared" / "data" / "metr").is_dir()),
    Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "metr",
)
METR_RUNS = METR_DIR / "all_runs_2025-02-27.jsonl"


@pytest.fixture
def metr_runs() -> Path:
    if not METR_RUNS.is_file():
        pytest.skip(f"METR fixture data not found at {METR_RUNS.resolve()} (../shared absent)")
    return METR_RUNS


def synthetic_rows(
    horizons: dict[str, float],
    slope: float = -0.8,
    n_families: int = 12,
    tasks_per_family: int = 4,
    runs_per_task: int = 6,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Runs drawn from P(success) = sigmoid(slope * (log2 m - log2 h)) per agent."""
    rng = np.random.default_rng(seed)
    lengths = np.geomspace(0.5, 2000, n_families * tasks_per_family)
    rng.shuffle(lengths)
    rows: list[dict[str, Any]] = []
    for agent, h in horizons.items():
        for k, minutes in enumerate(lengths):
            fam = f"fam{k // tasks_per_family}"
            p = 1 / (1 + np.exp(-slope * (np.log2(minutes) - np.log2(h))))
            for r in range(runs_per_task):
                rows.append(
                    {
                        "run_id": f"{agent}-{k}-{r}",
                        "task_id": f"{fam}/t{k}",
                        "task_family": fam,
                        "alias": agent,
                        "human_minutes": float(minutes),
                        "score_binarized": int(rng.random() < p),
                    }
                )
    return rows


@pytest.fixture
def make_rows() -> Callable[..., list[dict[str, Any]]]:
    """The synthetic-run generator, as a fixture (test modules are not a package)."""
    return synthetic_rows


@pytest.fixture
def synthetic() -> RunRecords:
    return records_from_rows(synthetic_rows({"fast": 120.0, "slow": 8.0}, runs_per_task=8))
