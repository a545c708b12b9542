"""What the parts of a campaign share: its records, its lock and events, what is in flight.

`CampaignState` is the base of `Campaign`: the store and the campaign's record, the task, the
configuration, the executor that runs trials; queries over the records (baseline, incumbents,
history, speedups); the bookkeeping of experiments in flight; and the trial gate that stops
the jobs of an interrupted run from starting new trials. Measuring (measuring.py) and proposing
(core.py) work on it.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

from rubicon.campaign import provenance
from rubicon.campaign.events import Event, Events
from rubicon.config import CampaignConfig
from rubicon.errors import ProposalError, RubiconError
from rubicon.measure.judge import TrialJudge
from rubicon.measure.protocol import BudgetEnded
from rubicon.measure.stats import median
from rubicon.runner import Executor, Seeds, make_executor
from rubicon.store import Store
from rubicon.store.live import write_run_progress
from rubicon.task import Task
from rubicon.types import CampaignInfo, Decision, Experiment, KillReason, Proposal, State, Trial
from rubicon.workspace import apply_proposal, code_hash


class Stopped(RubiconError):
    """A trial was not started: the run it belongs to was interrupted. The experiment stays
    pending, and a resumed run measures it again."""


class CampaignState:
    """The shared state of a campaign (see the module doc); `Campaign` builds on it."""

    def __init__(self, store: Store, info: CampaignInfo, task: Task, cfg: CampaignConfig,
                 n_lines: int) -> None:
        self.store = store
        self.info = info
        self.task = task
        self.cfg = cfg
        self.untimed_cores: list[int] = []
        self.trials: Executor = self._make_trials()
        self.provenance = provenance.collect()
        self.recovered: dict[str, int] = {}
        # the task's own editable files: the embedded-data scan judges what a candidate adds
        self._editable_baseline = task.editable_files()
        self._events = Events()
        # guards the store connection, info and the fields below; releasing it delivers events
        self._lock = self._events.lock
        self._inflight: dict[int, str] = {}  # experiment id -> code hash, being measured now
        self._n_lines = n_lines
        self._line_inc: dict[int, int] | None = None  # line -> its incumbent (cached)
        self._deadline: float | None = None  # monotonic time when run()'s budget ends
        self._run_start: float | None = None  # monotonic start of the current run()
        self._spent_before = 0.0  # wall seconds earlier run() calls spent (recorded)
        self._run_gate = threading.local()  # .stop: the Event of the run this thread works for
        self._baseline_by: int | None = None  # the thread measuring the baseline now

    def _make_trials(self) -> Executor:
        trials = make_executor(self.task, self.store.path.parent,
                               TrialJudge.for_task(self.task), kind=self.cfg.executor,
                               address=self.cfg.address, workers=self.cfg.workers)
        self.untimed_cores = list(trials.untimed_cores)
        trials.on_progress = self._run_progress
        return trials

    def _run_progress(self, label: str, step: int, total: int, elapsed: float) -> None:
        """A timed run printed `progress: STEP/TOTAL`: a "progress" event naming the run
        (`what`: "baseline", "candidate" or "incumbent"; `experiment`: its id, None for the
        baseline) with `step`, `total` and `elapsed` seconds."""
        what = label.split(".", 1)[-1]  # _label: "p<pid>.<what>"
        role, eid = "baseline", None
        if what[:1] in ("e", "i") and what[1:].isdigit():
            role, eid = ("candidate" if what[0] == "e" else "incumbent"), int(what[1:])
        data = {"what": role, "experiment": eid, "step": step, "total": total, "elapsed": elapsed}
        write_run_progress(self.store.path.parent, self.info.id, data)  # for the dashboard
        self._emit("progress", data)

    # events ------------------------------------------------------------------------------

    @property
    def on_event(self) -> Event:
        """The callback `(kind, data)` that receives the campaign's events (events.py); it is
        never called while the campaign's lock is held, and an exception in it is logged and
        recorded in `event_errors`, never stopping the campaign."""
        return self._events.callback

    @on_event.setter
    def on_event(self, callback: Event) -> None:
        self._events.callback = callback

    @property
    def event_errors(self) -> list[str]:
        """The failures of `on_event` so far ("kind: ExceptionType: message"; the first 100)."""
        return list(self._events.errors)

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        self._events.emit(kind, data)

    # records -----------------------------------------------------------------------------

    @property
    def baseline(self) -> Experiment:
        if self.info.baseline_id is None:
            raise RubiconError("the baseline has not been measured yet")
        with self._lock:
            return self.store.experiment(self.info.baseline_id, runs=False)

    @property
    def incumbent(self) -> Experiment:
        iid = self.info.incumbent_id or self.info.baseline_id
        if iid is None:
            raise RubiconError("the baseline has not been measured yet")
        with self._lock:
            return self.store.experiment(iid, runs=False)

    def line_incumbent(self, line: int = 0) -> Experiment:
        """The incumbent of one line of work: the campaign's incumbent when there is one line;
        else the line's last kept experiment (or the baseline)."""
        if self._n_lines <= 1:
            return self.incumbent
        with self._lock:
            if self._line_inc is None:
                best: dict[int, tuple[float, int]] = {}
                for e in self.store.experiments(self.info.id):
                    if e.seq == 0 or e.decision != Decision.KEEP or e.state != State.OK:
                        continue
                    when = e.finished_at or 0.0
                    if e.line not in best or when >= best[e.line][0]:
                        best[e.line] = (when, e.id)
                self._line_inc = {k: v[1] for k, v in best.items()}
            iid = self._line_inc.get(line)
            return self.baseline if iid is None else self.store.experiment(iid, runs=False)

    def _inflight_twin(self, proposal: Proposal) -> int | None:
        """Id of an experiment in flight with the code `proposal` would produce, if any."""
        if not self._inflight or proposal.parent_id is None:
            return None
        try:
            parent = self.store.experiment(proposal.parent_id, runs=False)
            h = code_hash(apply_proposal(self.task, parent.files, proposal))
        except (ProposalError, RubiconError):
            return None
        return next((i for i, c in self._inflight.items() if c == h), None)

    def _kept(self, exp: Experiment, *, in_line: bool, globally: bool) -> None:
        """Record that `exp` is now its line's incumbent and/or the campaign's (lock held)."""
        if in_line and self._line_inc is not None:
            self._line_inc[exp.line] = exp.id
        if globally:
            self.info.incumbent_id = exp.id
            self.store.update_campaign(self.info.id, incumbent_id=exp.id)

    def history(self) -> list[Experiment]:
        with self._lock:
            return self.store.experiments(self.info.id, full=True, include_pending=False)

    def _maximize(self) -> bool:
        return self.task.spec.objective.direction == "maximize"

    def speedup_of(self, objective: float | None) -> float | None:
        """Baseline objective over candidate objective (or the inverse when maximizing)."""
        if objective is None or self.info.baseline_id is None:
            return None
        with self._lock:
            base = self.store.subject_values(self.info.baseline_id)
        if not base or objective <= 0 or median(base) <= 0:
            return None  # no ratio with a score of 0 (e.g. a baseline that answers nothing)
        b = median(base)
        return objective / b if self._maximize() else b / objective

    # running trials ----------------------------------------------------------------------

    def _label(self, what: str) -> str:
        """Trial directory prefix naming this process, so a later resume knows whose it was."""
        return f"p{os.getpid()}.{what}"

    @contextlib.contextmanager
    def _working_for(self, stop: threading.Event) -> Iterator[None]:
        """Run a job of the `run()` whose interruption sets `stop`: once set, the job's next
        trial raises `Stopped` (calls outside `run()` have no gate)."""
        self._run_gate.stop = stop
        try:
            yield
        finally:
            self._run_gate.stop = None

    def _trial(self, files: dict[str, str], what: str, *, evaluate: bool = True,
               time_limit: float | None = None, seeds: Seeds | None = None) -> Trial:
        """One trial of `files` (label `what`), unless the run this thread works for was
        interrupted (`Stopped`)."""
        stop: threading.Event | None = getattr(self._run_gate, "stop", None)
        if stop is not None and stop.is_set():
            raise Stopped("the run was interrupted")
        # the budget is a hard limit: a run is stopped where it ends (kill reason `budget`)
        left = self._seconds_left() if stop is not None else None
        if left is not None and left <= 0:
            raise BudgetEnded("the campaign's budget ended before this run started")
        limit = self.task.spec.run.time_limit
        cap = min(x for x in (limit, time_limit, left) if x is not None)
        t = self.trials.run(files, evaluate=evaluate, label=self._label(what), time_limit=cap,
                            seeds=seeds)
        by_budget = left is not None and cap == left < min(limit, time_limit or limit)
        if by_budget and t.facts.kill_reason == KillReason.WALL_TIME:
            t.facts.kill_reason = KillReason.BUDGET
            t.facts.killed_reason = f"the campaign's budget ended ({left:.0f} s were left)"
            t.reason = t.facts.killed_reason
        return t

    def _run_provenance(self, seed: int) -> dict[str, Any]:
        return provenance.of_run(
            self.provenance, task_hash=self.info.task_hash, sandbox=self.trials.backend,
            cores=self.trials.cores, threads=self.task.spec.run.threads, seed=seed,
            executor=self.cfg.executor, workers=self.cfg.workers)

    def _record_spent(self) -> None:
        """Record the wall time spent so far (earlier `run()` calls included; lock held)."""
        if self._run_start is None:
            return
        self.info.spent_seconds = self._spent_before + time.monotonic() - self._run_start
        self.store.update_campaign(self.info.id, spent_seconds=self.info.spent_seconds)

    def _seconds_left(self) -> float | None:
        return None if self._deadline is None else max(0.0, self._deadline - time.monotonic())
