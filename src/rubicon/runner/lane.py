"""The timing lane: timed runs never share cores (DESIGN.md "Measurement protocol").

A `TimingLane` hands out disjoint core sets to timed runs. Each core of the lane's pool is one
lock file; a timed run holds `flock` locks on the cores it was granted until it ends. `flock`
locks belong to an open file description, so they exclude each other between threads of one
process (local workers) and between processes on one node (Ray tasks) alike, and the kernel drops
them when a process dies (kill -9 never leaves a core locked).

`split_cores` chooses the pool: when the machine has more cores than one timed run needs, the
first core is kept for untimed work (proposing, evaluating, the campaign itself) and the rest are
the timed pool; otherwise every core is timed and untimed work is left unpinned.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

POLL_SECONDS = 0.02


def default_lock_dir() -> Path:
    """Node-wide lock directory shared by every rubicon process of this user on this machine."""
    env = os.environ.get("RUBICON_LOCK_DIR")
    if env:
        return Path(env)
    return Path(tempfile.gettempdir()) / f"rubicon-cores-{os.getuid()}"


def split_cores(threads: int, cores: list[int] | None = None) -> tuple[list[int], list[int]]:
    """(timed pool, untimed cores) for timed runs of `threads` threads on `cores` (default:
    the cores this process may use)."""
    avail = sorted(cores if cores is not None else os.sched_getaffinity(0))
    threads = max(1, threads)
    if len(avail) > threads:
        return avail[1:], avail[:1]
    return avail, []


class TimingLane:
    """Grants disjoint core sets to timed runs; blocks while not enough cores are free.

    Args:
        cores: the timed pool.
        lock_dir: where the per-core lock files live. Lanes that share a directory (and a core
            numbering, i.e. one machine) never grant the same core twice at once.
    """

    def __init__(self, cores: list[int], lock_dir: Path | None = None) -> None:
        if not cores:
            raise ValueError("a timing lane needs at least one core")
        self.cores = sorted(cores)
        self.lock_dir = lock_dir or default_lock_dir()
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        self._local = threading.Lock()  # one acquisition attempt at a time in this process
        self.waited_seconds = 0.0  # total time timed runs queued for cores (for benchmarks)
        self.granted = 0

    def _try(self, n: int) -> tuple[list[int], list[int]] | None:
        """Lock `n` free cores without blocking: (cores, fds) or None."""
        got: list[int] = []
        fds: list[int] = []
        for core in self.cores:
            fd = os.open(self.lock_dir / f"core{core}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            got.append(core)
            fds.append(fd)
            if len(got) == n:
                return got, fds
        for fd in fds:
            os.close(fd)  # closing the last descriptor releases its lock
        return None

    @contextlib.contextmanager
    def timed(self, threads: int) -> Iterator[list[int]]:
        """Hold `threads` cores (fewer if the pool is smaller) for one timed run."""
        n = max(1, min(threads, len(self.cores)))
        t0 = time.monotonic()
        while True:
            with self._local:
                grant = self._try(n)
            if grant is not None:
                break
            time.sleep(POLL_SECONDS)
        self.waited_seconds += time.monotonic() - t0
        self.granted += 1
        cores, fds = grant
        try:
            yield cores
        finally:
            for fd in fds:
                os.close(fd)


def pin_current_thread(cores: list[int]) -> None:
    """Pin the calling thread (only it: Linux affinity is per thread) to `cores`, if any."""
    if cores:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, cores)
