"""The executor contract: how a campaign runs trials, locally or on a Ray cluster.

An `Executor` runs one candidate's files once (timed, in the sandbox), then the task's evaluator,
and returns a `Trial`. It owns execution only; the verdict comes from a `Judge` the campaign
injects (rubicon.measure.judge.TrialJudge), so the runner never imports measure.
`rubicon.runner.make_executor` builds the executor a campaign asks for.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import NamedTuple, Protocol

from rubicon.types import EvaluationFacts, RunFacts, Trial, WorkspaceFacts


class Judge(Protocol):
    """Turns the facts of one trial into a state, reason and metrics (pure functions)."""

    def judge_run(self, facts: RunFacts, seen: WorkspaceFacts) -> Trial: ...

    def judge_evaluation(self, trial: Trial, evaluation: EvaluationFacts) -> Trial: ...

    def check_gates(self, trial: Trial) -> Trial: ...


class Seeds(NamedTuple):
    """A trial's seeds: RUBICON_RUN_SEED (the run sees it) and RUBICON_EVAL_SEED (secret: only
    `[prepare]` and the evaluator get it). The two runs of a measurement pair share them, so
    both are judged on the same held-out draw (common random numbers); every pair draws anew."""

    run: int
    evaluation: int

    @classmethod
    def fresh(cls) -> Seeds:
        return cls(secrets.randbelow(2**31 - 1), secrets.randbelow(2**31 - 1))


# (trial label, step, total, seconds since the run started): a timed run's newest
# `progress: STEP/TOTAL` line (rubicon.runner._progress; docs/TASKS.md)
ProgressCallback = Callable[[str, int, int, float], None]


class Executor(Protocol):
    """Runs trials of one task.

    Attributes:
        backend: the sandbox backend that runs trials ("bwrap", "unshare", "none", or "ray").
        cores: the cores a timed run is pinned to (empty: granted per run, recorded per run).
        untimed_cores: cores for untimed work of the campaign process (empty: unpinned).
        on_progress: told each timed run's progress lines while it runs (None: nobody listens;
            an executor that cannot follow a run's output never calls it).
    """

    backend: str
    cores: list[int]
    untimed_cores: list[int]
    on_progress: ProgressCallback | None

    def run(self, files: dict[str, str], *, evaluate: bool = True, label: str = "run",
            time_limit: float | None = None, seeds: Seeds | None = None) -> Trial:
        """Run the candidate's editable `files` once (timed) and, if asked, evaluate it.

        `time_limit` lowers the task's wall-time limit for this run (the screening cap);
        `seeds` are the run's seeds (None: fresh ones). Never
        raises for anything the candidate does; a lost worker raises RubiconError."""
        ...

