"""Crash safety: kill -9 the campaign process at random moments and resume with --resume.

Invariants checked after every kill and at the end: each finished experiment is kept exactly once
and never changes, interrupted ones are re-run, no sandbox process of the campaign survives, the
cgroups and trial directories of the dead process are cleaned on resume, the store stays sound.
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rubicon.runner import detect_backend
from rubicon.runner.recover import owner_pid, processes_under

BACKEND = detect_backend()

KILLS = 20
# One slow experiment (mergesort against the naive baseline: pairs of ~1 s runs), cheap crashes
# (one run each), then cheap mergesort variants against the mergesort incumbent.
SCRIPT = ([{"knobs": {"method": "mergesort", "cutoff": 1}, "rationale": "mergesort"}]
          + [{"knobs": {"method": "insertion", "cutoff": c}, "rationale": f"insertion {c}"}
             for c in (2, 4, 8)]
          + [{"knobs": {"method": "mergesort", "cutoff": c}, "rationale": f"mergesort {c}"}
             for c in range(2, 10)])


def _cli(d: Path, script: Path, workers: int, resume: bool) -> list[str]:
    cmd = [sys.executable, "-c", "import sys; from rubicon.cli.main import main; "
           "sys.exit(main(sys.argv[1:]))", "run"]
    if resume:
        cmd += ["--resume"]
    else:
        cmd += ["demo-inversions", "--researcher", "scripted", "-R", f"script={script}",
                "--baseline-runs", "2", "--max-pairs", "3", "--max-foreign-load", "1e9"]
    return cmd + ["--dir", str(d), "--workers", str(workers), "--budget", "1h"]


def _has_campaign(d: Path) -> bool:
    db = d / "rubicon.db"
    if not db.exists():
        return False
    try:
        with sqlite3.connect(db, timeout=10) as con:
            return con.execute("SELECT COUNT(*) FROM campaigns").fetchone()[0] > 0
    except sqlite3.DatabaseError:
        return False


def _snapshot(d: Path) -> tuple[dict[int, tuple[Any, ...]], str]:
    """Finished experiments (id -> recorded fields) and the integrity check result."""
    db = d / "rubicon.db"
    if not db.exists():
        return {}, "ok"
    con = sqlite3.connect(db, timeout=10)
    try:
        integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
        try:
            rows = con.execute(
                "SELECT id, seq, rationale, state, decision, objective, reason, finished_at,"
                " (SELECT COUNT(*) FROM runs WHERE experiment_id=e.id) FROM experiments e"
                " WHERE state != 'pending'").fetchall()
        except sqlite3.OperationalError:  # killed before the schema existed
            rows = []
    finally:
        con.close()
    return {r[0]: tuple(r[1:]) for r in rows}, integrity


def _noted_cgroups(work: Path) -> set[Path]:
    out: set[Path] = set()
    for note in work.glob("*/cgroups-*"):
        try:
            out |= {Path(x) for x in note.read_text().split()}
        except OSError:
            continue
    return out


def _wait_no_processes(d: Path, seconds: float = 5.0) -> list[int]:
    deadline = time.monotonic() + seconds
    left = processes_under(d)
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = processes_under(d)
    return left


def _check_finished(d: Path, before: dict[int, tuple[Any, ...]]) -> None:
    """A campaign that ran to its end after kills: everything once, nothing pending or left."""
    snap, integrity = _snapshot(d)
    assert integrity == "ok"
    for eid, rec in before.items():
        assert snap.get(eid) == rec, (eid, rec, snap.get(eid))
    rationales = [rec[1] for rec in snap.values() if rec[0] > 0]
    assert sorted(rationales) == sorted(p["rationale"] for p in SCRIPT), rationales
    assert len(rationales) == len(set(rationales))  # each proposal measured and kept once
    assert sum(1 for rec in snap.values() if rec[0] == 0) == 1  # one baseline
    con = sqlite3.connect(d / "rubicon.db")
    pending = con.execute("SELECT COUNT(*) FROM experiments WHERE state='pending'").fetchone()[0]
    status = con.execute("SELECT status FROM campaigns").fetchone()[0]
    unscored = con.execute("SELECT COUNT(*) FROM experiments WHERE state='ok' AND NOT EXISTS "
                           "(SELECT 1 FROM runs WHERE experiment_id=experiments.id)").fetchone()[0]
    con.close()
    assert pending == 0 and status == "finished" and unscored == 0
    assert list((d / "work").iterdir()) == []  # trial dirs of killed processes were removed
    assert processes_under(d) == []


def test_kill_9_at_random_moments_then_resume(tmp_path: Path) -> None:
    rng = random.Random(6)
    script = tmp_path / "script.json"
    script.write_text(json.dumps(SCRIPT))
    epoch = 0
    d = tmp_path / f"runs{epoch}"
    finished: dict[int, tuple[Any, ...]] = {}
    left_behind: set[Path] = set()
    stale_dirs = kills = 0
    progress_at_kill: list[tuple[int, int]] = []
    t0 = time.monotonic()
    for i in range(3 * KILLS):
        if kills == KILLS:
            break
        workers = 1 + i % 2  # kill serial and parallel campaigns alike
        log = tmp_path / f"run{i}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(_cli(d, script, workers, _has_campaign(d)), stdout=out,
                                    stderr=subprocess.STDOUT)
        # spread over the campaign's life: start-up, baseline, screening, pairs, bookkeeping;
        # every 4th process, and one after three kills without progress, lives long enough
        # to finish the slow experiment (an interrupted experiment starts over)
        recent = [n for e, n in progress_at_kill[-3:] if e == epoch]
        stuck = len(recent) == 3 and len(set(recent)) == 1
        long = i % 4 == 3 or stuck
        time.sleep(rng.uniform(4.0, 6.5) if long else rng.uniform(0.3, 2.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        if proc.returncode == 0:  # it reached its end before the kill: check it, start anew
            _check_finished(d, finished)
            epoch += 1
            d, finished = tmp_path / f"runs{epoch}", {}
            continue
        assert proc.returncode == -signal.SIGKILL, log.read_text()[-2000:]
        kills += 1
        # bwrap --die-with-parent takes every sandboxed process with the campaign; other
        # backends leave orphans to the resume's recovery (checked when the campaign ends)
        if BACKEND == "bwrap":
            assert _wait_no_processes(d) == [], f"orphans after kill {i}"
        snap, integrity = _snapshot(d)
        assert integrity == "ok", f"store corrupt after kill {i}: {integrity}"
        for eid, rec in finished.items():  # finished work is kept, unchanged, exactly once
            assert snap.get(eid) == rec, (i, eid, rec, snap.get(eid))
        finished = snap
        progress_at_kill.append((epoch, len(snap)))
        work = d / "work"
        if work.is_dir():
            stale_dirs += sum(1 for p in work.glob("p*.*") if owner_pid(p) == proc.pid)
            left_behind |= _noted_cgroups(work)
    assert kills == KILLS

    # the last resume runs to the end
    if _has_campaign(d):
        done = subprocess.run(_cli(d, script, 2, True), capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        _check_finished(d, finished)
    # the resumes removed the cgroups the killed processes' runs left behind
    assert [g for g in left_behind if g.exists()] == []
    # the kills landed at many different stages of a campaign
    assert len(set(progress_at_kill)) >= 3, progress_at_kill
    assert stale_dirs >= 1  # at least one kill interrupted a trial mid-way
    print(f"\n{kills} kills in {time.monotonic() - t0:.0f}s over {epoch + 1} campaign(s); "
          f"(campaign, finished experiments) at each kill: {progress_at_kill}; trial dirs left "
          f"by killed processes: {stale_dirs}; their cgroups: {len(left_behind)}")


def test_recover_ends_orphaned_sandboxes_only(tmp_path: Path) -> None:
    """An orphan working in a dead harness's trial dir is killed and the dir removed; a process
    that merely names the campaign dir (a dashboard, say) is left alone."""
    d = tmp_path / "runs"
    trial = d / "work" / "p999999999.e1-abcd"  # no such pid: its harness is gone
    trial.mkdir(parents=True)
    subprocess.run(["sh", "-c", f"cd {trial} && (sleep 30 &)"], check=True)
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", str(d)])
    try:
        deadline = time.monotonic() + 5
        while len(processes_under(d)) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        orphans = [p for p in processes_under(d) if p != bystander.pid]
        assert len(orphans) == 1
        from rubicon.runner.recover import recover

        got = recover(d)
        assert got["orphans_killed"] == 1 and got["work_dirs_removed"] == 1
        assert not trial.exists()
        assert bystander.poll() is None  # still running
        assert _wait_no_processes(d, 3) == [bystander.pid]
    finally:
        bystander.kill()
        bystander.wait()
