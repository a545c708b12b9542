"""Run records: loading and validating the rows that time-horizon analysis consumes.

Three sources are read into one table, :class:`RunRecords`:

* METR's ``runs.jsonl`` (one JSON object per run; see METR's eval-analysis-public),
* rubicon bench output, which is a JSONL with the same field names as METR's file
  (required: ``task_id``, ``task_family``, ``alias``, ``human_minutes`` and one of
  ``score_binarized`` / ``score_cont`` / ``score``; optional: ``run_id``, ``model``,
  ``release_date``),
* Inspect eval logs (``.eval`` or ``.json``) when ``inspect_ai`` is installed.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from rubicon.errors import AnalyticsError

REQUIRED_FIELDS = ("task_id", "task_family", "alias", "human_minutes")
SCORE_FIELDS = ("score_binarized", "score_cont", "score")
INSPECT_INSTALL = "pip install inspect_ai"


@dataclass(frozen=True)
class RunRecords:
    """A validated table of runs, one row per (agent, task) attempt.

    Attributes:
        agent: agent alias per run.
        task: task id per run.
        family: task family per run.
        human_minutes: human time of the run's task, minutes (> 0).
        score: success per run in [0, 1] (usually 0/1; fractions count as split weight).
        release_dates: release date per agent, when the source carried one.
        sources: files the rows came from.
    """

    agent: npt.NDArray[np.str_]
    task: npt.NDArray[np.str_]
    family: npt.NDArray[np.str_]
    human_minutes: npt.NDArray[np.float64]
    score: npt.NDArray[np.float64]
    release_dates: dict[str, dt.date] = field(default_factory=dict)
    sources: tuple[str, ...] = ()

    def __len__(self) -> int:
        return int(self.agent.shape[0])

    @property
    def agents(self) -> list[str]:
        """Agents in order of first appearance."""
        return list(dict.fromkeys(self.agent.tolist()))

    def select(self, mask: npt.NDArray[np.bool_]) -> RunRecords:
        """Return the rows where ``mask`` is true."""
        kept = set(self.agent[mask].tolist())
        return RunRecords(
            agent=self.agent[mask],
            task=self.task[mask],
            family=self.family[mask],
            human_minutes=self.human_minutes[mask],
            score=self.score[mask],
            release_dates={k: v for k, v in self.release_dates.items() if k in kept},
            sources=self.sources,
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
        return self.select(np.isin(self.agent, list(agents)))

    def without_agents(self, agents: Sequence[str]) -> RunRecords:
        """Drop the named agents (names not present are ignored)."""
        return self.select(~np.isin(self.agent, list(agents)))


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
            (unless ``drop_untimed``), a task belongs to two families, or there are no rows.
    """
    located = ((r, f"{source}, row {i}") for i, r in enumerate(rows, start=1))
    return _build(located, (source,), drop_untimed)


def _build(
    rows: Iterable[tuple[Mapping[str, Any], str]],
    sources: tuple[str, ...],
    drop_untimed: bool,
) -> RunRecords:
    agent: list[str] = []
    task: list[str] = []
    family: list[str] = []
    minutes: list[float] = []
    score: list[float] = []
    release: dict[str, dt.date] = {}
    untimed: dict[str, str] = {}
    task_family: dict[str, str] = {}
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
        if task_family.setdefault(tid, fam) != fam:
            raise AnalyticsError(
                f"{where}: task {tid!r} is in family {fam!r} here but "
                f"{task_family[tid]!r} earlier; a task belongs to exactly one family"
            )
        hm = row["human_minutes"]
        hm_val = math.nan if hm is None or hm == "" else _as_float(hm, "human_minutes", where)
        if not math.isfinite(hm_val) or hm_val <= 0:
            untimed.setdefault(tid, where)
            if drop_untimed:
                continue
        for f in SCORE_FIELDS:
            if f in row and row[f] is not None:
                s = _as_float(row[f], f, where)
                break
        else:
            raise AnalyticsError(f"{where}: the score fields {', '.join(SCORE_FIELDS)} are null")
        if not 0.0 <= s <= 1.0 or math.isnan(s):
            raise AnalyticsError(
                f"{where}: score {s} is outside [0, 1]; time horizons need success in [0, 1] "
                "(binarize scores first, e.g. as METR's score_binarized)"
            )
        if row.get("release_date"):
            release[name] = parse_date(row["release_date"], f"{where}: field 'release_date'")
        agent.append(name)
        task.append(tid)
        family.append(fam)
        minutes.append(hm_val)
        score.append(s)
    if untimed and not drop_untimed:
        shown = ", ".join(f"{t!r} ({w})" for t, w in list(untimed.items())[:5])
        more = f" and {len(untimed) - 5} more" if len(untimed) > 5 else ""
        raise AnalyticsError(
            f"{len(untimed)} task(s) have no positive human_minutes: {shown}{more}. "
            "A time horizon needs a human time for every task: add human_minutes, or drop "
            "these tasks with --drop-untimed (API: drop_untimed=True)"
        )
    if not agent:
        raise AnalyticsError(f"{', '.join(sources)}: no run records found")
    return RunRecords(
        agent=np.array(agent, dtype=np.str_),
        task=np.array(task, dtype=np.str_),
        family=np.array(family, dtype=np.str_),
        human_minutes=np.array(minutes, dtype=np.float64),
        score=np.array(score, dtype=np.float64),
        release_dates=release,
        sources=sources,
    )


def _jsonl_rows(path: Path) -> Iterable[tuple[Mapping[str, Any], str]]:
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise AnalyticsError(f"{path}, line {n}: not valid JSON ({e.msg})") from None
            if not isinstance(row, dict):
                raise AnalyticsError(f"{path}, line {n}: expected a JSON object per line")
            yield row, f"{path}, line {n}"


def _inspect_score(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        letter = {"C": 1.0, "I": 0.0, "P": 0.5, "N": 0.0}.get(value.upper())
        if letter is not None:
            return letter
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _inspect_rows(path: Path) -> list[tuple[Mapping[str, Any], str]]:
    try:
        from inspect_ai.log import read_eval_log
    except ImportError:
        raise AnalyticsError(
            f"{path} looks like an Inspect eval log; reading it needs inspect_ai: {INSPECT_INSTALL}"
        ) from None
    try:
        log = read_eval_log(str(path))
    except Exception as e:  # inspect raises many types for unreadable logs
        raise AnalyticsError(f"{path}: not a readable Inspect eval log ({e})") from None
    model = str(log.eval.model)
    task_name = str(log.eval.task)
    task_meta = dict(getattr(log.eval, "metadata", None) or {})
    rows: list[tuple[Mapping[str, Any], str]] = []
    for sample in log.samples or []:
        meta = {**task_meta, **dict(sample.metadata or {})}
        scores = sample.scores or {}
        value = next(iter(scores.values())).value if scores else None
        s = _inspect_score(value)
        if s is None:
            raise AnalyticsError(
                f"{path}: sample {sample.id!r} has score {value!r}; expected C/I, a bool "
                "or a number in [0, 1]"
            )
        row: dict[str, Any] = {
            "run_id": f"{sample.id}#{sample.epoch}",
            "task_id": str(meta.get("task_id", f"{task_name}/{sample.id}")),
            "task_family": str(meta.get("task_family", task_name)),
            "alias": str(meta.get("alias", model)),
            "human_minutes": meta.get("human_minutes"),
            "score_binarized": s,
        }
        if meta.get("release_date"):
            row["release_date"] = meta["release_date"]
        rows.append((row, f"{path}, sample {sample.id!r}"))
    return rows


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        found = sorted(
            p for p in path.rglob("*") if p.suffix in (".jsonl", ".eval", ".json") and p.is_file()
        )
        if not found:
            raise AnalyticsError(f"{path}: directory has no .jsonl, .eval or .json run files")
        return found
    if not path.exists():
        raise AnalyticsError(f"{path}: no such file")
    return [path]


def load_runs(paths: str | Path | Sequence[str | Path], drop_untimed: bool = False) -> RunRecords:
    """Load run records from METR runs.jsonl, rubicon bench JSONL or Inspect eval logs.

    Args:
        paths: one or more files or directories (``.jsonl``; ``.eval``/``.json`` Inspect logs).
        drop_untimed: drop runs on tasks without a human time instead of raising.

    Returns:
        The validated records of all files together.

    Raises:
        AnalyticsError: a file is missing or malformed, or Inspect logs are given without
            ``inspect_ai`` installed (the message names ``pip install inspect_ai``).
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    rows: list[tuple[Mapping[str, Any], str]] = []
    names: list[str] = []
    for p in paths:
        for f in _files(Path(p)):
            names.append(str(f))
            if f.suffix == ".jsonl":
                rows.extend(_jsonl_rows(f))
            elif f.suffix in (".eval", ".json"):
                rows.extend(_inspect_rows(f))
            else:
                raise AnalyticsError(
                    f"{f}: unknown run file type {f.suffix!r}; use .jsonl (METR / rubicon bench "
                    "runs) or .eval/.json (Inspect logs)"
                )
    return _build(rows, tuple(names), drop_untimed)


def load_release_dates(path: str | Path) -> dict[str, dt.date]:
    """Read release dates per agent alias.

    Accepts JSON (``{"alias": "YYYY-MM-DD"}``), CSV with ``alias,release_date`` columns, or the
    simple YAML of METR's release_dates.yaml (``alias: YYYY-MM-DD`` lines, optionally under a
    ``date:`` key).

    Args:
        path: the file.

    Returns:
        alias -> release date.

    Raises:
        AnalyticsError: the file is missing or a line cannot be read.
    """
    p = Path(path)
    if not p.is_file():
        raise AnalyticsError(f"{p}: no such release-dates file")
    text = p.read_text(encoding="utf-8")
    out: dict[str, dt.date] = {}
    if p.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise AnalyticsError(f"{p}: not valid JSON ({e.msg})") from None
        if isinstance(data, dict) and isinstance(data.get("date"), dict):
            data = data["date"]
        if not isinstance(data, dict):
            raise AnalyticsError(f"{p}: expected an object mapping alias to date")
        return {str(k): parse_date(v, f"{p}: {k}") for k, v in data.items()}
    if p.suffix == ".csv":
        import csv

        reader = csv.DictReader(text.splitlines())
        cols = reader.fieldnames or []
        if "alias" not in cols or "release_date" not in cols:
            raise AnalyticsError(f"{p}: CSV needs columns alias,release_date; found {cols}")
        for n, r in enumerate(reader, start=2):
            out[r["alias"]] = parse_date(r["release_date"], f"{p}, line {n}")
        return out
    for n, line in enumerate(text.splitlines(), start=1):
        s = line.split("#", 1)[0].rstrip()
        if not s.strip():
            continue
        key, sep, value = s.strip().rpartition(":")
        if not sep:
            raise AnalyticsError(f"{p}, line {n}: expected 'alias: YYYY-MM-DD', found {line!r}")
        if not value.strip() and not line.startswith(" "):
            continue  # a section header such as 'date:'
        out[key.strip().strip("'\"")] = parse_date(value, f"{p}, line {n}")
    if not out:
        raise AnalyticsError(f"{p}: no 'alias: YYYY-MM-DD' lines found")
    return out
