"""The run loop of a campaign on concurrent.futures: which job runs next, on how many workers.

A job is either measuring a pending experiment (left by an interrupted run) or asking a line's
researcher for a proposal and measuring it. The calling thread dispatches: it keeps up to
`workers` jobs in a ThreadPoolExecutor (with one worker, jobs run on the calling thread, so
Ctrl-C interrupts the running trial as it always did) and stops when

- the time budget or `max_experiments` is spent (proposals being made count against it),
- every line is exhausted: its researcher proposed nothing while nothing else was in flight
  (a line that proposes nothing while other jobs run is asked again when one of them recorded
  something: new results may give it new ideas),
- or a job raised: the jobs in flight finish, then the first error is raised to the caller.

Interrupted (KeyboardInterrupt, ...), it tells the work to start no new trial and returns at
once; the jobs in flight end after their current trial, their experiments still pending.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shlex
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from rubicon.campaign.researchers import Line
from rubicon.errors import RubiconError
from rubicon.settings import DEFAULT_DIR
from rubicon.types import Experiment, State

POLL_SECONDS = 0.5  # the dispatcher looks at the budget at least this often


class Work(Protocol):
    """What the scheduler drives (a campaign)."""

    def queued(self) -> list[Experiment]:
        """Pending experiments to measure before asking for new ones."""
        ...

    def measure(self, exp: Experiment) -> Experiment: ...

    def ask(self, line: int) -> Experiment | None:
        """Record line `line`'s next proposal (None: it has nothing to propose)."""
        ...

    def tell(self, exp_id: int) -> Experiment: ...

    def recorded(self) -> int:
        """Experiments recorded so far (the baseline excluded)."""
        ...

    def emit(self, kind: str, data: dict[str, Any]) -> None: ...

    def stop_trials(self) -> None:
        """Start no new trial: the run was interrupted."""
        ...


@dataclass(frozen=True)
class Limits:
    workers: int = 1
    budget_seconds: float | None = None
    max_experiments: int | None = None


class _Inline(Executor):
    """Runs each job at once on the calling thread (one worker)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        f: Future[Any] = Future()
        try:
            f.set_result(fn(*args, **kwargs))
        except Exception as e:  # noqa: BLE001 - handed over like a pool's future; BaseException flies
            f.set_exception(e)
        return f


@dataclass
class _Job:
    line: Line | None  # the line to ask; None: measure `exp`
    results_before: int  # the scheduler's count of recorded results when the job started
    exp: Experiment | None = None


class Scheduler:
    """One `run()` of a campaign's jobs (see the module doc)."""

    def __init__(self, work: Work, lines: Sequence[Line], limits: Limits,
                 start: float | None = None,
                 initializer: Callable[[], None] | None = None) -> None:
        self._work = work
        self._lines = list(lines)
        self._limits = limits
        self._start = time.monotonic() if start is None else start
        self._initializer = initializer
        self._queue: deque[Experiment] = deque()
        self._asking = 0  # proposals being made now (they count against max_experiments)
        self._count_lock = threading.Lock()  # guards `_asking`, changed by the jobs
        self._idle: set[int] = set()  # lines that proposed nothing while other jobs ran
        self._results = 0  # jobs that recorded something
        self._rr = 0

    def run(self) -> None:
        """Run jobs until a stop condition (module doc); raises the first error of a job."""
        self._queue = deque(self._work.queued())
        for ln in self._lines:
            ln.exhausted = False
        workers = max(1, self._limits.workers)
        pool: Executor = (_Inline() if workers == 1 else ThreadPoolExecutor(
            workers, thread_name_prefix="rubicon-worker", initializer=self._initializer))
        running: dict[Future[Any], _Job] = {}
        error: BaseException | None = None
        try:
            while True:
                while error is None and len(running) < workers:
                    job = self._next_job(bool(running))
                    if job is None:
                        break
                    running[pool.submit(self._do, job)] = job
                if not running:
                    break
                done, _ = wait(running, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
                for f in done:
                    job = running.pop(f)
                    exc = f.exception()
                    if exc is not None:
                        error = error or exc
                    else:
                        self._finished(job, f.result(), others=bool(running))
        except BaseException:
            self._work.stop_trials()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        if error is not None:
            raise error

    def _next_job(self, others: bool) -> _Job | None:
        """A pending experiment to measure, or the line to ask next, or None: nothing to
        start now (`others`: jobs are running)."""
        if self._queue:
            return _Job(None, self._results, exp=self._queue.popleft())
        if self._budget_spent():
            return None
        live = [ln for ln in self._lines if not ln.exhausted]
        ready = [ln for ln in live if ln.index not in self._idle]
        if not ready and not others:  # nothing runs that could give them new ideas: ask again
            self._idle.clear()
            ready = live
        if not ready:
            return None
        ln = ready[self._rr % len(ready)]
        self._rr += 1
        with self._count_lock:
            self._asking += 1
        self._work.emit("asking", {"line": ln.index, "researcher": ln.name})
        return _Job(ln, self._results)

    def _do(self, job: _Job) -> Experiment | None:
        if job.exp is not None:
            return self._work.measure(job.exp)
        assert job.line is not None
        try:
            exp = self._work.ask(job.line.index)
        finally:
            with self._count_lock:
                self._asking -= 1
        if exp is not None and exp.state == State.PENDING:
            return self._work.tell(exp.id)
        return exp

    def _finished(self, job: _Job, result: Experiment | None, others: bool) -> None:
        if result is not None:
            self._results += 1
            self._idle.clear()
            return
        assert job.line is not None
        if others:
            self._idle.add(job.line.index)
        elif self._results == job.results_before:
            job.line.exhausted = True
            if all(ln.exhausted for ln in self._lines):
                self._work.emit("exhausted", {})
        # else: something was recorded while it proposed: ask it again

    def _budget_spent(self) -> bool:
        lim = self._limits
        if lim.budget_seconds is not None and time.monotonic() - self._start >= lim.budget_seconds:
            return True
        if lim.max_experiments is not None:
            with self._count_lock:
                asking = self._asking
            return self._work.recorded() + asking >= lim.max_experiments
        return False


def resume_command(campaign_id: str, directory: str | os.PathLike[str]) -> str:
    """The command that continues a campaign, as it works when typed where it was started:
    with `--dir` unless the directory is the default (quoted for a shell)."""
    d = Path(directory)
    same = d.resolve() == Path(DEFAULT_DIR).resolve()
    return f"rubicon run --resume {campaign_id}" + ("" if same else f" --dir {shlex.quote(str(d))}")


def lock_path(directory: Path, campaign_id: str) -> Path:
    return directory / f".run-{campaign_id}.lock"


def is_running(directory: Path, campaign_id: str) -> bool:
    """Whether a process runs campaign `campaign_id` now (holds its lock). A campaign recorded
    `running` whose lock nobody holds was stopped by a kill: it is not running."""
    try:
        fd = os.open(lock_path(directory, campaign_id), os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def status_now(directory: Path, campaign_id: str, recorded: str) -> str:
    """A campaign's status as it is now: `recorded` (the store's), except that a campaign
    recorded "running" whose lock nobody holds was killed (kill -9, power loss): "stopped"."""
    if recorded == "running" and not is_running(directory, campaign_id):
        return "stopped"
    return recorded


@contextlib.contextmanager
def exclusive_run(directory: Path, campaign_id: str) -> Iterator[None]:
    """One `run()` per campaign at a time, across processes (a flock the kernel drops if the
    process dies). The lock file is removed when the run ends (a kill -9 leaves it, unlocked:
    harmless, the next run takes it)."""
    path = lock_path(directory, campaign_id)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            holder = path.read_text().strip() if path.exists() else ""
            raise RubiconError(f"campaign {campaign_id} is already running (pid {holder or '?'}); "
                               "wait for it or stop it before resuming") from None
        try:  # the file we locked may have been removed by the run that held it: lock anew
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        with contextlib.suppress(OSError):
            path.unlink()  # while still holding the lock: no other run holds this file
        os.close(fd)
