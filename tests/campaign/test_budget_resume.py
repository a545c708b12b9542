"""Budgets that hold and nothing finished lost (issue 25), on real sandboxed runs of the demo
task: the budget stops a run in flight and counts across resumes; after kill -9 a resume keeps
every finished run (the baseline's included) and runs only what was cut; a baseline that fails
leaves a campaign recorded as failed, with its reason and without its lock file."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from rubicon.campaign import Campaign, CampaignConfig
from rubicon.campaign.scheduler import is_running, lock_path, status_now
from rubicon.campaign.slow import SlowBaseline
from rubicon.cli.main import main
from rubicon.errors import RubiconError, StoreError
from rubicon.measure.protocol import ProtocolConfig
from rubicon.researcher.scripted import ScriptedResearcher
from rubicon.store import open_store
from rubicon.task import resolve_task
from rubicon.types import Edit, Proposal, State

SRC = Path(__file__).resolve().parents[2] / "src"
# every run scored whatever the machine's load (these tests check bookkeeping, not the rule)
CALM = ProtocolConfig(max_foreign_load=1e9, quick_share=0.0, min_pairs=2, max_pairs=2)
MERGE = Proposal(knobs={"method": "mergesort"}, rationale="O(n log n)")
SLEEPER = Proposal(edits=[Edit(file="solution.py", replace="import time\ntime.sleep(60)\n")],
                   rationale="sleeps a minute")
WAIT = 120.0


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


def _wait_for(what: str, check: Any, proc: subprocess.Popen[str] | None = None) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        assert proc is None or proc.poll() is None, f"the campaign ended before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _runs(d: Path, seq: int) -> list[Any]:
    """The runs recorded so far for the experiment `seq` of the only campaign in `d`."""
    if not (d / "rubicon.db").exists():
        return []
    try:
        s = open_store(d, read_only=True)
    except StoreError:  # being created
        return []
    try:
        cid = s.campaign().id
        exp = next((e for e in s.experiments(cid) if e.seq == seq), None)
        return [] if exp is None else s.runs(exp.id)
    except StoreError:  # no campaign yet
        return []
    finally:
        s.close()


# kill -9 ---------------------------------------------------------------------------------------

_CHILD = textwrap.dedent("""
    import sys
    from rubicon.campaign import Campaign, CampaignConfig
    from rubicon.measure.protocol import ProtocolConfig
    from rubicon.researcher.scripted import ScriptedResearcher
    from rubicon.types import Proposal
    cfg = CampaignConfig(protocol=ProtocolConfig(max_foreign_load=1e9, quick_share=0.0,
                                                 min_pairs=2, max_pairs=2), baseline_runs=3)
    c = Campaign.create("demo-inversions", "scripted", directory=sys.argv[1], cfg=cfg,
        researcher_obj=ScriptedResearcher([Proposal(knobs={"method": "mergesort"})]))
    c.run()
""")


def _kill_when(d: Path, seq: int, n: int) -> str:
    """Start a campaign in another process, kill -9 it once experiment `seq` has `n` runs
    recorded; returns the campaign id."""
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(d)], env=_env(), text=True)
    try:
        _wait_for(f"{n} runs of experiment seq {seq}", lambda: len(_runs(d, seq)) >= n, proc)
    finally:
        proc.kill()  # SIGKILL: no cleanup of any kind
        proc.wait()
    s = open_store(d, read_only=True)
    cid = s.campaign().id
    s.close()
    return cid


def test_after_kill_9_in_the_baseline_the_resume_keeps_its_finished_runs(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "runs"
    cid = _kill_when(d, seq=0, n=1)
    before = _runs(d, 0)
    assert before and all(r.state == "ok" and r.note for r in before)
    assert not is_running(d, cid)  # recorded `running`, but nobody holds its lock
    assert status_now(d, cid, open_store(d, read_only=True).campaign(cid).status) == "stopped"
    assert main(["show", "--dir", str(d)]) == 0  # `show` says so, and what to do
    shown = capsys.readouterr().out
    assert "stopped" in shown and "--resume" in shown and "running" not in shown
    base_id = open_store(d, read_only=True).experiments(cid)[0].id
    assert main(["show", str(base_id), "--dir", str(d)]) == 0  # and why each run was scored
    assert ": scored" in capsys.readouterr().out
    c = Campaign.open(d, cid, researcher_obj=ScriptedResearcher([]))
    c.run()
    after = c.store.runs(c.info.baseline_id or 0)
    assert len(after) == 3  # baseline_runs: only the missing ones ran
    assert [r.started_at for r in after[:len(before)]] == [r.started_at for r in before]
    assert c.baseline.state == State.OK and not lock_path(d, cid).exists()


def test_after_kill_9_in_a_candidate_the_resume_keeps_its_finished_runs(tmp_path: Path) -> None:
    d = tmp_path / "runs"
    cid = _kill_when(d, seq=1, n=2)
    before = _runs(d, 1)
    base_before = _runs(d, 0)
    c = Campaign.open(d, cid, researcher_obj=ScriptedResearcher([]))
    c.run()
    exp = next(e for e in c.store.experiments(cid) if e.seq == 1)
    runs = c.store.runs(exp.id)
    assert exp.state == State.OK and len(runs) >= len(before)
    assert [r.started_at for r in runs[:len(before)]] == [r.started_at for r in before]
    assert [r.started_at for r in _runs(d, 0)] == [r.started_at for r in base_before]


# Ctrl-C through the CLI, and the hint it prints --------------------------------------------------

@pytest.mark.usefixtures("ctrl_c_delivered")
def test_ctrl_c_keeps_the_pending_candidates_runs_and_the_hint_works_as_printed(
        tmp_path: Path) -> None:
    d = tmp_path / "my runs"  # not the default directory, and a space in it
    cmd = [sys.executable, "-m", "rubicon.cli.main", "run", "demo-inversions", "--dir", str(d),
           "--budget", "5m", "--max-foreign-load", "1e9"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=_env(), text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        _wait_for("a run of the first candidate", lambda: len(_runs(d, 1)) >= 1, proc)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=WAIT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, out
    s = open_store(d, read_only=True)
    cid = s.campaign().id
    assert s.campaign().status == "interrupted" and not lock_path(d, cid).exists()
    pending = [e for e in s.experiments(cid) if e.state == State.PENDING]
    kept = {e.seq: s.runs(e.id) for e in pending}
    s.close()
    assert 1 in kept and kept[1], "the pending candidate's finished runs were dropped"
    hint = next(line for line in out.splitlines() if "--resume" in line)
    printed = hint.split("`")[1]
    assert printed.startswith(f"rubicon run --resume {cid} --dir ")
    # the printed command, as a user pastes it into a shell in the same directory
    rubicon = shutil.which("rubicon")
    shell = printed if rubicon else printed.replace("rubicon", f"{sys.executable} -m rubicon.cli.main", 1)
    r = subprocess.run(shell, shell=True, cwd=tmp_path, capture_output=True, text=True,
                       env={**_env(), "RUBICON_MAX_EXPERIMENTS": "1"}, timeout=WAIT)
    assert r.returncode in (0, 1), r.stdout + r.stderr
    s = open_store(d, read_only=True)
    first = next(e for e in s.experiments(cid) if e.seq == 1)
    runs = s.runs(first.id)
    s.close()
    assert first.state != State.PENDING
    assert [x.started_at for x in runs[:len(kept[1])]] == [x.started_at for x in kept[1]]


# the budget ---------------------------------------------------------------------------------------

def test_the_budget_stops_a_run_in_flight_and_a_resume_counts_what_was_spent(
        tmp_path: Path) -> None:
    d = tmp_path / "runs"
    c = Campaign.create("demo-inversions", "scripted", directory=d,
                        researcher_obj=ScriptedResearcher([SLEEPER]),
                        cfg=CampaignConfig(protocol=CALM, baseline_runs=2, budget_seconds=4))
    c.ensure_baseline()  # outside run(): not counted
    t0 = time.monotonic()
    c.run()
    took = time.monotonic() - t0
    assert took < 4 + 10, f"the 4 s budget held the campaign {took:.1f} s"  # not the 60 s sleep
    info = c.store.campaign(c.info.id)
    assert info.status == "finished" and 4 <= info.spent_seconds < 14
    exp = next(e for e in c.store.experiments(c.info.id) if e.seq == 1)
    runs = c.store.runs(exp.id)
    assert exp.state == State.PENDING  # a resumed run with more budget measures it
    assert [(r.kill_reason, r.scored) for r in runs] == [("budget", False)]
    assert "the campaign's budget ended" in runs[0].note
    # resumed with the same budget: it was spent, nothing runs
    again = Campaign.open(d, c.info.id, researcher_obj=ScriptedResearcher([]))
    t0 = time.monotonic()
    again.run()
    assert time.monotonic() - t0 < 5 and len(c.store.runs(exp.id)) == 1
    assert c.store.campaign(c.info.id).spent_seconds >= info.spent_seconds


# a baseline that fails -----------------------------------------------------------------------

def _task_copy(tmp_path: Path, edit: Any) -> Path:
    dst = tmp_path / "task"
    shutil.copytree(resolve_task("demo-inversions").dir, dst)
    edit(dst)
    return dst


@pytest.mark.parametrize("how", ["crash", "missing-interpreter"])
def test_a_failed_baseline_is_recorded_as_failed_with_its_reason_and_no_lock(
        tmp_path: Path, how: str, capsys: pytest.CaptureFixture[str]) -> None:
    def crash(t: Path) -> None:
        (t / "workspace" / "solution.py").write_text("raise SystemExit('no')\n")

    def missing(t: Path) -> None:  # e.g. a virtualenv the sandbox cannot see
        toml = (t / "task.toml").read_text()
        (t / "task.toml").write_text(toml.replace('command = ["python", "bench.py"]',
                                                  'command = ["/nonexistent/venv/bin/python3", "bench.py"]'))

    task = _task_copy(tmp_path, crash if how == "crash" else missing)
    d = tmp_path / "runs"
    c = Campaign.create(task, "scripted", directory=d, researcher_obj=ScriptedResearcher([MERGE]),
                        cfg=CampaignConfig(protocol=CALM))
    with pytest.raises(RubiconError, match="baseline .* does not pass"):
        c.run()
    info = c.store.campaign(c.info.id)
    assert info.status == "failed" and info.reason.startswith("the baseline does not pass")
    assert not lock_path(d, c.info.id).exists() and not is_running(d, c.info.id)
    capsys.readouterr()
    assert main(["show", "--dir", str(d)]) == 0
    shown = capsys.readouterr().out
    assert "failed" in shown and "running" not in shown
    assert "stopped because: the baseline does not pass" in shown


# the slow-baseline warning -----------------------------------------------------------------

def test_a_baseline_far_slower_than_its_calibration_is_reported_at_once(tmp_path: Path) -> None:
    task = _task_copy(tmp_path, lambda t: (t / "task.toml").write_text(
        "baseline_seconds = 0.01\n" + (t / "task.toml").read_text()))
    c = Campaign.create(task, "scripted", directory=tmp_path / "runs",
                        researcher_obj=ScriptedResearcher([]), cfg=CampaignConfig(protocol=CALM))
    got: list[str] = []
    c.on_event = lambda kind, data: got.append(data["message"]) if kind == "warning" else None
    c.run()
    assert got, "no warning"
    first = got[0]
    assert first.startswith("slow machine: baseline run 1 of task demo-inversions")
    assert "calibrated" in first and "load average" in first and "What to do" in first
    assert f"rubicon run --resume {c.info.id} --dir " in first
    done = [m for m in got if " took " in m]
    assert done and "cores during it (measured by the runner)" in done[0]


@pytest.mark.parametrize(("load", "cause"), [
    (1.1, "this machine itself may be slower than the calibration machine"),
    (3.5, "other processes share the cores")])
def test_the_running_warning_blames_load_only_when_there_is_load(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, load: float, cause: str) -> None:
    """Seen on a slow VM with nothing else running: the warning blamed other processes."""
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    got: list[str] = []
    slow = SlowBaseline("t", 0.01, "c-1", tmp_path, 0.1, got.append, threads=1)
    slow.start(0)
    deadline = time.monotonic() + 10
    while not got and time.monotonic() < deadline:
        time.sleep(0.01)
    assert got and cause in got[0], got
