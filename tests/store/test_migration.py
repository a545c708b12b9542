"""Schema migration on a store written by rubicon before the schema change (see data/README.md)."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rubicon.campaign import Campaign
from rubicon.cli.main import main
from rubicon.errors import StoreError
from rubicon.store import SCHEMA_VERSION, Store, _schema, open_store
from rubicon.types import State

DATA = Path(__file__).parent / "data"


@pytest.fixture
def old_store(tmp_path: Path) -> Path:
    """A copy of the version-1 store as `<tmp>/runs/rubicon.db`; returns the directory."""
    d = tmp_path / "runs"
    d.mkdir()
    shutil.copy(DATA / "store_v1.db", d / "rubicon.db")
    return d


def _raw(d: Path, sql: str) -> list[Any]:
    db = sqlite3.connect(d / "rubicon.db")
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def _version(d: Path) -> int:
    return int(_raw(d, "SELECT value FROM meta WHERE key='schema_version'")[0][0])


def _expected() -> dict[str, Any]:
    """The records as the version-1 code read them, in their current form: the line of work
    moves from meta to `line`, "duplicate of experiment N" also fills `duplicate_of` (version
    2); no embedded-data flags, no kill reason on any run (version 3); no note, state or
    metrics on any run, no budget spent and no reason on any campaign (version 4)."""
    want = json.loads((DATA / "store_v1.json").read_text())
    for c in want["campaigns"]:
        c["spent_seconds"], c["reason"] = 0.0, ""
    for e in want["experiments"]:
        e["line"] = e["meta"].pop("line", 0)
        m = re.match(r"duplicate of experiment (\d+)", e["reason"])
        e["duplicate_of"] = int(m.group(1)) if m else None
        e["flags"] = []
        for r in e["runs"]:
            r["kill_reason"] = ""
            r["note"], r["state"], r["metrics"] = "", "", {}
    return dict(want)


def _records(s: Store) -> dict[str, Any]:
    out: dict[str, Any] = {"campaigns": [c.model_dump(mode="json") for c in s.campaigns()],
                           "experiments": []}
    for c in s.campaigns():
        out["experiments"] += [s.experiment(e.id).model_dump(mode="json")
                               for e in s.experiments(c.id)]
    return out


def test_fixture_is_a_version_1_store(old_store: Path) -> None:
    assert _version(old_store) == 1 < SCHEMA_VERSION
    columns = {r[1] for r in _raw(old_store, "PRAGMA table_info(experiments)")}
    assert "line" not in columns and "duplicate_of" not in columns
    assert (DATA / "store_v1.db").stat().st_size < 200_000


def test_upgrade_in_place_keeps_every_record(old_store: Path) -> None:
    s = open_store(old_store)
    assert _version(old_store) == SCHEMA_VERSION
    got, want = _records(s), _expected()
    assert got == want
    by_id = {e["id"]: e for e in got["experiments"]}
    assert by_id[4]["duplicate_of"] == 2 and by_id[4]["state"] == "invalid"
    assert [by_id[i]["line"] for i in (2, 3, 4, 5, 6)] == [0, 1, 0, 1, 0]
    assert all("line" not in e["meta"] for e in got["experiments"])
    assert s.check() == []
    s.close()
    assert _records(open_store(old_store)) == want  # a second open changes nothing


def test_read_only_reads_an_old_store_as_it_is(old_store: Path) -> None:
    digest = hashlib.sha256((old_store / "rubicon.db").read_bytes()).hexdigest()
    r = open_store(old_store, read_only=True)
    assert _records(r) == _expected()
    cid = r.campaign().id
    assert [(s.researcher, s.line, s.experiments) for s in r.line_stats(cid)] == [
        ("scripted", 0, 3), ("scripted-b", 1, 2)]
    r.close()
    assert hashlib.sha256((old_store / "rubicon.db").read_bytes()).hexdigest() == digest
    assert _version(old_store) == 1


def test_failed_upgrade_leaves_the_old_store_whole(old_store: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    real: Callable[[sqlite3.Connection], None] = _schema._STEPS[2]

    def dies_after_the_step(db: sqlite3.Connection) -> None:
        real(db)
        raise sqlite3.OperationalError("disk I/O error (simulated)")

    monkeypatch.setitem(_schema._STEPS, 2, dies_after_the_step)
    with pytest.raises(StoreError, match="not a rubicon store.*simulated"):
        open_store(old_store)
    assert _version(old_store) == 1
    assert "line" not in {r[1] for r in _raw(old_store, "PRAGMA table_info(experiments)")}
    assert _records(open_store(old_store, read_only=True)) == _expected()
    monkeypatch.undo()
    assert _records(open_store(old_store)) == _expected()  # the next open upgrades it


def _old_task_in_place(store_dir: Path) -> None:
    """Put the campaign's task back where a user would still have it: the demo-inversions
    directory as it was at 9e9e935 (data/task_v1), at a path recorded in the store. Built-in
    tasks change with rubicon itself; a user's own task directory does not."""
    task = store_dir.parent / "task" / "demo-inversions"
    shutil.copytree(DATA / "task_v1" / "demo-inversions", task)
    db = sqlite3.connect(store_dir / "rubicon.db")
    try:
        with db:
            db.execute("UPDATE campaigns SET task_dir=?", (str(task),))
    finally:
        db.close()


def test_old_campaign_resumes_and_measures_one_more(old_store: Path) -> None:
    _old_task_in_place(old_store)
    c = Campaign.open(old_store)
    (pending,) = c.store.pending(c.info.id)
    assert pending.rationale == "pending one" and pending.line == 0
    ctx = c.context()
    assert [e.id for e in ctx.history] == [1, 2, 3, 4, 5]  # the pending one is not in flight
    assert ctx.history.by_id(4).duplicate_of == 2 and ctx.experiments_left is None
    done = c.tell(pending.id)
    assert done.state == State.OK and done.decision is not None and done.finished_at
    assert c.store.runs(done.id) and c.store.experiment(done.id).state == State.OK
    assert c.store.count(c.info.id) == {"ok": 3, "crashed": 1, "invalid": 2}


def test_rubicon_run_resumes_an_old_store(old_store: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    _old_task_in_place(old_store)
    assert main(["show", "--dir", str(old_store)]) == 0  # read-only: no upgrade
    assert _version(old_store) == 1
    assert main(["run", "--resume", "latest", "--dir", str(old_store)]) in (0, 1)
    assert _version(old_store) == SCHEMA_VERSION
    s = open_store(old_store, read_only=True)
    cid = s.campaign().id
    assert s.pending(cid) == [] and s.campaign(cid).status == "finished"
    assert s.size(cid) == 6
    out = capsys.readouterr().out
    assert "resuming campaign" in out and "finished" in out
