"""SQLite store: versioned schema, WAL, one transaction per recorded experiment.

Crash safety: a proposal is written as a `pending` experiment before it runs; its measurement
(state, decision, metrics and all timed runs) is written in a single transaction when it ends.
A process killed at any moment therefore leaves each experiment either fully recorded or pending,
and pending experiments are re-run on resume.

One connection per store object, guarded by a lock, so threads may share the object; several
processes may open the same file (WAL: readers never block the one writer).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

from rubicon.errors import StoreError
from rubicon.store import _query, _schema
from rubicon.store.base import CampaignUpdate, LineStats, Progress, Selection
from rubicon.types import CampaignInfo, Experiment, Review, State, TimedRun

if TYPE_CHECKING:
    from typing_extensions import Unpack

_UPDATABLE = frozenset(CampaignUpdate.__annotations__)


def _j(x: Any) -> str:
    return json.dumps(x, sort_keys=True, default=str)


def store_path(path: str | Path) -> Path:
    """The store file for `path`: a `.db` file as given, else `rubicon.db` in that directory."""
    p = Path(path)
    return p / SQLiteStore.FILENAME if p.is_dir() or p.suffix != ".db" else p


def _connect(p: Path, read_only: bool) -> sqlite3.Connection:
    """A connection to the store file `p`: SQLite's mode=ro when `read_only`, else WAL."""
    if read_only:
        uri = f"file:{quote(str(p.resolve()))}?mode=ro"
        db = sqlite3.connect(uri, uri=True, timeout=30, isolation_level=None,
                             check_same_thread=False)
    else:
        p.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(p, timeout=30, isolation_level=None, check_same_thread=False)
    db.row_factory = sqlite3.Row
    if not read_only:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
        except sqlite3.DatabaseError as e:
            db.close()
            raise StoreError(f"{p}: not a rubicon store ({e})") from None
    return db


def _check_readable(db: sqlite3.Connection, p: Path) -> None:
    """A read-only open reads the schema as it is: one this code knows, never upgraded."""
    version = _schema.stored_version(db)
    if version is None:
        raise StoreError(f"{p}: not a rubicon store (no tables)")
    if version > _schema.SCHEMA_VERSION:
        raise StoreError(_schema.newer_error(str(p), version))
    _schema.read_older(db, version)


class SQLiteStore:
    """All of rubicon's records in one SQLite file (implements `rubicon.store.Store`)."""

    FILENAME = "rubicon.db"

    def __init__(self, path: str | Path, create: bool = True, read_only: bool = False) -> None:
        """Open (or create) the store at `path`, a directory or a `.db` file.

        A writable open upgrades an older schema in place; `read_only=True` opens with SQLite's
        mode=ro: nothing is written, every write method raises StoreError.
        """
        p = store_path(path)
        if not p.exists() and (read_only or not create):
            raise StoreError(f"no rubicon store at {p} (start one with `rubicon run`, or pass --dir)")
        self._path = p
        self._read_only = read_only
        self._lock = threading.RLock()
        self._db = _connect(p, read_only)
        try:
            self._open_schema()
        except sqlite3.DatabaseError as e:
            self._db.close()
            raise StoreError(f"{p}: not a rubicon store ({e})") from None
        except StoreError:
            self._db.close()
            raise

    def _open_schema(self) -> None:
        if self._read_only:
            _check_readable(self._db, self._path)
            return
        try:
            with self._transaction() as db:
                _schema.create_or_upgrade(db, str(self._path))
        except ValueError as e:
            raise StoreError(str(e)) from None

    @property
    def path(self) -> Path:
        return self._path

    @property
    def read_only(self) -> bool:
        return self._read_only

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def check(self) -> list[str]:
        with self._lock:
            rows = [r[0] for r in self._db.execute("PRAGMA integrity_check")]
        return [] if rows == ["ok"] else rows

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def _write(self, what: str) -> Iterator[sqlite3.Connection]:
        if self._read_only:
            raise StoreError(f"{self._path} is open read-only: cannot {what}")
        with self._transaction() as db:
            yield db

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    # campaigns ---------------------------------------------------------------------------

    def create_campaign(self, c: CampaignInfo) -> None:
        with self._write(f"create campaign {c.id}") as db:
            if db.execute("SELECT 1 FROM campaigns WHERE id=?", (c.id,)).fetchone():
                raise StoreError(f"campaign {c.id!r} already exists in {self._path}")
            db.execute(
                _INSERT_CAMPAIGN,
                (c.id, c.task_name, c.task_dir, c.task_hash, c.researcher, _j(c.researcher_args),
                 _j(c.config), c.created_at, c.status, c.incumbent_id, c.baseline_id,
                 c.spent_seconds, c.reason),
            )

    def update_campaign(self, cid: str, **fields: Unpack[CampaignUpdate]) -> None:
        bad = set(fields) - _UPDATABLE
        if bad:
            raise ValueError(f"cannot update campaign fields {sorted(bad)}; "
                             f"allowed: {', '.join(sorted(_UPDATABLE))}")
        sets = ", ".join(f"{k}=?" for k in fields)
        vals = [_j(v) if isinstance(v, dict) else v for v in fields.values()]
        with self._write(f"update campaign {cid}") as db:
            if db.execute(f"UPDATE campaigns SET {sets} WHERE id=?", (*vals, cid)).rowcount != 1:
                raise StoreError(f"no campaign {cid!r} in {self._path}")

    def campaign(self, cid: str | None = None) -> CampaignInfo:
        if cid is None:
            rows = self._rows("SELECT * FROM campaigns ORDER BY created_at DESC LIMIT 1")
            row = rows[0] if rows else None
        else:
            rows = (self._rows("SELECT * FROM campaigns WHERE id = ?", (cid,)) or self._rows(
                "SELECT * FROM campaigns WHERE substr(id, 1, length(?)) = ? LIMIT 2", (cid, cid)))
            row = rows[0] if len(rows) == 1 else None
        if row is None:
            known = [r[0] for r in self._rows("SELECT id FROM campaigns ORDER BY created_at")]
            what = f"campaign {cid!r}" if cid else "campaign"
            ambiguous = " (the prefix matches several)" if cid and len(rows) > 1 else ""
            raise StoreError(f"no {what}{ambiguous} in {self._path}; known: {known[-10:] or 'none'}")
        return _query.campaign_from(row)

    def campaigns(self) -> list[CampaignInfo]:
        ids = [r[0] for r in self._rows("SELECT id FROM campaigns ORDER BY created_at")]
        return [self.campaign(i) for i in ids]

    # experiments: writes -----------------------------------------------------------------

    def add_pending(self, e: Experiment, code_hash: str) -> int:
        with self._write("record an experiment") as db:
            if not db.execute("SELECT 1 FROM campaigns WHERE id=?", (e.campaign_id,)).fetchone():
                raise StoreError(f"no campaign {e.campaign_id!r} in {self._path}")
            seq = db.execute(
                "SELECT COALESCE(MAX(seq) + 1, 0) FROM experiments WHERE campaign_id=?",
                (e.campaign_id,),
            ).fetchone()[0]
            cur = db.execute(
                "INSERT INTO experiments (campaign_id, seq, parent_id, researcher, researcher_args,"
                " rationale, proposal, diff, files, code_hash, state, decision, reason, metrics,"
                " seed, provenance, log_tail, meta, created_at, line, flags)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (e.campaign_id, seq, e.parent_id, e.researcher, _j(e.researcher_args), e.rationale,
                 _j(e.proposal), e.diff, _j(e.files), code_hash, State.PENDING.value, None, "",
                 "{}", e.seed, _j(e.provenance), "", _j(e.meta), e.created_at or time.time(),
                 e.line, _j(e.flags)),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

    def finish(self, e: Experiment, runs: Sequence[TimedRun],
               subjects: Mapping[str, int | None]) -> None:
        with self._write(f"record experiment {e.id}") as db:
            cur = db.execute(
                "UPDATE experiments SET state=?, decision=?, reason=?, metrics=?, objective=?,"
                " speedup=?, ratio_low=?, ratio_high=?, duplicate_of=?, provenance=?, log_tail=?,"
                " meta=?, flags=?, finished_at=? WHERE id=?",
                (e.state.value, e.decision.value if e.decision else None, e.reason, _j(e.metrics),
                 e.objective, e.speedup, e.ratio_low, e.ratio_high, e.duplicate_of,
                 _j(e.provenance), e.log_tail, _j(e.meta), _j(e.flags), e.finished_at or time.time(),
                 e.id),
            )
            if cur.rowcount != 1:
                raise StoreError(f"no experiment {e.id} in {self._path}")
            db.execute("DELETE FROM runs WHERE experiment_id=?", (e.id,))
            _insert_runs(db, e.id, runs, subjects)

    def add_runs(self, eid: int, runs: Sequence[TimedRun],
                 subjects: Mapping[str, int | None]) -> None:
        with self._write(f"record runs of experiment {eid}") as db:
            _insert_runs(db, eid, runs, subjects, pending_in=self._path)

    def update_code(self, e: Experiment, code_hash: str) -> None:
        with self._write(f"update experiment {e.id}") as db:
            db.execute(
                "UPDATE experiments SET files=?, diff=?, rationale=?, code_hash=?, flags=? "
                "WHERE id=? AND state='pending'",
                (_j(e.files), e.diff, e.rationale, code_hash, _j(e.flags), e.id),
            )

    # reviews -----------------------------------------------------------------------------

    def add_review(self, r: Review) -> None:
        with self._write(f"record a review of experiment {r.experiment_id}") as db:
            if not db.execute("SELECT 1 FROM experiments WHERE id=? AND campaign_id=?",
                              (r.experiment_id, r.campaign_id)).fetchone():
                raise StoreError(f"no experiment {r.experiment_id} in campaign {r.campaign_id!r}")
            db.execute("INSERT INTO reviews (campaign_id, experiment_id, code_hash, verdict,"
                       " reviewer, reason, at) VALUES (?,?,?,?,?,?,?)",
                       (r.campaign_id, r.experiment_id, r.code_hash, r.verdict, r.reviewer,
                        r.reason, r.at or time.time()))

    def reviews(self, campaign_id: str, code_hash: str | None = None) -> list[Review]:
        sql, params = "SELECT * FROM reviews WHERE campaign_id=?", [campaign_id]
        if code_hash is not None:
            sql, params = sql + " AND code_hash=?", [*params, code_hash]
        return [Review(campaign_id=r["campaign_id"], experiment_id=r["experiment_id"],
                       code_hash=r["code_hash"], verdict=r["verdict"], reviewer=r["reviewer"],
                       reason=r["reason"], at=r["at"])
                for r in self._rows(sql + " ORDER BY id", params)]

    def code_hash_of(self, eid: int) -> str:
        rows = self._rows("SELECT code_hash FROM experiments WHERE id=?", (eid,))
        if not rows:
            raise StoreError(f"no experiment {eid} in {self._path}")
        return str(rows[0][0])

    # experiments: reads ------------------------------------------------------------------

    def experiment(self, eid: int, runs: bool = True) -> Experiment:
        rows = self._rows("SELECT * FROM experiments WHERE id=?", (eid,))
        if not rows:
            raise StoreError(f"no experiment {eid} in {self._path}")
        e = _query.experiment_from(rows[0], full=True)
        if runs:
            e.runs = self.runs(eid)
        return e

    def runs(self, eid: int) -> list[TimedRun]:
        return [_query.run_from(r)
                for r in self._rows("SELECT * FROM runs WHERE experiment_id=? ORDER BY id", (eid,))]

    def subject_values(self, subject_id: int) -> list[float]:
        return [r[0] for r in self._rows(
            "SELECT objective FROM runs WHERE subject_id=? AND scored=1 AND objective IS NOT NULL"
            " AND experiment_id NOT IN (SELECT id FROM experiments WHERE state='pending')"
            " ORDER BY id", (subject_id,)
        )]

    def experiments(self, campaign_id: str, full: bool = False, include_pending: bool = True,
                    last: int | None = None) -> list[Experiment]:
        cols = "*" if full else _query.LIGHT
        where = "" if include_pending else " AND state != 'pending'"
        sql = f"SELECT {cols} FROM experiments WHERE campaign_id=?{where} ORDER BY seq"
        if last is not None:
            sql = f"SELECT * FROM ({sql} DESC LIMIT {int(last)}) ORDER BY seq"
        return [_query.experiment_from(r, full=full) for r in self._rows(sql, (campaign_id,))]

    def pending(self, campaign_id: str) -> list[Experiment]:
        rows = self._rows(
            "SELECT * FROM experiments WHERE campaign_id=? AND state='pending' ORDER BY seq",
            (campaign_id,),
        )
        return [_query.experiment_from(r, full=True) for r in rows]

    def find_code(self, campaign_id: str, code_hash: str) -> int | None:
        rows = self._rows(
            "SELECT id FROM experiments WHERE campaign_id=? AND code_hash=? AND state NOT IN "
            "('pending', 'invalid') ORDER BY id LIMIT 1", (campaign_id, code_hash),
        )
        return int(rows[0][0]) if rows else None

    def count(self, campaign_id: str) -> dict[str, int]:
        return {r[0]: r[1] for r in self._rows(
            "SELECT state, COUNT(*) FROM experiments WHERE campaign_id=? GROUP BY state",
            (campaign_id,),
        )}

    def size(self, campaign_id: str) -> int:
        row = self._rows("SELECT MAX(seq) FROM experiments WHERE campaign_id=?", (campaign_id,))[0]
        return 0 if row[0] is None else int(row[0]) + 1

    def select(self, sel: Selection, *, full: bool = False, offset: int = 0,
               limit: int | None = None, newest_first: bool = False,
               by_objective: Literal["min", "max"] | None = None) -> list[Experiment]:
        sql, params = _query.select_sql(sel, "*" if full else _query.LIGHT, offset, limit,
                                        newest_first, by_objective)
        return [_query.experiment_from(r, full=full) for r in self._rows(sql, params)]

    def count_selected(self, sel: Selection) -> int:
        if (sel.line, sel.researcher, sel.states, sel.code_hash) == (None, None, None, None):
            # a seq range: seqs run 0 .. size-1 without gaps, so only the exclusions are read
            with self._lock:
                top = self.size(sel.campaign_id) - 1
                if sel.max_seq is not None:
                    top = min(top, sel.max_seq)
                n = max(0, top - sel.min_seq + 1)
                if n and sel.exclude_ids:
                    n -= int(self._rows(
                        "SELECT COUNT(*) FROM experiments WHERE id IN (SELECT value FROM json_each(?))"
                        " AND campaign_id = ? AND seq BETWEEN ? AND ?",
                        (json.dumps(sorted(sel.exclude_ids)), sel.campaign_id, sel.min_seq, top),
                    )[0][0])
                return n
        sql, params = _query.count_sql(sel)
        return int(self._rows(sql, params)[0][0])

    # aggregates --------------------------------------------------------------------------

    def meta_sums(self, sel: Selection, keys: Sequence[str]) -> dict[str, float]:
        if not keys:
            return {}
        found = {k: float(v) for k, v in self._rows(*_query.meta_sums_sql(sel, keys))}
        return {k: found.get(k, 0.0) for k in keys}

    def line_stats(self, campaign_id: str) -> list[LineStats]:
        info = self.campaign(campaign_id)
        return _query.line_stats_from(self._rows(_query.LINE_COUNTS, (info.id,)),
                                      self._rows(_query.LINE_BEST, (info.id,)), info.incumbent_id)

    def progress(self, campaign_id: str) -> Progress:
        row = self._rows(
            "SELECT COUNT(*), MAX(COALESCE(finished_at, created_at)), SUM(state='pending') "
            "FROM experiments WHERE campaign_id=?", (campaign_id,))[0]
        return Progress(int(row[0]) - int(row[2] or 0), float(row[1] or 0.0))


_INSERT_CAMPAIGN = (
    "INSERT INTO campaigns (id, task_name, task_dir, task_hash, researcher, researcher_args,"
    " config, created_at, status, incumbent_id, baseline_id, spent_seconds, reason)"
    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)")


def _insert_runs(db: sqlite3.Connection, eid: int, runs: Sequence[TimedRun],
                 subjects: Mapping[str, int | None], pending_in: Path | None = None) -> None:
    """Insert runs of experiment `eid`; with `pending_in` (the store's path, for the message)
    only if it is pending."""
    if pending_in is not None:
        row = db.execute("SELECT state FROM experiments WHERE id=?", (eid,)).fetchone()
        if row is None or row[0] != State.PENDING.value:
            raise StoreError(f"no pending experiment {eid} in {pending_in}")
    db.executemany(
        "INSERT INTO runs (experiment_id, subject_id, role, pair, wall_seconds,"
        " cpu_seconds, peak_memory_mb, foreign_load, exit_code, scored, objective, cores,"
        " threads, started_at, kill_reason, note, state, metrics)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        ((eid, subjects.get(r.role, eid), r.role, r.pair, r.wall_seconds, r.cpu_seconds,
          r.peak_memory_mb, r.foreign_load, r.exit_code, int(r.scored), r.objective,
          _j(r.cores), r.threads, r.started_at, r.kill_reason, r.note, r.state, _j(r.metrics))
         for r in runs),
    )
