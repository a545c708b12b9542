"""Optional cgroup-v1/v2 groups per run, each absent (None) where not writable:

- `pids`: caps process count (fork bombs) and lets the harness find and kill every process a run
  left behind.

A run joins its groups through the launcher (rubicon.runner._launch), which writes its own pid
into each group's `cgroup.procs` before it execs the sandbox.
- `memory`: caps what the whole run holds in RAM -- every process, its tmpfs pages, memfds, pipe
  buffers -- which RLIMIT_AS (per process, address space only) does not see. Red-team: a run
  held 768 MiB in memfd_create files under a 256 MiB RLIMIT_AS before this group existed.
- `cpuset`: the run's cores, enforced by the kernel. The launcher's sched_setaffinity alone is
  a hint the run can undo (red-team: sched_setaffinity inside the sandbox widened a run pinned
  to one core to every core); inside a cpuset, affinity can only narrow.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import time
import uuid
from pathlib import Path

_ROOTS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup"))
_MEMORY_ROOTS = (Path("/sys/fs/cgroup/memory"), Path("/sys/fs/cgroup/unified"),
                 Path("/sys/fs/cgroup"))
_CPUSET_ROOTS = (Path("/sys/fs/cgroup/cpuset"), Path("/sys/fs/cgroup/unified"),
                 Path("/sys/fs/cgroup"))


def _make(roots: tuple[Path, ...], knobs: dict[str, str], controller: str,
          first: dict[str, str] | None = None) -> Path | None:
    """A new child group under the first root where it can be made and limited: the first of
    `knobs` that exists is written (after each of `first` that exists, in order)."""
    for root in roots:
        if not (root / "cgroup.procs").exists():
            continue
        if (root / "cgroup.controllers").exists():  # v2: the parent must delegate the controller
            try:
                if controller not in (root / "cgroup.subtree_control").read_text().split():
                    continue
            except OSError:
                continue
        path = root / f"rubicon-{uuid.uuid4().hex[:12]}"
        try:
            path.mkdir()
        except OSError:
            continue
        try:
            for name, value in (first or {}).items():
                if (path / name).exists():
                    (path / name).write_text(value)
            for name, value in knobs.items():
                if (path / name).exists():
                    (path / name).write_text(value)
                    break
            else:
                raise OSError(f"none of {sorted(knobs)} in {path}")
        except OSError:
            path.rmdir()
            continue
        return path
    return None


class _Group:
    """One per-run cgroup: its processes, killing them, removing it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def pids(self) -> list[int]:
        try:
            return [int(x) for x in (self.path / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def kill_all(self) -> int:
        """SIGKILL every process still in the group; returns how many there were."""
        n = 0
        for _ in range(50):
            pids = self.pids()
            if not pids:
                break
            n = max(n, len(pids))
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        return n

    def remove(self) -> None:
        self.kill_all()
        for _ in range(100):
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.01)


class PidsGroup(_Group):
    @classmethod
    def create(cls, max_pids: int) -> PidsGroup | None:
        # v1 pids hierarchy or a v2 group; "pids.max" exists in both
        path = _make(_ROOTS, {"pids.max": str(max_pids)}, "pids")
        return cls(path) if path is not None else None

    def limit_hits(self) -> int:
        """How many forks the kernel refused at `pids.max` (the `max` count of pids.events)."""
        try:
            text = (self.path / "pids.events").read_text()
        except OSError:
            return 0
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "max":
                return int(value)
        return 0


class MemoryGroup(_Group):
    """A `memory` group whose limit covers the whole run (see the module docstring)."""

    @classmethod
    def create(cls, limit_bytes: int) -> MemoryGroup | None:
        # v1: memory.limit_in_bytes; v2: memory.max (and no swap to escape to)
        path = _make(_MEMORY_ROOTS, {"memory.limit_in_bytes": str(limit_bytes),
                                     "memory.max": str(limit_bytes)}, "memory")
        if path is None:
            return None
        with contextlib.suppress(OSError):
            (path / "memory.swap.max").write_text("0")
        return cls(path)

    def oom_kills(self) -> int:
        """How many processes the kernel killed for passing the limit."""
        for name in ("memory.events", "memory.oom_control"):  # v2, v1
            try:
                text = (self.path / name).read_text()
            except OSError:
                continue
            for line in text.splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        return 0  # an old kernel without the count: the SIGKILL is still reported


class CpusetGroup(_Group):
    """A `cpuset` group holding the run on its granted cores (see the module docstring)."""

    @classmethod
    def create(cls, cores: list[int]) -> CpusetGroup | None:
        if not cores:
            return None
        # v1 starts a group with no cores and no memory nodes: both must be set, nodes first
        # (the parent's); v2 inherits the nodes
        mems = ""
        for root in _CPUSET_ROOTS:
            with contextlib.suppress(OSError):
                mems = (root / "cpuset.mems").read_text().strip()
                if not mems:
                    mems = (root / "cpuset.effective_mems").read_text().strip()
            if mems:
                break
        path = _make(_CPUSET_ROOTS, {"cpuset.cpus": ",".join(str(c) for c in cores)}, "cpuset",
                     first={"cpuset.mems": mems} if mems else None)
        return cls(path) if path is not None else None

    def cpus(self) -> str:
        try:
            return (self.path / "cpuset.cpus").read_text().strip()
        except OSError:
            return ""


@functools.cache
def writable_controllers() -> frozenset[str]:
    """The per-run groups this process can create here: a subset of {"pids", "memory",
    "cpuset"} (probed once by creating and removing a group of each)."""
    found = set()
    core = sorted(os.sched_getaffinity(0))[:1]
    for name, group in (("pids", PidsGroup.create(16)), ("memory", MemoryGroup.create(64 << 20)),
                        ("cpuset", CpusetGroup.create(core))):
        if group is not None:
            found.add(name)
            group.remove()
    return frozenset(found)
