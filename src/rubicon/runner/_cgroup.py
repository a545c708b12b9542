"""Optional cgroup-v1/v2 `pids` group per run: caps process count (fork bombs) and lets the
harness find and kill every process a run left behind. Absent (None) where not writable."""

from __future__ import annotations

import contextlib
import os
import signal
import uuid
from pathlib import Path

_ROOTS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup"))


class PidsGroup:
    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, max_pids: int) -> PidsGroup | None:
        for root in _ROOTS:
            if not (root / "cgroup.procs").exists():
                continue
            path = root / f"rubicon-{uuid.uuid4().hex[:12]}"
            try:
                path.mkdir()
            except OSError:
                continue
            try:
                (path / "pids.max").write_text(str(max_pids))
            except OSError:
                path.rmdir()
                continue
            return cls(path)
        return None

    def add_self(self) -> None:
        """Called in the child before exec: the child and all descendants join the group."""
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

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
                import time

                time.sleep(0.01)
