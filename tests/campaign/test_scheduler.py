"""The run loop (rubicon.campaign.scheduler) on a fake campaign: no store, no sandbox.

Every wait is bounded (events with timeouts), so a scheduling bug fails the test instead of
hanging it."""

from __future__ import annotations

import _thread
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from rubicon.campaign.researchers import Line
from rubicon.campaign.scheduler import Limits, Scheduler
from rubicon.types import Experiment, State

WAIT = 10.0  # seconds a test waits for another thread before it fails


@dataclass
class Named:
    """A stand-in researcher: the scheduler only reads its name."""

    name: str

    def propose(self, ctx: Any) -> None:
        return None


def _exp(eid: int, state: State = State.PENDING, line: int = 0) -> Experiment:
    return Experiment(id=eid, campaign_id="c", seq=eid, parent_id=None, researcher="r",
                      state=state, line=line)


@dataclass
class FakeWork:
    """Each line proposes from its script (None: nothing to propose); `hook(line, n)` runs
    inside the n-th ask of a line (0-based) before it answers."""

    scripts: dict[int, list[bool]]
    hook: Callable[[int, int], None] = lambda line, n: None
    pending: list[Experiment] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    stopped: bool = False
    asks: dict[int, int] = field(default_factory=dict)
    _n: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    running: int = 0
    most_running: int = 0

    def queued(self) -> list[Experiment]:
        return list(self.pending)

    def _enter(self) -> None:
        with self._lock:
            self.running += 1
            self.most_running = max(self.most_running, self.running)

    def _leave(self) -> None:
        with self._lock:
            self.running -= 1

    def measure(self, exp: Experiment) -> Experiment:
        self._enter()
        self._leave()
        with self._lock:
            self.log.append(f"measure {exp.id}")
        return exp.model_copy(update={"state": State.OK})

    def ask(self, line: int) -> Experiment | None:
        self._enter()
        try:
            with self._lock:
                n = self.asks.get(line, 0)
                self.asks[line] = n + 1
            self.hook(line, n)
            script = self.scripts[line]
            if n >= len(script) or not script[n]:
                with self._lock:
                    self.log.append(f"ask {line}: none")
                return None
            with self._lock:
                self._n += 1
                self.log.append(f"ask {line}: #{self._n}")
                return _exp(self._n, line=line)
        finally:
            self._leave()

    def tell(self, exp_id: int) -> Experiment:
        with self._lock:
            self.log.append(f"tell {exp_id}")
        return _exp(exp_id, State.OK)

    def recorded(self) -> int:
        with self._lock:
            return self._n

    def emit(self, kind: str, data: dict[str, Any]) -> None:
        with self._lock:
            self.events.append((kind, data))

    def stop_trials(self) -> None:
        self.stopped = True


def _lines(n: int) -> list[Line]:
    return [Line(i, Named(f"r{i}")) for i in range(n)]  # type: ignore[arg-type]


def test_one_worker_measures_pending_first_then_asks_lines_in_turn_until_exhausted() -> None:
    w = FakeWork({0: [True, True], 1: [True]}, pending=[_exp(100), _exp(101)])
    lines = _lines(2)
    Scheduler(w, lines, Limits(workers=1)).run()
    assert w.log == ["measure 100", "measure 101", "ask 0: #1", "tell 1", "ask 1: #2", "tell 2",
                     "ask 0: #3", "tell 3", "ask 1: none", "ask 0: none"]
    assert all(ln.exhausted for ln in lines)
    kinds = [k for k, _ in w.events]
    assert kinds.count("exhausted") == 1 and kinds[-1] == "exhausted"
    assert [d["line"] for k, d in w.events if k == "asking"] == [0, 1, 0, 1, 0]


def test_max_experiments_counts_proposals_being_made() -> None:
    gate = threading.Barrier(3, timeout=WAIT)  # three asks in flight at once, then all answer
    w = FakeWork({0: [True] * 50}, hook=lambda line, n: gate.wait() if n < 3 else None)
    Scheduler(w, _lines(1), Limits(workers=4, max_experiments=3)).run()
    assert w.recorded() == 3 and w.asks[0] == 3  # the fourth worker never asked
    assert w.most_running == 3


def test_a_time_budget_that_is_spent_starts_nothing() -> None:
    w = FakeWork({0: [True]}, pending=[_exp(7)])
    Scheduler(w, _lines(1), Limits(budget_seconds=5), start=time.monotonic() - 10).run()
    assert w.log == ["measure 7"]  # pending experiments of the stopped run are still measured


def test_workers_run_jobs_at_the_same_time() -> None:
    gate = threading.Barrier(3, timeout=WAIT)
    w = FakeWork({0: [True] * 3, 1: [True] * 3, 2: [True] * 3},
                 hook=lambda line, n: gate.wait() if n == 0 else None)
    Scheduler(w, _lines(3), Limits(workers=3)).run()
    assert w.most_running == 3 and w.recorded() == 9


def test_a_line_with_nothing_to_propose_while_others_run_is_asked_again() -> None:
    """Line 0 has nothing while line 1's proposal is still being made; line 1's result may
    give it ideas, so it is asked again (and then proposes) instead of being exhausted."""
    line1_asking = threading.Event()
    line0_answered = threading.Event()

    class Work(FakeWork):
        def ask(self, line: int) -> Experiment | None:
            if line == 0 and self.asks.get(0, 0) == 0:
                assert line1_asking.wait(WAIT)
                out = super().ask(line)
                line0_answered.set()
                return out
            if line == 1:
                line1_asking.set()
                assert line0_answered.wait(WAIT)  # answers only after line 0 said "nothing"
            return super().ask(line)

    w = Work({0: [False, True], 1: [True]})
    lines = _lines(2)
    Scheduler(w, lines, Limits(workers=2)).run()
    assert w.log[0] == "ask 0: none" and "ask 0: #2" in w.log
    assert w.asks[0] >= 3 and all(ln.exhausted for ln in lines)  # none, a proposal, none


def test_a_job_error_reaches_the_caller_after_the_jobs_in_flight_finish() -> None:
    release = threading.Event()
    finished: list[int] = []

    def hook(line: int, n: int) -> None:
        if line == 0:
            assert release.wait(WAIT)
            finished.append(line)
        else:
            release.set()
            raise RuntimeError("researcher broke")

    w = FakeWork({0: [True], 1: [True]}, hook=hook)
    with pytest.raises(RuntimeError, match="researcher broke"):
        Scheduler(w, _lines(2), Limits(workers=2)).run()
    assert finished == [0] and "tell 1" in w.log  # line 0's job ran to its end
    assert w.asks == {0: 1, 1: 1}  # nothing new was started after the error
    assert not w.stopped  # an error is no interruption: trials in flight were not stopped


def test_one_worker_raises_at_once() -> None:
    def hook(line: int, n: int) -> None:
        raise ValueError("bad proposal")

    w = FakeWork({0: [True, True]}, hook=hook)
    with pytest.raises(ValueError, match="bad proposal"):
        Scheduler(w, _lines(1), Limits(workers=1)).run()
    assert w.asks == {0: 1}


def test_an_interruption_on_the_one_worker_stops_new_trials_and_propagates() -> None:
    def hook(line: int, n: int) -> None:
        raise KeyboardInterrupt

    w = FakeWork({0: [True, True]}, hook=hook)
    with pytest.raises(KeyboardInterrupt):
        Scheduler(w, _lines(1), Limits(workers=1)).run()
    assert w.stopped and w.asks == {0: 1}


@pytest.mark.usefixtures("ctrl_c_delivered")
def test_an_interrupted_dispatcher_returns_without_waiting_for_jobs_in_flight() -> None:
    release = threading.Event()
    still_running = threading.Event()

    def hook(line: int, n: int) -> None:
        _thread.interrupt_main()  # Ctrl-C while this job runs
        release.wait(WAIT)
        still_running.set()

    w = FakeWork({0: [True]}, hook=hook)
    try:
        with pytest.raises(KeyboardInterrupt):
            Scheduler(w, _lines(1), Limits(workers=2)).run()
        assert w.stopped and not still_running.is_set()  # the job had not ended yet
    finally:
        release.set()
    assert still_running.wait(WAIT)


def test_pool_threads_run_the_initializer() -> None:
    pinned: set[str] = set()
    w = FakeWork({0: [True, True]})
    asked_on: list[str] = []
    orig = w.ask

    def ask(line: int) -> Experiment | None:
        asked_on.append(threading.current_thread().name)
        return orig(line)

    w.ask = ask  # type: ignore[method-assign]
    Scheduler(w, _lines(1), Limits(workers=2),
              initializer=lambda: pinned.add(threading.current_thread().name)).run()
    assert asked_on and set(asked_on) <= pinned
    assert all(name.startswith("rubicon-worker") for name in asked_on)
