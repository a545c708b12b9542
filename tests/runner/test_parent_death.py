"""A run dies with its harness in every backend (the launcher's parent-death signal). bwrap has
--die-with-parent; a meta-task's evaluator runs outside bubblewrap (backend "none", issue 23)
and relied on nothing: a harness killed with -9 left it running its inner bench."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from rubicon.runner.recover import remove_noted_cgroups
from rubicon.runner.sandbox import LAUNCHER


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper counts as ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_run_outside_bubblewrap_dies_with_its_harness(tmp_path: Path) -> None:
    pidfile = tmp_path / "run.pid"
    harness = f"""
from pathlib import Path
from rubicon.runner.sandbox import SandboxSpec, run_sandboxed
run_sandboxed(SandboxSpec(argv=["sh", "-c", "echo $$ > run.pid.tmp && mv run.pid.tmp run.pid "
                                "&& exec sleep 60"],
                          cwd=Path({str(tmp_path)!r}), log_path=Path({str(tmp_path / "run.log")!r}),
                          time_limit=120, cgroup_note=Path({str(tmp_path / "cgroups-run")!r})),
              "none")
"""
    proc = subprocess.Popen([sys.executable, "-c", harness])
    run = 0
    try:
        deadline = time.monotonic() + 60
        while not pidfile.is_file() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        run = int(pidfile.read_text())
        assert _alive(run)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 10
        while _alive(run) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(run), "the run outlived its harness"
    finally:
        proc.kill()
        proc.wait()
        if run:
            with contextlib.suppress(ProcessLookupError):
                os.kill(run, signal.SIGKILL)
        remove_noted_cgroups(tmp_path)  # the killed harness could not remove its groups


def test_the_launcher_refuses_to_start_when_its_harness_is_gone() -> None:
    """The harness may die between the fork and the arming of the signal: the launcher sees
    its parent changed and does not start the run."""
    r, w = os.pipe()
    try:
        proc = subprocess.run([sys.executable, "-S", "-I", str(LAUNCHER), f"status-fd={w}",
                               "parent=1", "--", "true"], pass_fds=(w,),
                              capture_output=True, timeout=60)
    finally:
        os.close(w)
    with os.fdopen(r, "rb") as f:
        report = f.read().decode()
    assert proc.returncode == 127
    assert report.startswith("parent=1: OSError") and "ended before the run started" in report, \
        report
