"""Kill reasons are decided from the harness's facts only (pure function, synthetic facts)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from rubicon.runner._kill import EndFacts, decide_kill
from rubicon.runner.sandbox import LAUNCHER
from rubicon.types import KillReason


def exited(code: int) -> int:
    return code << 8  # a wait status for exit(code)


def killed(sig: int) -> int:
    return int(sig)  # a wait status for death by signal `sig`


def test_an_exit_status_is_never_a_kill() -> None:
    # through bwrap a SIGKILL looks like exit(137), which a program can also return itself
    for code in (0, 1, 137, 152, 153):
        assert decide_kill(EndFacts(wait_status=exited(code))) == (KillReason.NONE, "")


def test_facts_in_order_of_precedence() -> None:
    everything = EndFacts(wait_status=killed(signal.SIGKILL), timed_out=True, time_limit=2,
                          disk_excess="disk limit 1 MiB in the workspace (found 2 MiB)",
                          oom_kills=1, memory_limit_mb=512, cpu_seconds=9, cpu_limit=5,
                          pids_limit_hits=3, max_processes=16)
    assert decide_kill(everything) == (KillReason.WALL_TIME, "wall-time limit 2s")
    rest = EndFacts(**{**everything.__dict__, "timed_out": False})
    assert decide_kill(rest)[0] == KillReason.DISK
    rest = EndFacts(**{**rest.__dict__, "disk_excess": ""})
    kind, text = decide_kill(rest)
    assert kind == KillReason.MEMORY and text.startswith("memory limit 512 MiB")
    rest = EndFacts(**{**rest.__dict__, "oom_kills": 0})
    assert decide_kill(rest) == (KillReason.CPU_TIME, "CPU-time limit 5s")
    rest = EndFacts(**{**rest.__dict__, "cpu_seconds": 1.0})
    assert decide_kill(rest)[0] == KillReason.PROCESSES
    rest = EndFacts(**{**rest.__dict__, "pids_limit_hits": 0})
    assert decide_kill(rest) == (KillReason.SIGNAL, "killed by signal 9 (SIGKILL)")


def test_a_process_limit_counts_only_for_a_run_that_failed() -> None:
    ok = EndFacts(wait_status=exited(0), pids_limit_hits=5, max_processes=16)
    assert decide_kill(ok) == (KillReason.NONE, "")
    failed = EndFacts(wait_status=exited(1), pids_limit_hits=5, max_processes=16)
    assert decide_kill(failed) == (KillReason.PROCESSES,
                                   "process limit 16 reached (5 forks refused)")


def test_real_rlimit_signals() -> None:
    assert decide_kill(EndFacts(wait_status=killed(signal.SIGXCPU), cpu_limit=3))[0] == \
        KillReason.CPU_TIME
    assert decide_kill(EndFacts(wait_status=killed(signal.SIGXFSZ), max_file_mb=64)) == (
        KillReason.FILE_SIZE, "file-size limit 64 MiB (SIGXFSZ)")


def test_the_launcher_reports_why_it_failed() -> None:
    r, w = os.pipe()
    try:
        proc = subprocess.run([sys.executable, "-S", "-I", str(LAUNCHER), f"status-fd={w}",
                               "rlimit-nosuchlimit=1:1", "--", "true"], pass_fds=(w,),
                              capture_output=True, timeout=60)
    finally:
        os.close(w)
    with os.fdopen(r, "rb") as f:
        report = f.read().decode()
    assert proc.returncode == 127
    assert report.startswith("rlimit-nosuchlimit=1:1: AttributeError"), report


def test_the_launcher_closes_its_status_pipe_on_exec() -> None:
    r, w = os.pipe()
    try:
        proc = subprocess.run([sys.executable, "-S", "-I", str(LAUNCHER), f"status-fd={w}",
                               "rlimit-core=0:0", "--", sys.executable, "-c", (
                                   "import os, stat\ntry:\n"
                                   f"    print('pipe', stat.S_ISFIFO(os.fstat({w}).st_mode))\n"
                                   "except OSError:\n    print('closed')\n")],
                              pass_fds=(w,),
                              capture_output=True, text=True, timeout=60)
    finally:
        os.close(w)
    with os.fdopen(r, "rb") as f:
        assert f.read() == b""  # EOF, no report: the command was exec'ed
    assert proc.returncode == 0 and proc.stdout.split() in (["closed"], ["pipe", "False"])
