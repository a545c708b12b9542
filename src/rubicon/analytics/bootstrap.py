"""Hierarchical bootstrap of run records: task families, then tasks, then runs.

One bootstrap sample is drawn jointly for all agents (the same families and tasks for every
agent; runs are then resampled within each agent-task cell), as in METR's time-horizon work.
A sample is represented by how many times each original run appears in it, so every sample is
a weight vector over the original rows and all samples can be fitted at once.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from rubicon.analytics._records import RunRecords


def hierarchical_counts(
    records: RunRecords,
    n_samples: int,
    rng: np.random.Generator,
    levels: str = "ftr",
) -> npt.NDArray[np.int32]:
    """Multiplicity of each run in each bootstrap sample.

    Drawing F families with replacement, then, inside each drawn family, its T_f tasks with
    replacement, then, inside each drawn task and agent, its n runs with replacement, gives
    multinomial counts at each level; this draws those counts directly.

    Args:
        records: the runs.
        n_samples: number of bootstrap samples B.
        rng: random generator.
        levels: which levels to resample: any of ``f`` (families), ``t`` (tasks), ``r`` (runs).

    Returns:
        (B, n_runs) integer counts.
    """
    fam_names, fam_idx = np.unique(records.family, return_inverse=True)
    task_names, task_idx = np.unique(records.task, return_inverse=True)
    n_f, n_t = len(fam_names), len(task_names)
    task_family = np.zeros(n_t, dtype=np.int64)
    task_family[task_idx] = fam_idx
    if "f" in levels:
        fam_counts = rng.multinomial(n_f, np.full(n_f, 1.0 / n_f), size=n_samples)
    else:
        fam_counts = np.ones((n_samples, n_f), dtype=np.int64)
    task_counts = np.zeros((n_samples, n_t), dtype=np.int64)
    for f in range(n_f):
        tasks = np.flatnonzero(task_family == f)
        k = len(tasks)
        if "t" in levels:
            task_counts[:, tasks] = rng.multinomial(fam_counts[:, f] * k, np.full(k, 1.0 / k))
        else:
            task_counts[:, tasks] = fam_counts[:, f][:, None]
    counts = np.zeros((n_samples, len(records)), dtype=np.int32)
    _, agent_idx = np.unique(records.agent, return_inverse=True)
    cell = agent_idx * n_t + task_idx
    order = np.argsort(cell, kind="stable")
    bounds = np.flatnonzero(np.diff(cell[order])) + 1
    for rows in np.split(order, bounds):
        t = int(task_idx[rows[0]])
        n = len(rows)
        if "r" in levels:
            counts[:, rows] = rng.multinomial(task_counts[:, t] * n, np.full(n, 1.0 / n))
        else:
            counts[:, rows] = task_counts[:, t][:, None]
    return counts
