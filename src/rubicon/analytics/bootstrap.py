"""Hierarchical bootstrap of run records: task families, then tasks, then runs.

One bootstrap sample is drawn jointly for all agents (the same families and tasks for every
agent; runs are then resampled within each agent-task cell), as in METR's time-horizon code.

The estimator never materialises a samples x runs matrix. A logistic fit of success on task
length only needs, per agent and task length, the total weight and the success weight of
the resampled runs. Inside one agent-task cell every run has the same weight, so resampling
the cell's n runs T*n times (T = how often the task was drawn) only matters through how many
of the draws land on each distinct (length, score) "kind" of run: a multinomial over the
kinds, drawn here as a chain of binomials (one binomial per cell for 0/1 scores). That is
the same distribution as resampling the runs one by one, at the cost of (samples x kinds)
numbers per agent instead of (samples x runs) for all agents.

:func:`hierarchical_counts` is the direct, materialising version (per-run multiplicities),
kept as the reference the tests compare the sufficient-statistic draws with.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from rubicon.analytics._records import RunRecords

Array = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


def draw_task_counts(
    records: RunRecords, n_samples: int, rng: np.random.Generator, levels: str = "ftr"
) -> Ints:
    """How many times each task is drawn in each sample: families, then tasks within them.

    Args:
        records: the runs.
        n_samples: number of bootstrap samples B.
        rng: random generator.
        levels: which levels to resample: ``f`` (families) and/or ``t`` (tasks).

    Returns:
        (B, n_tasks) counts, columns in ``records.task_names`` order.
    """
    # families and tasks are visited in sorted-name order, so the draws do not depend on the
    # order of rows in the file
    fam_order = np.argsort(np.asarray(records.family_names, dtype=object), kind="stable")
    n_f, n_t = len(records.family_names), len(records.task_names)
    if "f" in levels:
        drawn = rng.multinomial(n_f, np.full(n_f, 1.0 / n_f), size=n_samples)
        fam_counts = np.empty_like(drawn)
        fam_counts[:, fam_order] = drawn
    else:
        fam_counts = np.ones((n_samples, n_f), dtype=np.int64)
    task_counts = np.zeros((n_samples, n_t), dtype=np.int64)
    names = np.asarray(records.task_names, dtype=object)
    for f in fam_order.tolist():
        tasks = np.flatnonzero(records.task_family == f)
        tasks = tasks[np.argsort(names[tasks], kind="stable")]
        k = len(tasks)
        if "t" in levels:
            task_counts[:, tasks] = rng.multinomial(fam_counts[:, f] * k, np.full(k, 1.0 / k))
        else:
            task_counts[:, tasks] = fam_counts[:, f][:, None]
    return task_counts


@dataclass(frozen=True)
class AgentCells:
    """One agent's runs reduced to what the bootstrap and the fit need.

    Kinds are the distinct (task, length, score) combinations of the agent's runs, ordered by
    task and, within a task, by score from high to low (so once a cell reaches a score of 0,
    the rest of the cell adds nothing to the success weight).

    Attributes:
        x: (n_cols,) distinct log2 task lengths, ascending.
        total: (n_cols,) weight of the runs at each length.
        success: (n_cols,) weight x score of the runs at each length.
        kind_freq, kind_cell, kind_pos, kind_col, kind_w, kind_y: per kind: runs, cell
            (agent-task), position inside the cell, length column, weight of one run, score.
        cell_task, cell_runs, cell_kinds: per cell: task, runs, kinds.
        cell_col: per cell, its length column, or -1 when its runs have several lengths.
    """

    x: Array
    total: Array
    success: Array
    kind_freq: Ints
    kind_cell: Ints
    kind_pos: Ints
    kind_col: Ints
    kind_w: Array
    kind_y: Array
    cell_task: Ints
    cell_runs: Ints
    cell_kinds: Ints
    cell_col: Ints


def agent_cells(task: Ints, x: Array, y: Array, w: Array) -> AgentCells:
    """Group one agent's runs into kinds (same task, length and score) and columns (lengths).

    Args:
        task: task code per run.
        x: log2 minutes per run.
        y: score per run.
        w: weight per run (the same for all runs of a task, as task weights are).
    """
    cols, col_of_run = np.unique(x, return_inverse=True)
    ys, y_code = np.unique(-y, return_inverse=True)  # scores from high to low
    n_cols, n_y = len(cols), len(ys)
    key = (task.astype(np.int64) * n_y + y_code) * n_cols + col_of_run
    ukey, kind_of_run, freq = np.unique(key, return_inverse=True, return_counts=True)
    kind_of_run = kind_of_run.reshape(-1)
    n_kinds = len(freq)
    kind_task = ukey // (n_y * n_cols)  # sorted by task: cells are contiguous runs of kinds
    kind_y = -ys[(ukey // n_cols) % n_y]
    kind_w = np.zeros(n_kinds)
    kind_w[kind_of_run] = w
    kind_col = np.zeros(n_kinds, dtype=np.int64)
    kind_col[kind_of_run] = col_of_run
    cell_task, kind_cell, cell_kinds = np.unique(kind_task, return_inverse=True,
                                                 return_counts=True)
    kind_cell = kind_cell.reshape(-1).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(cell_kinds)[:-1]])
    kind_pos = np.arange(n_kinds, dtype=np.int64) - starts[kind_cell]
    cell_runs = np.bincount(kind_cell, weights=freq).astype(np.int64)
    lo = np.full(len(cell_task), n_kinds, dtype=np.int64)
    hi = np.full(len(cell_task), -1, dtype=np.int64)
    np.minimum.at(lo, kind_cell, kind_col)
    np.maximum.at(hi, kind_cell, kind_col)
    return AgentCells(
        x=cols,
        total=np.bincount(col_of_run, weights=w, minlength=n_cols).astype(np.float64),
        success=np.bincount(col_of_run, weights=w * y, minlength=n_cols).astype(np.float64),
        kind_freq=freq.astype(np.int64), kind_cell=kind_cell, kind_pos=kind_pos,
        kind_col=kind_col, kind_w=kind_w, kind_y=kind_y, cell_task=cell_task.astype(np.int64),
        cell_runs=cell_runs, cell_kinds=cell_kinds.astype(np.int64),
        cell_col=np.where(lo == hi, lo, -1),
    )


def _sum_by_col(values: Array, cols: Ints, n_cols: int) -> Array:
    """(B, k) values whose columns are ``cols`` (repeats allowed) summed into (B, n_cols)."""
    out = np.zeros((values.shape[0], n_cols))
    if not len(cols):
        return out
    order = np.argsort(cols, kind="stable")
    sc = cols[order]
    starts = np.flatnonzero(np.r_[True, sc[1:] != sc[:-1]])
    if len(starts) == len(cols) and (order == np.arange(len(cols))).all():
        out[:, sc] = values
    else:
        out[:, sc[starts]] = np.add.reduceat(values[:, order], starts, axis=1)
    return out


def resample_stats(
    cells: AgentCells, task_counts: Ints, rng: np.random.Generator, resample_runs: bool = True
) -> tuple[Array, Array]:
    """Total and success weight per length column in each bootstrap sample.

    Args:
        cells: the agent's runs (see :func:`agent_cells`).
        task_counts: (B, n_tasks) draws of the task level (see :func:`draw_task_counts`).
        rng: random generator (used for the run level).
        resample_runs: resample runs within cells (the ``r`` level).

    Returns:
        (total, success), each (B, n_cols); weights are the original ones times how often a
        run was drawn (not re-normalised, as in METR's code).
    """
    nb = task_counts.shape[0]
    n_cols = len(cells.x)
    drawn = task_counts[:, cells.cell_task]  # (B, n_cells) task draws
    cell_w = np.zeros(len(cells.cell_task))
    cell_w[cells.kind_cell] = cells.kind_w
    if not resample_runs:
        counts = drawn[:, cells.kind_cell] * cells.kind_freq[None, :]
        wc = counts * cells.kind_w[None, :]
        return (_sum_by_col(wc, cells.kind_col, n_cols),
                _sum_by_col(wc * cells.kind_y[None, :], cells.kind_col, n_cols))
    pure = bool((cells.cell_col >= 0).all())
    # only kinds with a positive score add success weight, and within a cell they come first
    need = cells.kind_y > 0 if pure else np.ones(len(cells.kind_y), dtype=bool)
    remaining = drawn * cells.cell_runs[None, :]
    total = (_sum_by_col(remaining * cell_w[None, :], cells.cell_col, n_cols) if pure
             else np.zeros((nb, n_cols)))
    success = np.zeros((nb, n_cols))
    rest = cells.cell_runs.astype(np.float64)
    for j in range(int(cells.kind_pos[need].max(initial=-1)) + 1):
        ks = np.flatnonzero((cells.kind_pos == j) & need)
        cs = cells.kind_cell[ks]
        last = np.asarray(cells.cell_kinds[cs] - 1 == j)
        take = np.empty((nb, len(ks)), dtype=np.int64)
        take[:, last] = remaining[:, cs[last]]
        mid = ~last
        if mid.any():
            p = cells.kind_freq[ks[mid]] / rest[cs[mid]]
            take[:, mid] = rng.binomial(remaining[:, cs[mid]], np.minimum(p, 1.0))
            remaining[:, cs[mid]] -= take[:, mid]
            rest[cs[mid]] -= cells.kind_freq[ks[mid]]
        wk = take * cells.kind_w[ks][None, :]
        success += _sum_by_col(wk * cells.kind_y[ks][None, :], cells.kind_col[ks], n_cols)
        if not pure:
            total += _sum_by_col(wk, cells.kind_col[ks], n_cols)
    return total, success


def hierarchical_counts(
    records: RunRecords,
    n_samples: int,
    rng: np.random.Generator,
    levels: str = "ftr",
) -> npt.NDArray[np.int32]:
    """Multiplicity of each run in each bootstrap sample (reference version: B x runs memory).

    Drawing F families with replacement, then, inside each drawn family, its T_f tasks with
    replacement, then, inside each drawn task and agent, its n runs with replacement, gives
    multinomial counts at each level; this draws those counts directly. The estimator uses
    :func:`resample_stats` instead, which draws the same distribution without a per-run
    matrix; this function is for small data and for checking that equivalence.

    Args:
        records: the runs.
        n_samples: number of bootstrap samples B.
        rng: random generator.
        levels: which levels to resample: any of ``f`` (families), ``t`` (tasks), ``r`` (runs).

    Returns:
        (B, n_runs) integer counts.
    """
    task_counts = draw_task_counts(records, n_samples, rng, levels)
    counts = np.zeros((n_samples, len(records)), dtype=np.int32)
    n_t = len(records.task_names)
    cell = records.agent_codes.astype(np.int64) * n_t + records.task_codes
    order = np.argsort(cell, kind="stable")
    bounds = np.flatnonzero(np.diff(cell[order])) + 1
    for rows in np.split(order, bounds):
        t = int(records.task_codes[rows[0]])
        n = len(rows)
        if "r" in levels:
            counts[:, rows] = rng.multinomial(task_counts[:, t] * n, np.full(n, 1.0 / n))
        else:
            counts[:, rows] = task_counts[:, t][:, None]
    return counts
