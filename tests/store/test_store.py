from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from rubicon.errors import StoreError
from rubicon.store import SCHEMA_VERSION, Store
from rubicon.types import CampaignInfo, Decision, Experiment, State, TimedRun


def _campaign(store: Store, cid: str = "c1") -> None:
    store.create_campaign(CampaignInfo(id=cid, task_name="t", task_dir="/x", task_hash="h",
                                       researcher="r", created_at=time.time()))


def _pending(store: Store, cid: str = "c1") -> int:
    return store.add_pending(Experiment(id=0, campaign_id=cid, seq=0, parent_id=None,
                                        researcher="r", files={"a.py": "x"}), "hash")


def test_schema_wal_and_version(tmp_path: Path) -> None:
    s = Store(tmp_path)
    assert s.path == tmp_path / "rubicon.db"
    assert s._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert s._db.execute("SELECT value FROM meta").fetchone()[0] == str(SCHEMA_VERSION)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    Store(tmp_path).close()
    db = sqlite3.connect(tmp_path / "rubicon.db")
    db.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="newer"):
        Store(tmp_path)


def test_missing_store_and_unknown_records(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no rubicon store"):
        Store(tmp_path / "nowhere", create=False)
    s = Store(tmp_path)
    with pytest.raises(StoreError, match="no campaign"):
        s.campaign()
    with pytest.raises(StoreError, match="no experiment 5"):
        s.experiment(5)


def test_not_a_database(tmp_path: Path) -> None:
    (tmp_path / "rubicon.db").write_bytes(b"garbage" * 1000)
    with pytest.raises(StoreError, match="not a rubicon store"):
        Store(tmp_path)


def test_pending_then_finished_with_runs(tmp_path: Path) -> None:
    s = Store(tmp_path)
    _campaign(s)
    eid = _pending(s)
    assert [e.id for e in s.pending("c1")] == [eid]
    e = s.experiment(eid)
    e.state, e.decision, e.reason, e.objective = State.OK, Decision.KEEP, "because", 1.5
    runs = [TimedRun(role="candidate", pair=0, wall_seconds=1.5, cpu_seconds=1, peak_memory_mb=3,
                     foreign_load=0, exit_code=0, scored=True, objective=1.5)]
    s.finish(e, runs, {"candidate": eid})
    assert s.pending("c1") == []
    got = s.experiment(eid)
    assert got.state == State.OK and got.decision == Decision.KEEP and got.files == {"a.py": "x"}
    assert [r.objective for r in got.runs] == [1.5]
    assert s.subject_values(eid) == [1.5]
    assert s.find_code("c1", "hash") == eid
    assert s.count("c1") == {"ok": 1}


def test_campaign_prefix_lookup(tmp_path: Path) -> None:
    s = Store(tmp_path)
    _campaign(s, "demo-2026-aaaa")
    assert s.campaign("demo-2026").id == "demo-2026-aaaa"
    assert s.campaign().id == "demo-2026-aaaa"


def test_kill_during_writes_leaves_each_experiment_whole(tmp_path: Path) -> None:
    """kill -9 a writer mid-stream: every experiment is pending or fully recorded with its runs."""
    s = Store(tmp_path)
    _campaign(s)
    s.close()
    code = textwrap.dedent(f"""
        from rubicon.store import Store
        from rubicon.types import Experiment, State, Decision, TimedRun
        s = Store({str(tmp_path)!r})
        while True:
            eid = s.add_pending(Experiment(id=0, campaign_id="c1", seq=0, parent_id=None,
                                           researcher="r"), "h")
            e = s.experiment(eid)
            e.state, e.decision = State.OK, Decision.DISCARD
            runs = [TimedRun(role="candidate", pair=i, wall_seconds=1, cpu_seconds=1,
                             peak_memory_mb=1, foreign_load=0, exit_code=0, scored=True)
                    for i in range(5)]
            s.finish(e, runs, {{}})
    """)
    for delay in (0.4, 0.7, 1.1):
        p = subprocess.Popen([sys.executable, "-c", code])
        time.sleep(delay)
        p.kill()
        p.wait()
    s = Store(tmp_path)
    assert s._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    exps = s.experiments("c1")
    assert len(exps) > 3
    for e in exps:
        n = len(s.runs(e.id))
        assert (e.state == State.PENDING and n == 0) or (e.state == State.OK and n == 5)
