"""Run records: the columnar table that time-horizon analysis consumes, and its validation.

Rows come from METR's ``runs.jsonl``, rubicon bench output (a JSONL with METR's field names:
required ``task_id``, ``task_family``, ``alias``, ``human_minutes`` and one of
``score_binarized`` / ``score_cont`` / ``score``; optional ``run_id``, ``model``,
``release_date``) or Inspect eval logs; :mod:`rubicon.analytics._loading` reads the files.

The table is columnar and dictionary-encoded: agents, tasks and families are small integer
codes into name tuples, so two million runs take tens of megabytes, not gigabytes.
"""

from __future__ import annotations

import datetime as dt
import math
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from rubicon.errors import AnalyticsError

REQUIRED_FIELDS = ("task_id", "task_family", "alias", "human_minutes")
SCORE_FIELDS = ("score_binarized", "score_cont", "score")
Codes = npt.NDArray[np.int32]


def _remap(codes: Codes, names: tuple[str, ...]) -> tuple[Codes, tuple[str, ...]]:
    """Drop unused names (keeping their order) and renumber the codes."""
    used = np.zeros(len(names), dtype=bool)
    used[codes] = True
    if used.all():
        return codes, names
    new = np.cumsum(used, dtype=np.int64) - 1
    kept = tuple(n for n, u in zip(names, used.tolist(), strict=True) if u)
    return new[codes].astype(np.int32), kept


@dataclass(frozen=True)
class RunRecords:
    """A validated table of runs, one row per (agent, task) attempt, dictionary-encoded.

    Attributes:
        agent_codes: per run, index into ``agent_names``.
        agent_names: agents in order of first appearance.
        task_codes: per run, index into ``task_names``.
        task_names: tasks in order of first appearance.
        task_family: per task, index into ``family_names`` (a task is in one family).
        family_names: task families in order of first appearance.
        human_minutes: human time of the run's task, minutes (> 0).
        score: success per run in [0, 1] (usually 0/1; fractions count as split weight).
        release_dates: release date per agent, when the source carried one.
        sources: files the rows came from.
        notes: what loading did that the reader should know (duplicates dropped, errored
            samples skipped, a file given twice).
    """

    agent_codes: Codes
    agent_names: tuple[str, ...]
    task_codes: Codes
    task_names: tuple[str, ...]
    task_family: Codes
    family_names: tuple[str, ...]
    human_minutes: npt.NDArray[np.float64]
    score: npt.NDArray[np.float64]
    release_dates: dict[str, dt.date] = field(default_factory=dict)
    sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return int(self.agent_codes.shape[0])

    @property
    def agents(self) -> list[str]:
        """Agents in order of first appearance."""
        return list(self.agent_names)

    @property
    def family_codes(self) -> Codes:
        """Per run, index into ``family_names``."""
        return self.task_family[self.task_codes]

    @property
    def agent(self) -> npt.NDArray[np.str_]:
        """Agent name per run (materialised; prefer ``agent_codes`` on large tables)."""
        return np.asarray(self.agent_names, dtype=np.str_)[self.agent_codes]

    @property
    def task(self) -> npt.NDArray[np.str_]:
        """Task id per run (materialised; prefer ``task_codes`` on large tables)."""
        return np.asarray(self.task_names, dtype=np.str_)[self.task_codes]

    @property
    def family(self) -> npt.NDArray[np.str_]:
        """Task family per run (materialised; prefer ``family_codes`` on large tables)."""
        return np.asarray(self.family_names, dtype=np.str_)[self.family_codes]

    def agent_mask(self, name: str) -> npt.NDArray[np.bool_]:
        """Rows of one agent."""
        return np.asarray(self.agent_codes == self.agent_names.index(name))

    def select(self, mask: npt.NDArray[np.bool_]) -> RunRecords:
        """Return the rows where ``mask`` is true."""
        agents, agent_names = _remap(self.agent_codes[mask], self.agent_names)
        tasks, task_names = _remap(self.task_codes[mask], self.task_names)
        old_task = np.unique(self.task_codes[mask])
        fams, family_names = _remap(self.task_family[old_task], self.family_names)
        return RunRecords(
            agent_codes=agents,
            agent_names=agent_names,
            task_codes=tasks,
            task_names=task_names,
            task_family=fams,
            family_names=family_names,
            human_minutes=self.human_minutes[mask],
            score=self.score[mask],
            release_dates={k: v for k, v in self.release_dates.items() if k in agent_names},
            sources=self.sources,
            notes=self.notes,
        )

    def only_agents(self, agents: Sequence[str]) -> RunRecords:
        """Keep the named agents; unknown names raise AnalyticsError listing the known ones."""
        known = self.agents
        missing = [a for a in agents if a not in known]
        if missing:
            raise AnalyticsError(
                f"unknown agent(s) {', '.join(map(repr, missing))}; "
                f"the records have: {', '.join(known)}"
            )
        keep = [known.index(a) for a in agents]
        return self.select(np.isin(self.agent_codes, keep))

    def without_agents(self, agents: Sequence[str]) -> RunRecords:
        """Drop the named agents (names not present are ignored)."""
        drop = [i for i, a in enumerate(self.agent_names) if a in set(agents)]
        return self.select(~np.isin(self.agent_codes, drop))


def _as_float(value: Any, name: str, where: str) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise AnalyticsError(f"{where}: field {name!r} must be a number, found {value!r}")


def parse_date(value: Any, where: str = "date") -> dt.date:
    """Parse an ISO date (``YYYY-MM-DD``) or a ``date``/``datetime`` into a ``date``.

    Args:
        value: the value to parse.
        where: context for the error message.

    Returns:
        The date.

    Raises:
        AnalyticsError: the value is not a date.
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip().strip("'\"")[:10])
        except ValueError:
            pass
    raise AnalyticsError(f"{where}: expected a date like 2025-02-24, found {value!r}")


class Encoder:
    """Strings to int codes in order of first appearance."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.names: list[str] = []

    def code(self, name: str) -> int:
        c = self.index.get(name)
        if c is None:
            c = self.index[name] = len(self.names)
            self.names.append(name)
        return c

    def codes(self, names: Iterable[str]) -> npt.NDArray[np.int64]:
        """Codes of many names (e.g. a file's own dictionary), as an array."""
        return np.fromiter((self.code(n) for n in names), dtype=np.int64)


class Table:
    """Growing columns shared by every source of one load: codes, floats, provenance.

    ``run`` holds per row a code for the run's identity (``run_id``) in its own file's
    ``run_names``, -1 when absent; ``file`` the index of the source file.
    """

    def __init__(self, drop_untimed: bool) -> None:
        self.drop_untimed = drop_untimed
        self.agents, self.tasks, self.families = Encoder(), Encoder(), Encoder()
        self.run_names: list[Any] = []
        self.task_family: dict[int, int] = {}
        self.task_where: dict[int, str] = {}
        self.agent: list[npt.NDArray[np.int64]] = []
        self.task: list[npt.NDArray[np.int64]] = []
        self.run: list[npt.NDArray[np.int64]] = []
        self.file: list[npt.NDArray[np.int64]] = []
        self.minutes: list[npt.NDArray[np.float64]] = []
        self.score: list[npt.NDArray[np.float64]] = []
        self.release: dict[str, dt.date] = {}
        self.untimed: dict[str, str] = {}
        self.sources: list[str] = []
        self.notes: list[str] = []

    def add_rows(self, rows: Iterable[tuple[Mapping[str, Any], str]], file_idx: int) -> None:
        """Validate METR-schema rows one by one (exact messages) and append them."""
        a, t, r = array("q"), array("q"), array("q")
        m, s = array("d"), array("d")
        runs = Encoder()
        for row, where in rows:
            missing = [f for f in REQUIRED_FIELDS if f not in row]
            if not any(f in row for f in SCORE_FIELDS):
                missing.append(" or ".join(SCORE_FIELDS))
            if missing:
                raise AnalyticsError(
                    f"{where}: missing field(s) {', '.join(missing)}; a run record needs "
                    f"{', '.join(REQUIRED_FIELDS)} and one of {', '.join(SCORE_FIELDS)} "
                    "(METR runs.jsonl field names; see docs/HORIZONS.md)"
                )
            tid, fam, name = str(row["task_id"]), str(row["task_family"]), str(row["alias"])
            tcode = self.tasks.code(tid)
            self.check_family(tcode, self.families.code(fam), where)
            hm = row["human_minutes"]
            hm_val = math.nan if hm is None or hm == "" else _as_float(hm, "human_minutes", where)
            if not math.isfinite(hm_val) or hm_val <= 0:
                self.untimed.setdefault(tid, where)
                if self.drop_untimed:
                    continue
            for f in SCORE_FIELDS:
                if f in row and row[f] is not None:
                    sc = _as_float(row[f], f, where)
                    break
            else:
                raise AnalyticsError(f"{where}: the score fields {', '.join(SCORE_FIELDS)} are null")
            if not 0.0 <= sc <= 1.0 or math.isnan(sc):
                raise AnalyticsError(
                    f"{where}: score {sc} is outside [0, 1]; time horizons need success in [0, 1] "
                    "(binarize scores first, e.g. as METR's score_binarized)"
                )
            if row.get("release_date"):
                self.release[name] = parse_date(row["release_date"], f"{where}: field 'release_date'")
            rid = row.get("run_id")
            a.append(self.agents.code(name))
            t.append(tcode)
            r.append(-1 if rid is None or rid == "" else runs.code(str(rid)))
            m.append(hm_val)
            s.append(sc)
        self.append(np.frombuffer(a, np.int64), np.frombuffer(t, np.int64),
                    np.frombuffer(r, np.int64), np.frombuffer(m), np.frombuffer(s), file_idx,
                    runs.names)

    def check_family(self, tcode: int, fcode: int, where: str) -> None:
        known = self.task_family.setdefault(tcode, fcode)
        self.task_where.setdefault(tcode, where)
        if known != fcode:
            raise AnalyticsError(
                f"{where}: task {self.tasks.names[tcode]!r} is in family "
                f"{self.families.names[fcode]!r} here but {self.families.names[known]!r} "
                f"earlier ({self.task_where[tcode]}); a task belongs to exactly one family"
            )

    def append(self, agent: npt.NDArray[np.int64], task: npt.NDArray[np.int64],
               run: npt.NDArray[np.int64], minutes: npt.NDArray[np.float64],
               score: npt.NDArray[np.float64], file_idx: int, run_names: Any) -> None:
        self.agent.append(agent)
        self.run_names.append(run_names)
        self.task.append(task)
        self.run.append(run)
        self.minutes.append(minutes)
        self.score.append(score)
        self.file.append(np.full(len(agent), file_idx, dtype=np.int64))

    def _global_runs(self, run: npt.NDArray[np.int64],
                     file: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Run codes comparable across files (one file's own codes already are)."""
        if len(self.run_names) <= 1 or not (run >= 0).any():
            return run
        enc = Encoder()
        out = np.full(len(run), -1, dtype=np.int64)
        for k, names in enumerate(self.run_names):
            rows = np.flatnonzero((file == k) & (run >= 0))
            if len(rows):
                names = names.to_pylist() if hasattr(names, "to_pylist") else names
                out[rows] = enc.codes(names)[run[rows]]
        return out

    def finish(self) -> RunRecords:
        """Check what needs every row (untimed tasks, duplicates) and build the records."""
        if self.untimed and not self.drop_untimed:
            shown = ", ".join(f"{t!r} ({w})" for t, w in list(self.untimed.items())[:5])
            more = f" and {len(self.untimed) - 5} more" if len(self.untimed) > 5 else ""
            raise AnalyticsError(
                f"{len(self.untimed)} task(s) have no positive human_minutes: {shown}{more}. "
                "A time horizon needs a human time for every task: add human_minutes, or drop "
                "these tasks with --drop-untimed (API: drop_untimed=True)"
            )
        def ints(parts: list[npt.NDArray[np.int64]]) -> npt.NDArray[np.int64]:
            return np.concatenate(parts) if parts else np.zeros(0, np.int64)

        def floats(parts: list[npt.NDArray[np.float64]]) -> npt.NDArray[np.float64]:
            return np.concatenate(parts) if parts else np.zeros(0, np.float64)

        agent, task, run, file = ints(self.agent), ints(self.task), ints(self.run), ints(self.file)
        minutes, score = floats(self.minutes), floats(self.score)
        self.agent, self.task, self.run, self.file = [], [], [], []
        self.minutes, self.score = [], []
        if not len(agent):
            raise AnalyticsError(f"{', '.join(self.sources) or '<rows>'}: no run records found")
        keep = _duplicates(agent, task, self._global_runs(run, file), run, file, minutes, score,
                           self)
        if keep is not None:
            agent, task, minutes, score = agent[keep], task[keep], minutes[keep], score[keep]
        tf = np.array([self.task_family[i] for i in range(len(self.tasks.names))], np.int64)
        agent32, anames = _remap(agent.astype(np.int32), tuple(self.agents.names))
        task32, tnames = _remap(task.astype(np.int32), tuple(self.tasks.names))
        used_tasks = np.flatnonzero(np.bincount(task, minlength=len(tf)) > 0)
        fam32, fnames = _remap(tf[used_tasks].astype(np.int32), tuple(self.families.names))
        return RunRecords(
            agent_codes=agent32,
            agent_names=anames,
            task_codes=task32,
            task_names=tnames,
            task_family=fam32,
            family_names=fnames,
            human_minutes=minutes,
            score=score,
            release_dates={k: v for k, v in self.release.items() if k in anames},
            sources=tuple(self.sources),
            notes=tuple(self.notes),
        )


def _duplicates(
    agent: npt.NDArray[np.int64], task: npt.NDArray[np.int64], run: npt.NDArray[np.int64],
    local: npt.NDArray[np.int64], file: npt.NDArray[np.int64], minutes: npt.NDArray[np.float64],
    score: npt.NDArray[np.float64], table: Table,
) -> npt.NDArray[np.bool_] | None:
    """Rows to keep after dropping repeats of a run (same run_id, alias and task_id).

    Identical repeats (the same log read twice, e.g. as .eval and .json) are dropped with a
    note; repeats that disagree on score or human time raise, since no rule can pick one.
    """
    has = np.flatnonzero(run >= 0)
    if len(has) < 2 or np.bincount(run[has]).max() < 2:
        return None
    order = has[np.lexsort((task[has], agent[has], run[has]))]
    same = ((run[order[1:]] == run[order[:-1]]) & (agent[order[1:]] == agent[order[:-1]])
            & (task[order[1:]] == task[order[:-1]]))
    if not same.any():
        return None
    dup, prev = order[1:][same], order[:-1][same]
    names = table.sources

    def run_name(row: int) -> str:
        value = table.run_names[file[row]][int(local[row])]
        return str(value.as_py() if hasattr(value, "as_py") else value)

    differ = (score[dup] != score[prev]) | (minutes[dup] != minutes[prev])
    if differ.any():
        i, j = int(prev[differ][0]), int(dup[differ][0])
        raise AnalyticsError(
            f"run {run_name(j)!r} of {table.agents.names[agent[j]]!r} on task "
            f"{table.tasks.names[task[j]]!r} appears twice with different results (score "
            f"{score[i]:g} in {names[file[i]]}, {score[j]:g} in {names[file[j]]}); remove one"
        )
    keep = np.ones(len(run), dtype=bool)
    keep[dup] = False
    i, j = int(prev[0]), int(dup[0])
    where = (f"in {names[file[i]]}" if file[i] == file[j]
             else f"in {names[file[i]]} and {names[file[j]]}")
    table.notes.append(
        f"dropped {len(dup)} duplicate run(s): the same run_id, alias and task_id seen twice "
        f"(e.g. run {run_name(j)!r} {where}); each run is counted once"
    )
    return keep


def records_from_rows(
    rows: Iterable[Mapping[str, Any]],
    source: str = "<rows>",
    drop_untimed: bool = False,
) -> RunRecords:
    """Validate METR-schema rows and build a :class:`RunRecords`.

    Args:
        rows: dicts with METR's runs.jsonl field names (see module docstring).
        source: name of the source for error messages.
        drop_untimed: drop rows whose task has no human time instead of raising.

    Returns:
        The validated records.

    Raises:
        AnalyticsError: a required field is missing or malformed, a task has no human time
            (unless ``drop_untimed``), a task belongs to two families, a run appears twice
            with different results, or there are no rows.
    """
    table = Table(drop_untimed)
    table.sources.append(source)
    table.add_rows(((r, f"{source}, row {i}") for i, r in enumerate(rows, start=1)), 0)
    return table.finish()
