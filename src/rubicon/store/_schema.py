"""The SQLite schema, its versions, and the migrations between them.

Version history:
1. the first schema: an experiment's line of work in `meta["line"]`, a duplicate only in its
   reason text ("duplicate of experiment N").
2. typed columns `experiments.line` (INTEGER NOT NULL, 0 when none was recorded) and
   `experiments.duplicate_of` (the id of the experiment whose code it repeats), backfilled from
   version 1; `meta` no longer holds "line"; indexes for a researcher's lazy history: by state
   then seq (replacing the index by state), by line, by researcher, and by objective.
3. `experiments.flags` (JSON list: what the embedded-data scan found), `runs.kill_reason` (why
   the harness stopped a run, "" when it did not), and the append-only `reviews` table (a
   person's verdict on flagged code).
4. `runs.note` (why the run was scored or not, for people), `runs.state` (the run's own state) and
   `runs.metrics` (JSON: its metrics), so a measurement's finished runs can be stored one by one
   and an interrupted measurement continued; `campaigns.spent_seconds` (wall time its runs have
   spent of the budget) and `campaigns.reason` (why it stopped: a failed baseline's cause).

A writable open upgrades an older store in place, inside one transaction (all or nothing; a
second process opening at the same time waits and then finds it upgraded). A read-only open of
an older store cannot write: it reads through temporary views that compute the new columns. A
newer store is refused: this code cannot know what the newer columns mean.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable

SCHEMA_VERSION = 4

_TABLES = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE campaigns (
  id TEXT PRIMARY KEY, task_name TEXT NOT NULL, task_dir TEXT NOT NULL, task_hash TEXT NOT NULL,
  researcher TEXT NOT NULL, researcher_args TEXT NOT NULL, config TEXT NOT NULL,
  created_at REAL NOT NULL, status TEXT NOT NULL, incumbent_id INTEGER, baseline_id INTEGER
);
CREATE TABLE experiments (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  campaign_id TEXT NOT NULL REFERENCES campaigns(id), seq INTEGER NOT NULL,
  parent_id INTEGER, researcher TEXT NOT NULL, researcher_args TEXT NOT NULL, rationale TEXT NOT NULL,
  proposal TEXT NOT NULL, diff TEXT NOT NULL, files TEXT NOT NULL, code_hash TEXT NOT NULL,
  state TEXT NOT NULL, decision TEXT, reason TEXT NOT NULL, metrics TEXT NOT NULL,
  objective REAL, speedup REAL, ratio_low REAL, ratio_high REAL, seed INTEGER NOT NULL,
  provenance TEXT NOT NULL, log_tail TEXT NOT NULL, meta TEXT NOT NULL,
  created_at REAL NOT NULL, finished_at REAL,
  UNIQUE (campaign_id, seq)
);
CREATE INDEX experiments_campaign ON experiments (campaign_id, state);
CREATE INDEX experiments_code ON experiments (campaign_id, code_hash);
CREATE TABLE runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  experiment_id INTEGER NOT NULL REFERENCES experiments(id),
  subject_id INTEGER, role TEXT NOT NULL, pair INTEGER NOT NULL,
  wall_seconds REAL NOT NULL, cpu_seconds REAL NOT NULL, peak_memory_mb REAL NOT NULL,
  foreign_load REAL NOT NULL, exit_code INTEGER, scored INTEGER NOT NULL, objective REAL,
  cores TEXT NOT NULL, threads INTEGER NOT NULL, started_at REAL NOT NULL
);
CREATE INDEX runs_experiment ON runs (experiment_id);
CREATE INDEX runs_subject ON runs (subject_id, role, scored);
"""

_V2 = """
ALTER TABLE experiments ADD COLUMN line INTEGER NOT NULL DEFAULT 0;
ALTER TABLE experiments ADD COLUMN duplicate_of INTEGER;
DROP INDEX experiments_campaign;
CREATE INDEX experiments_state ON experiments (campaign_id, state, seq);
CREATE INDEX experiments_line ON experiments (campaign_id, line, seq);
CREATE INDEX experiments_researcher ON experiments (campaign_id, researcher, seq);
CREATE INDEX experiments_objective ON experiments (campaign_id, state, objective);
"""

_V3 = """
ALTER TABLE experiments ADD COLUMN flags TEXT NOT NULL DEFAULT '[]';
ALTER TABLE runs ADD COLUMN kill_reason TEXT NOT NULL DEFAULT '';
CREATE TABLE reviews (
  id INTEGER PRIMARY KEY AUTOINCREMENT, campaign_id TEXT NOT NULL REFERENCES campaigns(id),
  experiment_id INTEGER NOT NULL, code_hash TEXT NOT NULL, verdict TEXT NOT NULL,
  reviewer TEXT NOT NULL, reason TEXT NOT NULL, at REAL NOT NULL
);
CREATE INDEX reviews_code ON reviews (campaign_id, code_hash);
"""

_V4 = """
ALTER TABLE runs ADD COLUMN note TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN state TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN metrics TEXT NOT NULL DEFAULT '{}';
ALTER TABLE campaigns ADD COLUMN spent_seconds REAL NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN reason TEXT NOT NULL DEFAULT ''
"""

_DUPLICATE = re.compile(r"duplicate of experiment (\d+)")

# What a version-1 experiment row means in version 2, as SQL (for read-only opens).
_V1_COLUMNS = (
    "id, campaign_id, seq, parent_id, researcher, researcher_args, rationale, proposal, diff,"
    " files, code_hash, state, decision, reason, metrics, objective, speedup, ratio_low,"
    " ratio_high, seed, provenance, log_tail, json_remove(meta, '$.line') AS meta, created_at,"
    " finished_at, COALESCE(CAST(json_extract(meta, '$.line') AS INTEGER), 0) AS line,"
    " CASE WHEN reason LIKE 'duplicate of experiment %'"
    " THEN CAST(substr(reason, 25) AS INTEGER) END AS duplicate_of"
)


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def stored_version(db: sqlite3.Connection) -> int | None:
    """The schema version recorded in the file; None for an empty file (no tables yet)."""
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "meta" in tables:
        row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is not None:
            return int(row[0])
    return 1 if "experiments" in tables else None


def _to_v2(db: sqlite3.Connection) -> None:
    for stmt in _statements(_V2):
        db.execute(stmt)
    rows = db.execute(
        "SELECT id, meta, reason FROM experiments WHERE json_extract(meta, '$.line') IS NOT NULL"
        " OR reason LIKE 'duplicate of experiment %'"
    ).fetchall()
    for eid, meta_text, reason in rows:
        meta = json.loads(meta_text)
        line = meta.pop("line", 0)
        m = _DUPLICATE.match(reason)
        db.execute(
            "UPDATE experiments SET line=?, duplicate_of=?, meta=? WHERE id=?",
            (int(line or 0), int(m.group(1)) if m else None,
             json.dumps(meta, sort_keys=True, default=str), eid),
        )


def _to_v3(db: sqlite3.Connection) -> None:
    for stmt in _statements(_V3):
        db.execute(stmt)


def _to_v4(db: sqlite3.Connection) -> None:
    for stmt in _statements(_V4):
        db.execute(stmt)


# version reached -> the step from the version before it
_STEPS: dict[int, Callable[[sqlite3.Connection], None]] = {2: _to_v2, 3: _to_v3, 4: _to_v4}


def newer_error(where: str, version: int) -> str:
    return (f"{where}: schema version {version} is newer than this rubicon understands "
            f"({SCHEMA_VERSION}); upgrade rubicon (pip install -U rubicon) to open it")


def create_or_upgrade(db: sqlite3.Connection, where: str) -> int:
    """Create the schema in an empty file or upgrade an older one, in one transaction (the
    caller holds it). Returns the version found. Raises ValueError for a newer schema."""
    found = stored_version(db)
    if found is None:
        for stmt in _statements(_TABLES) + _statements(_V2) + _statements(_V3) + _statements(_V4):
            db.execute(stmt)
        db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        return SCHEMA_VERSION
    if found > SCHEMA_VERSION:
        raise ValueError(newer_error(where, found))
    if found < SCHEMA_VERSION:
        if found == 1:
            db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        for version in range(found + 1, SCHEMA_VERSION + 1):
            _STEPS[version](db)
        db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
    return found


def read_older(db: sqlite3.Connection, version: int) -> None:
    """Make a read-only connection to an older store read it as the current schema: temporary
    views (in the connection's own temp schema) shadow the old tables."""
    if version == 1:
        db.execute(f"CREATE TEMP VIEW experiments AS SELECT {_V1_COLUMNS}, '[]' AS flags"
                   " FROM main.experiments")
    elif version == 2:
        db.execute("CREATE TEMP VIEW experiments AS SELECT *, '[]' AS flags FROM main.experiments")
    if version < 4:
        kill = ", '' AS kill_reason" if version < 3 else ""
        db.execute(f"CREATE TEMP VIEW runs AS SELECT *{kill}, '' AS note, '' AS state,"
                   " '{}' AS metrics FROM main.runs")
        db.execute("CREATE TEMP VIEW campaigns AS SELECT *, 0.0 AS spent_seconds, '' AS reason"
                   " FROM main.campaigns")
    if version < 3:
        db.execute("CREATE TEMP TABLE reviews (id INTEGER PRIMARY KEY, campaign_id TEXT,"
                   " experiment_id INTEGER, code_hash TEXT, verdict TEXT, reviewer TEXT,"
                   " reason TEXT, at REAL)")
