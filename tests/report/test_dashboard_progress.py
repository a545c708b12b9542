"""The dashboard shows the timed run going on now: its progress bar, elapsed time and ETA,
from the run's `progress: STEP/TOTAL` lines (rubicon.store.live), and drops it once the
experiment is recorded."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

from rubicon.store import open_store
from rubicon.store.live import read_run_progress, write_run_progress
from rubicon.types import CampaignInfo, Decision, Experiment, State


def view(url: str, since: str = "") -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/api/campaign/c1/view?since={since}", timeout=30) as r:
        out: dict[str, Any] = json.loads(r.read())
        return out


def running_campaign(d: Path) -> None:
    store = open_store(d)
    store.create_campaign(CampaignInfo(id="c1", task_name="demo", task_dir="/x", task_hash="h",
                                       researcher="search", created_at=time.time()))
    base = store.experiment(store.add_pending(Experiment(
        id=0, campaign_id="c1", seq=0, parent_id=None, researcher="baseline"), "b"))
    base.state, base.decision, base.reason, base.objective = State.OK, Decision.KEEP, "b", 1.0
    store.finish(base, [], {})
    store.add_pending(Experiment(id=0, campaign_id="c1", seq=0, parent_id=base.id,
                                 researcher="search"), "c")
    store.update_campaign("c1", baseline_id=base.id, incumbent_id=base.id)
    store.close()


def test_live_progress_file_round_trip(tmp_path: Path) -> None:
    assert read_run_progress(tmp_path, "c1") is None
    write_run_progress(tmp_path, "c1", {"what": "candidate", "experiment": 2, "step": 3,
                                        "total": 10, "elapsed": 1.5})
    got = read_run_progress(tmp_path / "rubicon.db", "c1")  # the directory or the .db file
    assert got is not None and (got["step"], got["total"], got["experiment"]) == (3, 10, 2)
    (tmp_path / "live" / "c1.json").write_text('{"step": 3, "total": 0}')
    assert read_run_progress(tmp_path, "c1") is None  # nothing to divide by: ignored


def test_dashboard_shows_the_run_in_progress(tmp_path: Path, dashboard_factory: Any) -> None:
    running_campaign(tmp_path)
    with dashboard_factory(tmp_path) as dash:
        first = view(dash.url)
        assert 'id="run-progress"' not in first["html"]  # no run has printed progress yet
        write_run_progress(tmp_path, "c1", {"what": "candidate", "experiment": 2, "step": 30,
                                            "total": 100, "elapsed": 12.0})
        now = view(dash.url, first["token"])
        assert now["html"] is not None and now["token"] != first["token"]
        assert '<progress value="30" max="100">' in now["html"]
        assert "candidate #2: step 30 of 100 (30%)" in now["html"] and "left" in now["html"]
        store = open_store(tmp_path)
        e = store.experiment(2)
        e.state, e.decision, e.reason = State.OK, Decision.DISCARD, "not better"
        store.finish(e, [], {})
        store.close()
        done = view(dash.url, now["token"])
        assert done["html"] is not None and 'id="run-progress"' not in done["html"]
