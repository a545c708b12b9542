"""A bench: researchers x tasks x attempts, each attempt a resumable campaign in its own
directory under the bench directory (see `_manifest` for the layout)."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rubicon.bench._attempt import Emit, attempt_dir, close_dead_segment, run_attempt, save
from rubicon.bench._manifest import (
    ATTEMPT_FILE,
    PLAN_FILE,
    Attempt,
    BenchError,
    BenchPlan,
    is_bench_dir,
    read_attempt,
    read_plan,
    slug,
    write_model,
)
from rubicon.bench._plan import bench_task, check_researchers, resolve_tasks

MAX_RESTARTS = 3  # an attempt whose bench process died this often is recorded as failed
RESUME_OVERRIDES = ("workers", "executor", "address")


class Bench:
    """A bench directory: its plan and its attempts. Create with `Bench.create`, reopen with
    `Bench.open`; `run()` runs every attempt that is not done, sequentially."""

    def __init__(self, directory: Path, plan: BenchPlan) -> None:
        self.dir = directory
        self.plan = plan

    # construction ------------------------------------------------------------------------

    @classmethod
    def create(cls, directory: str | Path, researchers: list[str], tasks: list[str] | None = None,
               suite: str | None = None, attempts: int = 1, cfg: Any = None,
               hints: bool = False, neutral_dirs: bool = False) -> Bench:
        """Plan a bench in `directory` (new, or empty): every researcher (`NAME[:KEY=VALUE,...]`)
        on every task (names or task directories, and the tasks of `suite`), `attempts` times,
        each attempt a campaign configured by `cfg` (a `CampaignConfig`; its `seed` plus the
        attempt's index seeds the attempt) with hints on or off. `neutral_dirs`: attempt
        directories named by a secret hash, not by researcher and task (a run's working
        directory lies inside its attempt's; lineages use this for their honeypot benches).

        Raises:
            BenchError: an unknown researcher or task, a task without [score], a directory that
                already holds a bench or other files.
        """
        from rubicon._version import __version__
        from rubicon.config import CampaignConfig

        d = Path(directory)
        if is_bench_dir(d):
            raise BenchError(f"{d} already holds a bench; continue it with --resume, or choose "
                             "a new directory")
        if d.exists() and any(d.iterdir()):
            raise BenchError(f"{d} is not empty and holds no bench; choose a new directory")
        if attempts < 1:
            raise BenchError(f"--attempts must be at least 1, found {attempts}")
        specs = check_researchers(researchers)
        dirs = [slug(r.label) for r in specs]
        if len(set(dirs)) < len(dirs):
            raise BenchError("two researcher labels give the same directory name: "
                             + ", ".join(r.label for r in specs))
        found = resolve_tasks(list(tasks or []), suite)
        cfg = cfg or CampaignConfig()
        if cfg.researchers:
            raise BenchError("a bench attempt runs one researcher; give several with --researcher")
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        plan = BenchPlan(
            rubicon_version=__version__, id=f"bench-{stamp}-{secrets.token_hex(2)}",
            created_at=time.time(), researchers=specs,
            tasks=[bench_task(t, s) for t, s in found], attempts=attempts, hints=hints,
            config={**cfg.to_dict(), "hints": hints}, suite=suite,
            dir_key=secrets.token_hex(16) if neutral_dirs else "")
        d.mkdir(parents=True, exist_ok=True)
        bench = cls(d, plan)
        for att in bench._planned():
            save(d, att)
        write_model(d / PLAN_FILE, plan)  # last: a directory with a plan has every attempt
        return bench

    @classmethod
    def open(cls, directory: str | Path) -> Bench:
        """Reopen a bench directory (checks its format version)."""
        d = Path(directory)
        return cls(d, read_plan(d))

    def _planned(self) -> list[Attempt]:
        seed = int(self.plan.config.get("seed", 0))
        return [Attempt(researcher=r.label, task=t.name, index=k, seed=seed + k,
                        dir_name=self._dir_name(r.label, t.name, k))
                for r in self.plan.researchers for t in self.plan.tasks
                for k in range(self.plan.attempts)]

    def _dir_name(self, researcher: str, task: str, index: int) -> str:
        if not self.plan.dir_key:
            return ""
        msg = json.dumps([researcher, task, index]).encode()
        return hmac.new(bytes.fromhex(self.plan.dir_key), msg, hashlib.sha256).hexdigest()[:20]

    # state -------------------------------------------------------------------------------

    def attempts(self) -> list[Attempt]:
        """Every planned attempt, in plan order, as last recorded."""
        out = []
        for att in self._planned():
            path = attempt_dir(self.dir, att) / ATTEMPT_FILE
            out.append(read_attempt(path) if path.is_file() else att)
        return out

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """One bench process per directory (a flock the kernel drops when the process dies)."""
        path = self.dir / ".bench.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = path.read_text().strip() or "?"
                raise BenchError(f"bench {self.dir} is already running (pid {holder}); wait for "
                                 "it or stop it before resuming") from None
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
            yield
        finally:
            os.close(fd)

    # running -----------------------------------------------------------------------------

    def run(self, overrides: dict[str, Any] | None = None, emit: Emit | None = None) -> list[Attempt]:
        """Run every attempt that is not finished or failed, in plan order, then write the
        derived records. An attempt left running by a bench process that died continues
        (after MAX_RESTARTS such deaths it is recorded as failed). Returns every attempt.

        Args:
            overrides: `workers`, `executor`, `address` for the attempts' campaigns.
            emit: called with (event, data) for the live display.
        """
        from rubicon.bench.records import write_records

        over = {k: v for k, v in (overrides or {}).items() if k in RESUME_OVERRIDES}
        send: Emit = emit or (lambda kind, data: None)
        with self._lock():
            send("bench-start", {"attempts": self.attempts()})
            for att in self.attempts():
                if att.done:
                    continue
                if att.status == "running":  # we hold the lock: its process is gone
                    close_dead_segment(self.dir, att)
                    if att.restarts >= MAX_RESTARTS:
                        att.status = "failed"
                        att.completed_at = time.time()
                        att.reason = (f"killed: the bench process died {att.restarts} times while "
                                      "this attempt ran")
                        save(self.dir, att)
                        send("attempt-end", {"attempt": att})
                        continue
                    save(self.dir, att)
                try:
                    run_attempt(self.dir, self.plan, att, over, send)
                finally:
                    write_records(self)
            write_records(self, inspect=True)
            return self.attempts()


__all__ = ["MAX_RESTARTS", "Bench"]
