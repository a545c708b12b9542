"""Why a run ended, decided from facts the harness holds -- never from the candidate's output.

Facts, in order of precedence: the harness's wall-time timer, its workspace byte count, the
size of the run's log file, the memory cgroup's OOM-kill counter, the accounted CPU time against
the limit, the pids cgroup's limit counter (for a run that failed), then the wait status when it
really is a signal.
Through bwrap or unshare, a child killed by signal N is reported as exit status 128 + N, which a
program can also return on its own: such a status is recorded as an exit code, not a kill.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass

from rubicon.types import KillReason


@dataclass(frozen=True)
class EndFacts:
    """What the harness knows when a run has ended."""

    wait_status: int  # os.wait4's status of the process the harness started
    timed_out: bool = False  # the watchdog's wall-time timer fired
    time_limit: float = 0.0
    disk_excess: str = ""  # the harness's count of the workspace passed its limit (text)
    output_excess: str = ""  # the run's log file passed the output limit (text)
    oom_kills: int = 0  # the run's memory cgroup: processes the kernel killed at its limit
    memory_limit_mb: int = 0  # that cgroup's limit
    cpu_seconds: float = 0.0
    cpu_limit: float = 0.0
    pids_limit_hits: int = 0  # the run's pids cgroup: forks refused at its limit
    max_processes: int = 0
    max_file_mb: int = 0


def exit_code(status: int) -> int:
    """The status as subprocess reports it: N for exit(N), -N for signal N."""
    return os.waitstatus_to_exitcode(status)


def decide_kill(end: EndFacts) -> tuple[KillReason, str]:
    """The limit that ended the run and a human text for it; (NONE, "") when none did."""
    if end.timed_out:
        return KillReason.WALL_TIME, f"wall-time limit {end.time_limit:g}s"
    if end.disk_excess:
        return KillReason.DISK, end.disk_excess
    if end.output_excess:
        return KillReason.OUTPUT, end.output_excess
    if end.oom_kills:
        return KillReason.MEMORY, (f"memory limit {end.memory_limit_mb} MiB for the whole run "
                                   f"(processes, tmpfs and memfds together)")
    if end.cpu_limit and end.cpu_seconds >= end.cpu_limit:
        return KillReason.CPU_TIME, f"CPU-time limit {end.cpu_limit:g}s"
    failed = not os.WIFEXITED(end.wait_status) or os.WEXITSTATUS(end.wait_status) != 0
    if failed and end.pids_limit_hits:
        return KillReason.PROCESSES, (f"process limit {end.max_processes} reached "
                                      f"({end.pids_limit_hits} forks refused)")
    if os.WIFSIGNALED(end.wait_status):
        sig = os.WTERMSIG(end.wait_status)
        if sig == signal.SIGXCPU:
            return KillReason.CPU_TIME, f"CPU-time limit {end.cpu_limit:g}s (SIGXCPU)"
        if sig == signal.SIGXFSZ:
            return KillReason.FILE_SIZE, f"file-size limit {end.max_file_mb} MiB (SIGXFSZ)"
        return KillReason.SIGNAL, f"killed by signal {sig} ({_signal_name(sig)})"
    return KillReason.NONE, ""


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"
