"""SQLite store: versioned schema, WAL, one transaction per recorded experiment.

Crash safety: a proposal is written as a `pending` experiment before it runs; its measurement
(state, decision, metrics and all timed runs) is written in a single transaction when it ends.
A process killed at any moment therefore leaves each experiment either fully recorded or pending,
and pending experiments are re-run on resume.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from rubicon.errors import StoreError
from rubicon.types import CampaignInfo, Experiment, State, TimedRun

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS campaigns (
  id TEXT PRIMARY KEY, task_name TEXT NOT NULL, task_dir TEXT NOT NULL, task_hash TEXT NOT NULL,
  researcher TEXT NOT NULL, researcher_args TEXT NOT NULL, config TEXT NOT NULL,
  created_at REAL NOT NULL, status TEXT NOT NULL, incumbent_id INTEGER, baseline_id INTEGER
);
CREATE TABLE IF NOT EXISTS experiments (
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
CREATE INDEX IF NOT EXISTS experiments_campaign ON experiments (campaign_id, state);
CREATE INDEX IF NOT EXISTS experiments_code ON experiments (campaign_id, code_hash);
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  experiment_id INTEGER NOT NULL REFERENCES experiments(id),
  subject_id INTEGER, role TEXT NOT NULL, pair INTEGER NOT NULL,
  wall_seconds REAL NOT NULL, cpu_seconds REAL NOT NULL, peak_memory_mb REAL NOT NULL,
  foreign_load REAL NOT NULL, exit_code INTEGER, scored INTEGER NOT NULL, objective REAL,
  cores TEXT NOT NULL, threads INTEGER NOT NULL, started_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_experiment ON runs (experiment_id);
CREATE INDEX IF NOT EXISTS runs_subject ON runs (subject_id, role, scored);
"""

_LIGHT = (
    "id, campaign_id, seq, parent_id, researcher, rationale, state, decision, reason, objective, "
    "speedup, ratio_low, ratio_high, seed, created_at, finished_at, metrics, meta"
)


def _j(x: Any) -> str:
    return json.dumps(x, sort_keys=True, default=str)


class Store:
    """All of rubicon's records in one SQLite file. Safe to open from several processes."""

    FILENAME = "rubicon.db"

    def __init__(self, path: str | Path, create: bool = True, read_only: bool = False) -> None:
        """Open (or create) the store at `path`, a directory or a `.db` file.

        `read_only=True` opens with SQLite's mode=ro: every write fails, no migration runs.
        """
        p = Path(path)
        if p.is_dir() or p.suffix != ".db":
            p = p / self.FILENAME
        if not p.exists() and (read_only or not create):
            raise StoreError(f"no rubicon store at {p} (start one with `rubicon run`, or pass --dir)")
        self.path = p
        if read_only:
            uri = f"file:{quote(str(p.resolve()))}?mode=ro"
            self._db = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None,
                                       check_same_thread=False)
        else:
            p.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(p, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        try:
            if not read_only:
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        except sqlite3.DatabaseError as e:
            self._db.close()
            raise StoreError(f"{p}: not a rubicon store ({e})") from None
        if read_only:
            self._check_version()
            return
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _migrate(self) -> None:
        self._db.executescript(_SCHEMA)  # idempotent (IF NOT EXISTS)
        with self.transaction() as db:
            row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is None:
                db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        self._check_version()

    def _check_version(self) -> None:
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{self.path}: not a rubicon store ({e})") from None
        if row is not None and int(row[0]) > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: schema version {row[0]} is newer than this rubicon "
                f"understands ({SCHEMA_VERSION}); upgrade rubicon"
            )

    # campaigns ---------------------------------------------------------------------------

    def create_campaign(self, c: CampaignInfo) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO campaigns VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (c.id, c.task_name, c.task_dir, c.task_hash, c.researcher, _j(c.researcher_args),
                 _j(c.config), c.created_at, c.status, c.incumbent_id, c.baseline_id),
            )

    def update_campaign(self, cid: str, **fields: Any) -> None:
        allowed = {"status", "incumbent_id", "baseline_id", "config", "researcher", "researcher_args"}
        bad = set(fields) - allowed
        if bad:
            raise ValueError(f"cannot update {bad}")
        sets = ", ".join(f"{k}=?" for k in fields)
        vals = [_j(v) if isinstance(v, dict) else v for v in fields.values()]
        with self.transaction() as db:
            db.execute(f"UPDATE campaigns SET {sets} WHERE id=?", (*vals, cid))

    def campaign(self, cid: str | None = None) -> CampaignInfo:
        """A campaign by id (unique prefix allowed); None: the most recent one."""
        if cid is None:
            row = self._db.execute("SELECT * FROM campaigns ORDER BY created_at DESC LIMIT 1").fetchone()
        else:
            rows = self._db.execute(
                "SELECT * FROM campaigns WHERE id = ? OR id LIKE ? LIMIT 2", (cid, cid + "%")
            ).fetchall()
            row = rows[0] if len(rows) == 1 else next((r for r in rows if r["id"] == cid), None)
        if row is None:
            known = [r[0] for r in self._db.execute("SELECT id FROM campaigns ORDER BY created_at")]
            what = f"campaign {cid!r}" if cid else "campaign"
            raise StoreError(f"no {what} in {self.path}; known: {known[-10:] or 'none'}")
        return CampaignInfo(
            id=row["id"], task_name=row["task_name"], task_dir=row["task_dir"],
            task_hash=row["task_hash"], researcher=row["researcher"],
            researcher_args=json.loads(row["researcher_args"]), config=json.loads(row["config"]),
            created_at=row["created_at"], status=row["status"], incumbent_id=row["incumbent_id"],
            baseline_id=row["baseline_id"],
        )

    def campaigns(self) -> list[CampaignInfo]:
        ids = [r[0] for r in self._db.execute("SELECT id FROM campaigns ORDER BY created_at")]
        return [self.campaign(i) for i in ids]

    # experiments -------------------------------------------------------------------------

    def add_pending(self, e: Experiment, code_hash: str) -> int:
        """Record a proposal before it runs; returns the experiment id."""
        with self.transaction() as db:
            seq = db.execute(
                "SELECT COALESCE(MAX(seq) + 1, 0) FROM experiments WHERE campaign_id=?",
                (e.campaign_id,),
            ).fetchone()[0]
            cur = db.execute(
                "INSERT INTO experiments (campaign_id, seq, parent_id, researcher, researcher_args,"
                " rationale, proposal, diff, files, code_hash, state, decision, reason, metrics,"
                " seed, provenance, log_tail, meta, created_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (e.campaign_id, seq, e.parent_id, e.researcher, _j(e.researcher_args), e.rationale,
                 _j(e.proposal), e.diff, _j(e.files), code_hash, State.PENDING.value, None, "",
                 "{}", e.seed, _j(e.provenance), "", _j(e.meta), e.created_at or time.time()),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

    def finish(self, e: Experiment, runs: list[TimedRun], subjects: dict[str, int | None]) -> None:
        """Record an experiment's measurement and all its timed runs in one transaction.

        `subjects` maps a run role to the experiment whose code ran in that role.
        """
        with self.transaction() as db:
            db.execute(
                "UPDATE experiments SET state=?, decision=?, reason=?, metrics=?, objective=?,"
                " speedup=?, ratio_low=?, ratio_high=?, provenance=?, log_tail=?, meta=?,"
                " finished_at=? WHERE id=?",
                (e.state.value, e.decision.value if e.decision else None, e.reason, _j(e.metrics),
                 e.objective, e.speedup, e.ratio_low, e.ratio_high, _j(e.provenance), e.log_tail,
                 _j(e.meta), e.finished_at or time.time(), e.id),
            )
            db.execute("DELETE FROM runs WHERE experiment_id=?", (e.id,))
            db.executemany(
                "INSERT INTO runs (experiment_id, subject_id, role, pair, wall_seconds,"
                " cpu_seconds, peak_memory_mb, foreign_load, exit_code, scored, objective, cores,"
                " threads, started_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [(e.id, subjects.get(r.role, e.id), r.role, r.pair, r.wall_seconds, r.cpu_seconds,
                  r.peak_memory_mb, r.foreign_load, r.exit_code, int(r.scored), r.objective, _j(r.cores),
                  r.threads, r.started_at) for r in runs],
            )

    def update_code(self, e: Experiment, code_hash: str) -> None:
        """Replace a pending experiment's code (an outside agent's edits, on `tell`)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE experiments SET files=?, diff=?, rationale=?, code_hash=? "
                "WHERE id=? AND state='pending'",
                (_j(e.files), e.diff, e.rationale, code_hash, e.id),
            )

    def experiment(self, eid: int, runs: bool = True) -> Experiment:
        row = self._db.execute("SELECT * FROM experiments WHERE id=?", (eid,)).fetchone()
        if row is None:
            raise StoreError(f"no experiment {eid} in {self.path}")
        e = self._row(row, full=True)
        if runs:
            e.runs = self.runs(eid)
        return e

    def runs(self, eid: int) -> list[TimedRun]:
        return [
            TimedRun(role=r["role"], pair=r["pair"], wall_seconds=r["wall_seconds"],
                     cpu_seconds=r["cpu_seconds"], peak_memory_mb=r["peak_memory_mb"],
                     foreign_load=r["foreign_load"], exit_code=r["exit_code"],
                     scored=bool(r["scored"]), objective=r["objective"],
                     cores=json.loads(r["cores"]), threads=r["threads"], started_at=r["started_at"])
            for r in self._db.execute("SELECT * FROM runs WHERE experiment_id=? ORDER BY id", (eid,))
        ]

    def subject_values(self, subject_id: int) -> list[float]:
        """Objective values of every scored timed run in which `subject_id`'s code ran."""
        return [r[0] for r in self._db.execute(
            "SELECT objective FROM runs WHERE subject_id=? AND scored=1 AND objective IS NOT NULL"
            " ORDER BY id", (subject_id,)
        )]

    def experiments(self, campaign_id: str, full: bool = False, include_pending: bool = True,
                    last: int | None = None) -> list[Experiment]:
        """Experiments of a campaign, oldest first (only the `last` N if given).

        `full=False` skips diffs and files, which keeps listing 100k experiments fast.
        """
        cols = "*" if full else _LIGHT
        where = "" if include_pending else " AND state != 'pending'"
        sql = f"SELECT {cols} FROM experiments WHERE campaign_id=?{where} ORDER BY seq"
        if last is not None:
            sql = f"SELECT * FROM ({sql} DESC LIMIT {int(last)}) ORDER BY seq"
        rows = self._db.execute(sql, (campaign_id,)).fetchall()
        return [self._row(r, full=full) for r in rows]

    def pending(self, campaign_id: str) -> list[Experiment]:
        rows = self._db.execute(
            "SELECT * FROM experiments WHERE campaign_id=? AND state='pending' ORDER BY seq",
            (campaign_id,),
        ).fetchall()
        return [self._row(r, full=True) for r in rows]

    def find_code(self, campaign_id: str, code_hash: str) -> int | None:
        """Id of an already measured experiment with the same normalized code, if any."""
        row = self._db.execute(
            "SELECT id FROM experiments WHERE campaign_id=? AND code_hash=? AND state NOT IN "
            "('pending', 'invalid') ORDER BY id LIMIT 1", (campaign_id, code_hash),
        ).fetchone()
        return None if row is None else int(row[0])

    def count(self, campaign_id: str) -> dict[str, int]:
        return {r[0]: r[1] for r in self._db.execute(
            "SELECT state, COUNT(*) FROM experiments WHERE campaign_id=? GROUP BY state",
            (campaign_id,),
        )}

    def _row(self, r: sqlite3.Row, full: bool) -> Experiment:
        keys = r.keys()
        d: dict[str, Any] = {
            "id": r["id"], "campaign_id": r["campaign_id"], "seq": r["seq"],
            "parent_id": r["parent_id"], "researcher": r["researcher"], "rationale": r["rationale"],
            "state": r["state"], "decision": r["decision"], "reason": r["reason"],
            "objective": r["objective"], "speedup": r["speedup"], "ratio_low": r["ratio_low"],
            "ratio_high": r["ratio_high"], "seed": r["seed"], "created_at": r["created_at"],
            "finished_at": r["finished_at"], "metrics": json.loads(r["metrics"]),
            "meta": json.loads(r["meta"]),
        }
        if full and "files" in keys:
            d.update(
                researcher_args=json.loads(r["researcher_args"]), proposal=json.loads(r["proposal"]),
                diff=r["diff"], files=json.loads(r["files"]), provenance=json.loads(r["provenance"]),
                log_tail=r["log_tail"],
            )
        return Experiment.model_validate(d)
