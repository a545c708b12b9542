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
    agent = records.agent_codes.astype(np.int64)
    task = records.task_codes.astype(np.int64)
    n_tasks = len(records.task_names)
    # runs per (agent, task)
    at = agent * n_tasks + task
    _, at_inv, at_counts = np.unique(at, return_inverse=True, return_counts=True)
    w = 1.0 / at_counts[at_inv].astype(np.float64)
    if scheme == "invsqrt":
        # distinct tasks per (agent, family)
        n_fam = len(records.family_names)
        cells = np.unique(at)
        fam_of_cell = records.task_family[cells % n_tasks].astype(np.int64)
        af = (cells // n_tasks) * n_fam + fam_of_cell
        keys, counts = np.unique(af, return_counts=True)
        per_run = counts[np.searchsorted(keys, agent * n_fam + records.task_family[task])]
        w = w / np.sqrt(per_run.astype(np.float64))
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
    totals = np.bincount(records.agent_codes, weights=w)
    return np.asarray(w / totals[records.agent_codes], dtype=np.float64)


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
    for k, a in enumerate(records.agent_names):
        m = records.agent_codes == k
        out[a] = float(np.sum(w[m] * records.score[m]))
    return out
