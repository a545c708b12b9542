"""`rubicon bench` end to end: the smoke suite with the offline search, a kill -9 of the bench
process and `--resume` (nothing lost), `rubicon horizon` on the output; failed attempts are
recorded with their reasons and score 0."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rubicon import CampaignConfig, ProtocolConfig
from rubicon.bench import Bench
from rubicon.bench._attempt import attempt_dir
from rubicon.task import suites

from .conftest import FAST, task_copy

MAIN = [sys.executable, "-c", "import sys; from rubicon.cli.main import main; "
                              "sys.exit(main(sys.argv[1:]))"]


def _finished(db: Path) -> dict[int, tuple[Any, ...]]:
    """Finished experiments of a campaign store: id -> recorded fields."""
    if not db.exists():
        return {}
    con = sqlite3.connect(db, timeout=10)
    try:
        rows = con.execute("SELECT id, seq, state, decision, objective, speedup, reason, "
                           "finished_at FROM experiments WHERE state != 'pending'").fetchall()
    except sqlite3.OperationalError:  # the schema is not written yet
        rows = []
    finally:
        con.close()
    return {r[0]: tuple(r[1:]) for r in rows}


def _manifest(d: Path, k: int) -> dict[str, Any]:
    path = d / "attempts" / "search" / "demo-inversions" / str(k) / "attempt.json"
    return json.loads(path.read_text()) if path.exists() else {}


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`rubicon bench --researcher search --suite smoke --attempts 2`, killed with SIGKILL while
    its second attempt runs, then `--resume`d to the end."""
    d = tmp_path_factory.mktemp("bench") / "smoke"
    cmd = [*MAIN, "bench", "--researcher", "search", "--suite", "smoke", "--attempts", "2",
           *FAST, "--dir", str(d)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    db1 = d / "attempts" / "search" / "demo-inversions" / "1" / "rubicon.db"
    deadline = time.monotonic() + 400
    try:
        # kill once the second attempt has its baseline and one experiment recorded
        while len(_finished(db1)) < 2:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            assert time.monotonic() < deadline, "the bench did not reach its second attempt"
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    before = {"attempt0": _manifest(d, 0), "attempt1": _manifest(d, 1),
              "experiments1": _finished(db1)}
    resumed = subprocess.run([*MAIN, "bench", "--resume", "--dir", str(d)], capture_output=True,
                             text=True, timeout=600)
    yield {"dir": d, "before": before, "resumed": resumed}


def test_kill_and_resume_lose_nothing(killed_and_resumed: dict[str, Any]) -> None:
    d, before, resumed = (killed_and_resumed[k] for k in ("dir", "before", "resumed"))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "Traceback" not in resumed.stdout + resumed.stderr
    assert "search/demo-inversions/1: started (continuing" in resumed.stdout
    # the finished attempt stays as it was
    assert before["attempt0"]["status"] == "finished"
    assert _manifest(d, 0) == before["attempt0"]
    # the killed one continued in its own campaign, every finished experiment kept as recorded
    assert before["attempt1"]["status"] == "running"
    after = _manifest(d, 1)
    assert after["status"] == "finished" and after["restarts"] == 1
    assert after["campaign_id"] == before["attempt1"]["campaign_id"]
    assert len(after["segments"]) == 2 and all(s["end"] for s in after["segments"])
    db1 = attempt_dir(d, Bench.open(d).attempts()[1]) / "rubicon.db"
    now = _finished(db1)
    assert {k: now[k] for k in before["experiments1"]} == before["experiments1"]
    assert sum(1 for v in now.values() if v[0] > 0) == 3  # --max-experiments 3 in all
    # records of every attempt of the suite; demo-inversions: 6 levels in each of 2 attempts
    rows = [json.loads(x) for x in (d / "runs.jsonl").read_text().splitlines()]
    demo = [r for r in rows if r["task_family"] == "demo-inversions"]
    assert len(demo) == 12 and {r["attempt"] for r in demo} == {0, 1}
    assert {r["task_family"] for r in rows} == set(suites()["smoke"])
    assert {r["alias"] for r in rows} == {"search"} and not any(r["hints"] for r in rows)
    summary = json.loads((d / "summary.json").read_text())
    cell = next(c for c in summary["cells"] if c["task"] == "demo-inversions")
    assert cell["done"] == 2 and cell["failed"] == 0 and cell["mean"] > 0
    assert cell["low"] <= cell["mean"] <= cell["high"]
    # resuming a finished bench does nothing
    again = subprocess.run([*MAIN, "bench", "--resume", "--dir", str(d)], capture_output=True,
                           text=True, timeout=120)
    assert again.returncode == 0 and "started" not in again.stdout
    assert _manifest(d, 1) == after


def test_horizon_of_the_bench(killed_and_resumed: dict[str, Any]) -> None:
    d = killed_and_resumed["dir"]
    out = subprocess.run([*MAIN, "horizon", str(d), "--json", "--bootstrap", "500"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    agent = report["agents"][0]
    rows = (d / "runs.jsonl").read_text().splitlines()
    assert agent["agent"] == "search" and agent["runs"] == len(rows)
    h50 = next(h for h in agent["horizons"] if h["level"] == 0.5)
    # a 50% horizon with an interval (wide: three short tasks, 2 attempts each)
    assert h50["minutes"] is not None and h50["minutes"] > 0, h50
    assert h50["ci_low"] is not None and h50["ci_high"] is not None, h50
    assert h50["ci_low"] <= h50["minutes"] <= h50["ci_high"]


def test_failed_attempts_are_recorded_never_dropped(tmp_path: Path) -> None:
    broken = task_copy(tmp_path, "broken")
    (broken / "workspace" / "bench.py").write_text("raise SystemExit('no inputs today')\n")
    cfg = CampaignConfig(max_experiments=2, baseline_runs=1,
                         protocol=ProtocolConfig(max_pairs=2, max_foreign_load=1e9))
    bench = Bench.create(tmp_path / "b", ["tests.bench._researchers:Crash"],
                         [str(broken), str(task_copy(tmp_path, "tiny"))], attempts=1, cfg=cfg)
    attempts = {a.key: a for a in bench.run()}
    crash = attempts["tests.bench._researchers:Crash/tiny/0"]
    assert crash.status == "failed" and crash.score == 0 and crash.result is None
    assert "RuntimeError: the researcher broke down" in crash.reason
    assert "Traceback" in (attempt_dir(bench.dir, crash) / "error.txt").read_text()
    base = attempts["tests.bench._researchers:Crash/broken/0"]
    assert base.status == "failed" and "baseline" in base.reason and "no inputs" in base.reason
    rows = [json.loads(x) for x in (bench.dir / "runs.jsonl").read_text().splitlines()]
    assert len(rows) == 12  # 2 attempts x 6 levels: every attempt, failures included
    assert all(r["score_binarized"] == 0 and r["fatal_error_from"] for r in rows)
    summary = json.loads((bench.dir / "summary.json").read_text())
    assert [c["failed"] for c in summary["cells"]] == [1, 1]
    assert [c["mean"] for c in summary["cells"]] == [0.0, 0.0]
