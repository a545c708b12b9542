"""SQL for a `Selection`, written so SQLite reads only the index range it needs; rows to records.

Without statistics the planner tends to pick the (campaign, seq) index because it yields seq
order, then filters every row of the campaign: O(N) per query. So one condition drives each
query (the most selective by construction: code hash, then best-by-objective, researcher, one
state, line, seq range), and every other column condition is written as `+column`, which SQLite
cannot use to pick an index. A line of work is two index ranges (its experiments, and the
baseline, seq 0, which belongs to every line) joined by UNION ALL.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any, Literal

from rubicon.store.base import LineStats, Selection
from rubicon.types import CampaignInfo, Experiment, TimedRun

# the columns of a light record
LIGHT = (
    "id, campaign_id, seq, parent_id, researcher, rationale, state, decision, reason, objective, "
    "speedup, ratio_low, ratio_high, seed, created_at, finished_at, metrics, meta, line, duplicate_of,"
    " flags"
)


def _drive(sel: Selection, by_objective: str | None) -> str:
    if sel.code_hash is not None:
        return "code"
    if by_objective is not None:
        return "objective"
    if sel.researcher is not None:
        return "researcher"
    if sel.states is not None and len(sel.states) == 1:
        return "state"
    return "line" if sel.line is not None else "seq"


def _where(sel: Selection, drive: str, branch: str | None) -> tuple[str, list[Any]]:
    """Conditions of `sel`; `branch` "line" or "baseline" for the two halves of a line."""
    def col(name: str, driving: bool) -> str:
        return name if driving else f"+{name}"

    seq = col("seq", drive in ("researcher", "state", "line", "seq"))
    conds: list[str] = ["campaign_id = ?"]
    params: list[Any] = [sel.campaign_id]
    if sel.min_seq > 0:
        conds.append(f"{seq} >= ?")
        params.append(sel.min_seq)
    if sel.max_seq is not None:
        conds.append(f"{seq} <= ?")
        params.append(sel.max_seq)
    if branch == "line":
        conds += [f"{col('line', drive == 'line')} = ?", f"{seq} > 0"]
        params.append(sel.line)
    elif branch == "baseline":
        conds.append("seq = 0")
    if sel.researcher is not None:
        conds.append(f"{col('researcher', drive == 'researcher')} = ?")
        params.append(sel.researcher)
    if sel.states is not None:
        states = sorted(s.value for s in sel.states)
        state = col("state", drive in ("state", "objective") and len(states) == 1)
        conds.append(f"{state} IN ({', '.join('?' * len(states))})")
        params += states
    if sel.code_hash is not None:
        conds.append("code_hash = ?")
        params.append(sel.code_hash)
    if drive == "objective":
        conds.append("objective IS NOT NULL")
    if sel.exclude_ids:
        conds.append("id NOT IN (SELECT value FROM json_each(?))")
        params.append(json.dumps(sorted(sel.exclude_ids)))
    return " AND ".join(conds), params


def _branches(sel: Selection) -> list[str | None]:
    return ["line", "baseline"] if sel.line is not None else [None]


def select_sql(sel: Selection, columns: str, offset: int, limit: int | None, newest_first: bool,
               by_objective: Literal["min", "max"] | None) -> tuple[str, list[Any]]:
    drive = _drive(sel, by_objective)
    parts: list[str] = []
    params: list[Any] = []
    for branch in _branches(sel):
        where, p = _where(sel, drive, branch)
        parts.append(f"SELECT {columns} FROM experiments WHERE {where}")
        params += p
    if by_objective is not None:
        order = f"objective{' DESC' if by_objective == 'max' else ''}, id"
    else:
        # one branch driven by the code index: sort its few rows (`+seq` keeps the index choice)
        key = "+seq" if drive == "code" and len(parts) == 1 else "seq"
        order = f"{key}{' DESC' if newest_first else ''}"
    sql = " UNION ALL ".join(parts) + f" ORDER BY {order} LIMIT ? OFFSET ?"
    return sql, [*params, -1 if limit is None else limit, offset]


def count_sql(sel: Selection) -> tuple[str, list[Any]]:
    drive = _drive(sel, None)
    parts: list[str] = []
    params: list[Any] = []
    for branch in _branches(sel):
        where, p = _where(sel, drive, branch)
        parts.append(f"(SELECT COUNT(*) FROM experiments WHERE {where})")
        params += p
    return "SELECT " + " + ".join(parts), params


def meta_sums_sql(sel: Selection, keys: Sequence[str]) -> tuple[str, list[Any]]:
    """(key, sum) rows for the keys present; one JSON parse per experiment."""
    sql, params = select_sql(sel, "meta, seq", 0, None, False, None)
    return (f"SELECT j.key, SUM(j.value) FROM ({sql}) AS x, json_each(x.meta) AS j"
            f" WHERE j.key IN ({', '.join('?' * len(keys))}) AND j.type IN ('integer', 'real')"
            " GROUP BY j.key", [*params, *keys])


def campaign_from(row: sqlite3.Row) -> CampaignInfo:
    return CampaignInfo(
        id=row["id"], task_name=row["task_name"], task_dir=row["task_dir"],
        task_hash=row["task_hash"], researcher=row["researcher"],
        researcher_args=json.loads(row["researcher_args"]), config=json.loads(row["config"]),
        created_at=row["created_at"], status=row["status"], incumbent_id=row["incumbent_id"],
        baseline_id=row["baseline_id"], spent_seconds=row["spent_seconds"], reason=row["reason"],
    )


def run_from(r: sqlite3.Row) -> TimedRun:
    return TimedRun(role=r["role"], pair=r["pair"], wall_seconds=r["wall_seconds"],
                    cpu_seconds=r["cpu_seconds"], peak_memory_mb=r["peak_memory_mb"],
                    foreign_load=r["foreign_load"], exit_code=r["exit_code"],
                    scored=bool(r["scored"]), objective=r["objective"],
                    cores=json.loads(r["cores"]), threads=r["threads"], started_at=r["started_at"],
                    kill_reason=r["kill_reason"], note=r["note"], state=r["state"],
                    metrics=json.loads(r["metrics"]))


def experiment_from(r: sqlite3.Row, full: bool) -> Experiment:
    d: dict[str, Any] = {
        "id": r["id"], "campaign_id": r["campaign_id"], "seq": r["seq"],
        "parent_id": r["parent_id"], "researcher": r["researcher"], "rationale": r["rationale"],
        "state": r["state"], "decision": r["decision"], "reason": r["reason"],
        "objective": r["objective"], "speedup": r["speedup"], "ratio_low": r["ratio_low"],
        "ratio_high": r["ratio_high"], "seed": r["seed"], "created_at": r["created_at"],
        "finished_at": r["finished_at"], "metrics": json.loads(r["metrics"]),
        "meta": json.loads(r["meta"]), "line": r["line"], "duplicate_of": r["duplicate_of"],
        "flags": json.loads(r["flags"]),
    }
    if full:
        d.update(
            researcher_args=json.loads(r["researcher_args"]), proposal=json.loads(r["proposal"]),
            diff=r["diff"], files=json.loads(r["files"]), provenance=json.loads(r["provenance"]),
            log_tail=r["log_tail"],
        )
    return Experiment.model_validate(d)


LINE_COUNTS = ("SELECT researcher, line, state, decision, COUNT(*) FROM experiments"
               " WHERE campaign_id=? AND seq > 0 GROUP BY 1, 2, 3, 4")
LINE_BEST = ("SELECT researcher, line, id, MAX(speedup) FROM experiments WHERE campaign_id=?"
             " AND seq > 0 AND decision='keep' AND speedup IS NOT NULL GROUP BY 1, 2")


def line_stats_from(counts: Sequence[sqlite3.Row], best: Sequence[sqlite3.Row],
                    incumbent_id: int | None) -> list[LineStats]:
    out: dict[tuple[str, int], LineStats] = {}
    for researcher, line, state, decision, n in counts:
        s = out.setdefault((researcher, line), LineStats(researcher=researcher, line=line))
        s.experiments += n
        s.states[state] = s.states.get(state, 0) + n
        if decision == "keep":
            s.kept += n
    for researcher, line, eid, sp in best:
        s = out[(researcher, line)]
        s.best_speedup, s.best_id = float(sp), int(eid)
        s.incumbent = eid == incumbent_id
    return sorted(out.values(), key=lambda s: (s.line, s.researcher))
