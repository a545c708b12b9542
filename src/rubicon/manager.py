"""The manager's view of a campaign with several researchers (or lines of one researcher).

`Campaign` runs the lines (see its docstring): each line proposes from its own incumbent, the
timing lane is granted to one timed run at a time per core set, and results are merged into the
campaign's incumbent. This module compares the lines from the store (`rubicon show`) and turns
CLI flags into the recorded researcher specs. Light on imports: `rubicon show` uses it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rubicon.store import Store


@dataclass
class LineStats:
    """What one researcher (one line of work) did in a campaign."""

    researcher: str
    line: int | None
    experiments: int = 0
    states: dict[str, int] = field(default_factory=dict)
    kept: int = 0
    best_speedup: float | None = None  # best speedup vs the baseline among its kept experiments
    best_id: int | None = None
    incumbent: bool = False  # holds the campaign's incumbent


def line_stats(store: Store, campaign_id: str) -> list[LineStats]:
    """Per researcher and line: experiment counts by state, kept count, best kept speedup.
    One aggregate query (fast on large stores); the baseline is not counted."""
    info = store.campaign(campaign_id)
    db = store._db  # read-only aggregate over the store's own connection
    rows = db.execute(
        "SELECT researcher, json_extract(meta, '$.line') AS line, state, decision, COUNT(*)"
        " FROM experiments WHERE campaign_id=? AND seq > 0 GROUP BY 1, 2, 3, 4",
        (info.id,),
    ).fetchall()
    out: dict[tuple[str, int | None], LineStats] = {}
    for researcher, line, state, decision, n in rows:
        key = (str(researcher), None if line is None else int(line))
        s = out.setdefault(key, LineStats(researcher=key[0], line=key[1]))
        s.experiments += n
        s.states[state] = s.states.get(state, 0) + n
        if decision == "keep":
            s.kept += n
    best = db.execute(
        "SELECT researcher, json_extract(meta, '$.line'), id, MAX(speedup) FROM experiments"
        " WHERE campaign_id=? AND seq > 0 AND decision='keep' AND speedup IS NOT NULL"
        " GROUP BY 1, 2", (info.id,),
    ).fetchall()
    for researcher, line, eid, sp in best:
        key = (str(researcher), None if line is None else int(line))
        if key in out:
            out[key].best_speedup, out[key].best_id = float(sp), int(eid)
            out[key].incumbent = eid == info.incumbent_id
    return sorted(out.values(), key=lambda s: (s.line if s.line is not None else -1, s.researcher))


def researcher_specs(names: list[str], args: dict[str, str]) -> list[dict[str, Any]]:
    """`--researcher A --researcher B` and `-R key=value` / `-R A.key=value` (for A only) as
    the specs `CampaignConfig.researchers` records."""
    specs = []
    for name in names:
        mine: dict[str, str] = {}
        for k, v in args.items():
            prefix, dot, rest = k.partition(".")
            if dot and prefix in names:
                if prefix == name:
                    mine[rest] = v
            else:
                mine[k] = v
        specs.append({"name": name, "args": mine})
    return specs
