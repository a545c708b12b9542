"""Task weighting and weighted success rates (METR's equal and inverse-sqrt task weights)."""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from rubicon.analytics._records import RunRecords
from rubicon.errors import AnalyticsError

Weighting = Literal["invsqrt", "equal"]
WEIGHTINGS: tuple[str, ...] = ("invsqrt", "equal")


def check_weighting(weighting: str) -> Weighting:
    """Return ``weighting`` if it is a known scheme, else raise AnalyticsError naming them."""
    if weighting == "invsqrt":
        return "invsqrt"
    if weighting == "equal":
        return "equal"
    raise AnalyticsError(f"unknown weighting {weighting!r}; choose one of {', '.join(WEIGHTINGS)}")


def raw_weights(records: RunRecords, weighting: str = "invsqrt") -> npt.NDArray[np.float64]:
    """Un-normalised per-run weights, computed separately for each agent.

    ``equal``: 1 / (the agent's runs on the task), so every task counts the same.
    ``invsqrt``: 1 / (runs on the task x sqrt(the agent's tasks in the task's family)), METR's
    "diversity-weighted" scheme, so a family of n tasks counts like sqrt(n) tasks.

    Args:
        records: the runs.
        weighting: ``invsqrt`` or ``equal``.

    Returns:
        One weight per run.
    """
    scheme = check_weighting(weighting)
    n = len(records)
    _, agent_idx = np.unique(records.agent, return_inverse=True)
    _, task_idx = np.unique(records.task, return_inverse=True)
    _, fam_idx = np.unique(records.family, return_inverse=True)
    n_tasks = int(task_idx.max()) + 1
    # runs per (agent, task)
    at = agent_idx * n_tasks + task_idx
    _, at_inv, at_counts = np.unique(at, return_inverse=True, return_counts=True)
    w = 1.0 / at_counts[at_inv].astype(np.float64)
    if scheme == "invsqrt":
        # distinct tasks per (agent, family)
        n_fam = int(fam_idx.max()) + 1
        pairs = np.unique(np.stack([agent_idx, fam_idx, task_idx]), axis=1)
        af_key = pairs[0] * n_fam + pairs[1]
        keys, counts = np.unique(af_key, return_counts=True)
        lookup = dict(zip(keys.tolist(), counts.tolist(), strict=True))
        per_run = np.array([lookup[k] for k in (agent_idx * n_fam + fam_idx).tolist()], float)
        w = w / np.sqrt(per_run)
    assert w.shape == (n,)
    return np.asarray(w, dtype=np.float64)


def task_weights(records: RunRecords, weighting: str = "invsqrt") -> npt.NDArray[np.float64]:
    """Per-run weights normalised to sum to 1 for each agent (METR's weight columns).

    Args:
        records: the runs.
        weighting: ``invsqrt`` (METR headline) or ``equal``.

    Returns:
        One weight per run; each agent's weights sum to 1.
    """
    w = raw_weights(records, weighting)
    _, agent_idx = np.unique(records.agent, return_inverse=True)
    totals = np.bincount(agent_idx, weights=w)
    return np.asarray(w / totals[agent_idx], dtype=np.float64)


def weighted_success(records: RunRecords, weighting: str = "invsqrt") -> dict[str, float]:
    """Weighted success rate per agent: sum of weight x score with weights summing to 1.

    Args:
        records: the runs.
        weighting: ``invsqrt`` (METR headline) or ``equal``.

    Returns:
        agent -> weighted mean score, in order of first appearance.
    """
    w = task_weights(records, weighting)
    out: dict[str, float] = {}
    for a in records.agents:
        m = records.agent == a
        out[a] = float(np.sum(w[m] * records.score[m]))
    return out
