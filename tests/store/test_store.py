"""What only the SQLite backend promises (the shared contract is in conformance.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from rubicon.errors import StoreError
from rubicon.store import SCHEMA_VERSION, SQLiteStore, Store, open_store, store_path


def _pragma(path: Path, sql: str) -> object:
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchone()[0]
    finally:
        db.close()


def test_open_store_gives_a_sqlite_file_in_wal_mode(tmp_path: Path) -> None:
    s = open_store(tmp_path)
    assert isinstance(s, SQLiteStore) and isinstance(s, Store)
    assert s.path == tmp_path / "rubicon.db" == store_path(tmp_path)
    assert open_store(tmp_path / "other.db").path == tmp_path / "other.db"
    assert _pragma(s.path, "PRAGMA journal_mode") == "wal"
    assert _pragma(s.path, "SELECT value FROM meta WHERE key='schema_version'") == str(SCHEMA_VERSION)
    s.close()
    open_store(tmp_path).close()  # reopening an up-to-date store changes nothing
    assert _pragma(s.path, "SELECT COUNT(*) FROM meta") == 1


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    open_store(tmp_path).close()
    db = sqlite3.connect(tmp_path / "rubicon.db")
    db.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    db.commit()
    db.close()
    for read_only in (False, True):
        with pytest.raises(StoreError, match=rf"schema version 99 is newer .* \({SCHEMA_VERSION}\); upgrade rubicon"):
            open_store(tmp_path, read_only=read_only)


def test_missing_store(tmp_path: Path) -> None:
    for kw in ({"create": False}, {"read_only": True}):
        with pytest.raises(StoreError, match="no rubicon store at .*nowhere"):
            open_store(tmp_path / "nowhere", **kw)  # type: ignore[arg-type]
    assert not (tmp_path / "nowhere").exists()


def test_not_a_database(tmp_path: Path) -> None:
    (tmp_path / "rubicon.db").write_bytes(b"garbage" * 1000)
    for read_only in (False, True):
        with pytest.raises(StoreError, match="not a rubicon store"):
            open_store(tmp_path, read_only=read_only)


def test_read_only_open_writes_nothing(tmp_path: Path) -> None:
    open_store(tmp_path).close()
    before = sorted(p.name for p in tmp_path.iterdir())
    mtime = (tmp_path / "rubicon.db").stat().st_mtime_ns
    r = open_store(tmp_path, read_only=True)
    assert r.campaigns() == [] and r.check() == []
    assert isinstance(r, SQLiteStore)
    with pytest.raises(sqlite3.OperationalError, match="readonly"):  # the connection itself is mode=ro
        r._db.execute("INSERT INTO meta VALUES ('x', 'y')")
    r.close()
    assert (tmp_path / "rubicon.db").stat().st_mtime_ns == mtime
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(("-wal", "-shm"))) == [
        n for n in before if not n.endswith(("-wal", "-shm"))]
