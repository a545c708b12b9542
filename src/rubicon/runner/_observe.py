"""What the harness observes of a running sandbox, from outside it: busy CPU time per core,
the workspace's size (deleted files still held open included), the run's processes and their
CPU time, bounded reads of the output, and the watchdog that enforces the wall-time, disk and
output limits."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rubicon.runner._cgroup import PidsGroup

TAIL_BYTES = 4000
HEAD_BYTES = 64 * 1024  # how much of each end of an evaluator's output is parsed for metrics
MAX_FILES = 100_000  # entries in the workspace; more is treated as filling the disk
PROC_STAT = Path("/proc/stat")
_CLK = os.sysconf("SC_CLK_TCK")
_CTRL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def disk_usage(root: Path, limit_bytes: int) -> tuple[int, int]:
    """Bytes (allocated or apparent, whichever is larger) and entries below `root`, without
    following symlinks. Stops counting early once `limit_bytes` or MAX_FILES is passed."""
    total = entries = 0
    stack = [str(root)]
    while stack:
        try:
            it = os.scandir(stack.pop())
        except OSError:
            continue
        with it:
            for e in it:
                entries += 1
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                total += max(st.st_size, st.st_blocks * 512)
                if e.is_dir(follow_symlinks=False):
                    stack.append(e.path)
                if total > limit_bytes or entries > MAX_FILES:
                    return total, entries
    return total, entries


def _busy_of(parts: list[str]) -> float:
    vals = [int(x) for x in parts]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)  # idle + iowait
    guest = sum(vals[8:10]) if len(vals) > 9 else 0  # already counted in user/nice
    return (sum(vals) - idle - guest) / _CLK


def busy_seconds(cores: list[int] | None = None, stat: Path = PROC_STAT) -> float:
    """Busy CPU seconds so far from `stat` (/proc/stat format): machine-wide (the `cpu` line),
    or summed over the per-CPU lines `cpuN` of `cores` only."""
    try:
        with open(stat) as f:
            if not cores:
                return _busy_of(f.readline().split()[1:])
            want = {f"cpu{c}" for c in cores}
            return sum(_busy_of(line.split()[1:]) for line in f
                       if line.startswith("cpu") and line.split(maxsplit=1)[0] in want)
    except (OSError, ValueError, IndexError):
        return 0.0


def read_head_tail(path: Path, head: int = HEAD_BYTES, tail: int = HEAD_BYTES) -> str:
    """At most `head` bytes from the start and `tail` from the end of a file, whole lines only
    (the harness never reads a whole output: 100 MB of evaluator output once took it to
    2.5 GB of memory). Garbage bytes are replaced."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size <= head + tail:
                data = f.read(head + tail)  # bounded even if the file grew meanwhile
            else:
                first = f.read(head)
                first = first[:first.rfind(b"\n") + 1]
                f.seek(size - tail)
                last = f.read(tail)
                data = first + last[last.find(b"\n") + 1:]
    except OSError:
        return ""
    return data.decode("utf-8", errors="replace")


def read_tail(path: Path, nbytes: int = TAIL_BYTES) -> str:
    """Last bytes of a log as printable text (garbage bytes replaced, control chars dropped)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - nbytes))
            data = f.read()
    except OSError:
        return ""
    return _CTRL.sub("", data.decode("utf-8", errors="replace"))


def run_pids(pid: int, group: PidsGroup | None) -> list[int]:
    """The run's live processes: its cgroup's, else `pid` and every descendant of it (a pid
    namespace's orphans are re-parented to its init, itself a descendant of `pid`)."""
    if group is not None:
        return group.pids()
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def held_deleted_bytes(pids: list[int], roots: list[Path]) -> int:
    """Bytes of files under `roots` that have no name left (deleted, or made with O_TMPFILE)
    but are still held by these processes through an open descriptor or a memory map. They use
    disk space that no directory walk sees (red-team: 5 GB fallocated, unlinked and kept open
    against a 1 GB workspace limit)."""
    prefixes = tuple(str(r).rstrip("/") + "/" for r in roots)
    seen: set[tuple[int, int]] = set()
    total = 0

    def count(link: str, target: str, fallback: int = 0) -> None:
        nonlocal total
        if not (target.endswith(" (deleted)") and target.startswith(prefixes)):
            return
        try:
            st = os.stat(link)  # the magic link leads to the file itself, deleted or not
        except OSError:
            total += fallback  # a map the harness may not open: at least its mapped length
            return
        if stat.S_ISREG(st.st_mode) and st.st_nlink == 0 and (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            total += max(st.st_size, st.st_blocks * 512)

    for pid in pids:
        with contextlib.suppress(OSError), os.scandir(f"/proc/{pid}/fd") as fds:
            for e in fds:
                with contextlib.suppress(OSError):
                    count(e.path, os.readlink(e.path))
        with contextlib.suppress(OSError), open(f"/proc/{pid}/maps") as maps:
            for line in maps:
                if not line.endswith(" (deleted)\n"):
                    continue
                fields = line.split(maxsplit=5)
                if len(fields) == 6:
                    lo, _, hi = fields[0].partition("-")
                    count(f"/proc/{pid}/map_files/{fields[0]}", fields[5].rstrip("\n"),
                          int(hi, 16) - int(lo, 16))
    return total


def cpu_seconds_of(pids: list[int]) -> float:
    """CPU seconds used so far by these processes and their reaped children (/proc/PID/stat)."""
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return ticks / _CLK


def kill_tree(pid: int, group: PidsGroup | None) -> int:
    """Kill the run's process group and everything in its cgroup; return survivors found."""
    n = 0
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    if group is not None:
        n = group.kill_all()
    return n


@dataclass
class DiskLimit:
    """The run's byte and entry budget over its writable directories, counted by the harness:
    what a walk finds plus what the run's processes hold in deleted files (`pids` lists them)."""

    roots: list[Path]
    limit_mb: int
    pids: Callable[[], list[int]] | None = None

    def excess(self) -> str:
        """A description of the overrun, or "" while within the limit."""
        limit = self.limit_mb * 1024 * 1024
        used = n = 0
        for root in self.roots:
            u, k = disk_usage(root, limit - used)
            used, n = used + u, n + k
        held = 0
        if used <= limit and n <= MAX_FILES and self.pids is not None:
            held = held_deleted_bytes(self.pids(), self.roots)
        if used + held > limit or n > MAX_FILES:
            also = f", {held / 2**20:.0f} MiB of it deleted but held open" if held else ""
            where = "the workspace" if len(self.roots) == 1 else "its writable directories"
            return (f"disk limit {self.limit_mb} MiB in {where} "
                    f"(found {(used + held) / 2**20:.0f} MiB in {n} entries{also})")
        return ""


@dataclass
class OutputLimit:
    """The size of the run's log file (stdout and stderr), which lives on the host's disk."""

    path: Path
    limit_mb: int

    def excess(self) -> str:
        try:
            st = os.stat(self.path)
        except OSError:
            return ""
        size = max(st.st_size, st.st_blocks * 512)
        if size > self.limit_mb * 1024 * 1024:
            return f"output limit {self.limit_mb} MiB (the run wrote {size / 2**20:.0f} MiB)"
        return ""


class Watchdog:
    """A harness thread that ends the run at its wall-time limit, or as soon as its writable
    directories pass their disk limit or its log passes the output limit (polled every `poll`
    seconds). What it did is read after `stop()`: `timed_out`, `disk_excess` and
    `output_excess` (texts) and `cpu_at_kill` (CPU seconds of the processes it killed, read
    before the kill: they are never reaped by the harness)."""

    def __init__(self, time_limit: float, disk: DiskLimit | None, poll: float,
                 kill: Callable[[], float], output: OutputLimit | None = None) -> None:
        self.time_limit = time_limit
        self.disk = disk
        self.output = output
        self.poll = poll
        self._kill = kill
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self.timed_out = False
        self.disk_excess = ""
        self.output_excess = ""
        self.cpu_at_kill = 0.0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self._thread.join()

    def _watch(self) -> None:
        deadline = time.perf_counter() + self.time_limit
        polled = self.disk is not None or self.output is not None
        while True:
            step = self.poll if polled else self.time_limit  # one wait when nothing is polled
            left = deadline - time.perf_counter()
            if self._done.wait(max(0.0, min(step, left))):
                return
            if self.output is not None and (why := self.output.excess()):
                self.output_excess = why
                self.cpu_at_kill = self._kill()
                return
            if self.disk is not None and (why := self.disk.excess()):
                self.disk_excess = why
                self.cpu_at_kill = self._kill()
                return
            if time.perf_counter() >= deadline:
                self.timed_out = True
                self.cpu_at_kill = self._kill()
                return
