"""Judging one trial from the facts the runner gathered: pure functions over records.

The runner (rubicon.runner.trial) runs the candidate and the evaluator and observes them; it never
decides a state. These functions do, from facts only: the harness's own measurements, hashes of
the task and of the read-only workspace files around the run, artifact checks, kill reasons the
harness decided, and the output of the harness-owned evaluator. What the candidate prints is
never parsed.

`TrialJudge` bundles them with a task's gates; it is what a campaign hands to its executor
(it satisfies rubicon.runner.executor.Judge structurally, so measure imports no runner).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rubicon.task import Gate, Task
from rubicon.task._metrics import parse_metrics as parse_metrics  # re-exported: the task contract
from rubicon.types import EvaluationFacts, KillReason, RunFacts, State, Trial, WorkspaceFacts

REASON_CHARS = 200  # how much of a last output line a reason quotes
# A run pinned to N cores can use at most N CPU-seconds per wall second. Margin for accounting:
# the launcher's own start is in the run's CPU time but not in its wall time (tens of ms).
CORE_TOLERANCE = 0.10
CORE_SLACK_SECONDS = 0.25


def harness_metrics(facts: RunFacts, prepare: RunFacts | None = None) -> dict[str, Any]:
    """The metrics the harness itself measured around the run (and its [prepare] step)."""
    out = {"wall_seconds": facts.wall_seconds, "cpu_seconds": facts.cpu_seconds,
           "peak_memory_mb": facts.peak_memory_mb}
    if prepare is not None:
        out |= {"prepare_wall_seconds": prepare.wall_seconds,
                "prepare_cpu_seconds": prepare.cpu_seconds}
    return out


def evaluator_metrics(evaluation: EvaluationFacts) -> dict[str, Any]:
    """The evaluator's own time, from the sandbox's facts (never from what it prints)."""
    ev = evaluation.facts
    return {"eval_wall_seconds": ev.wall_seconds, "eval_cpu_seconds": ev.cpu_seconds}


def cores_overrun(facts: RunFacts) -> str:
    """Why a pinned run must have used more cores than it was granted, from its CPU time over
    its wall time; "" when it did not (or was not pinned). A run can widen its affinity with
    sched_setaffinity where no cpuset holds it (red-team), which also hides its load from the
    foreign-load estimate of its own cores."""
    if not facts.cores or facts.wall_seconds <= 0:
        return ""
    n = len(facts.cores)
    if facts.cpu_seconds <= facts.wall_seconds * n * (1 + CORE_TOLERANCE) + CORE_SLACK_SECONDS:
        return ""
    return (f"used {facts.cpu_seconds / facts.wall_seconds:.2f} cores on average "
            f"({facts.cpu_seconds:.2f} CPU-s in {facts.wall_seconds:.2f} s) but was granted "
            f"{n} (cores {facts.cores}): its time is not comparable")


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1][:REASON_CHARS] if lines else ""


def changed_readonly_file(seen: WorkspaceFacts) -> str | None:
    """The first read-only file (by name) whose hash differs before vs after the run."""
    for name in sorted(set(seen.readonly_before) | set(seen.readonly_after)):
        if seen.readonly_before.get(name) != seen.readonly_after.get(name):
            return name
    return None


def judge_run(facts: RunFacts, seen: WorkspaceFacts) -> Trial:
    """The state of a timed run, before any evaluation: tampering first, then how it ended,
    then its declared artifacts."""

    def verdict(state: State, reason: str) -> Trial:
        return Trial(facts=facts, metrics=harness_metrics(facts, seen.prepare), state=state,
                     reason=reason)

    if seen.prepare_error:
        return verdict(State.CRASHED, f"the task's prepare step failed (not the candidate's "
                                      f"fault): {seen.prepare_error}")
    if seen.inspect_error:
        return verdict(State.TAMPERED,
                       f"the harness could not inspect the workspace: {seen.inspect_error}")
    if seen.task_hash_after != seen.task_hash_before:
        return verdict(State.TAMPERED, "the task directory changed during the run")
    if not seen.workspace_present:
        return verdict(State.CRASHED, "the run deleted its workspace")
    changed = changed_readonly_file(seen)
    if changed is not None:
        return verdict(State.TAMPERED, f"the run modified read-only file {changed!r}")
    if facts.timed_out or facts.kill_reason == KillReason.WALL_TIME:
        return verdict(State.TIMED_OUT, facts.killed_reason)
    if facts.kill_reason in (KillReason.DISK, KillReason.OUTPUT):  # even when it exited 0
        return verdict(State.CRASHED, facts.killed_reason)
    if facts.exit_code != 0:
        why = facts.killed_reason or f"exit code {facts.exit_code}"
        return verdict(State.CRASHED, f"{why}: {_last_line(facts.output_tail)}".rstrip(": "))
    if overrun := cores_overrun(facts):
        return verdict(State.INVALID, overrun)
    for art, problem in seen.artifact_problems.items():
        return verdict(State.INVALID, f"artifact {art!r} {problem}")
    return verdict(State.OK, "")


def judge_evaluation(trial: Trial, evaluation: EvaluationFacts,
                     include_evaluator: bool = False) -> Trial:
    """Fold the evaluator's verdict and metrics into a trial that ran cleanly. The evaluator's
    own wall and CPU time are recorded (`eval_wall_seconds`, `eval_cpu_seconds`); with
    `include_evaluator` (the task's `[objective] include_evaluator`), `wall_seconds` is the
    run's plus the evaluator's and `run_wall_seconds` the run's alone."""
    if not trial.ok:
        return trial
    timed = {**trial.metrics, **evaluator_metrics(evaluation)}
    if include_evaluator:
        timed["run_wall_seconds"] = trial.metrics["wall_seconds"]
        timed["wall_seconds"] = trial.metrics["wall_seconds"] + evaluation.facts.wall_seconds
    found = parse_metrics(evaluation.output)
    for key, state in (("tampered", State.TAMPERED), ("invalid", State.INVALID)):
        if key in found:
            return trial.model_copy(update={"state": state, "metrics": timed,
                                            "reason": f"evaluator: {found[key]}"})
    ev = evaluation.facts
    if ev.timed_out or ev.exit_code != 0 or ev.kill_reason != KillReason.NONE:
        why = ev.killed_reason or ev.exit_code
        return trial.model_copy(update={
            "state": State.CRASHED, "metrics": timed,
            "reason": f"evaluator failed ({why}): {_last_line(ev.output_tail)}".rstrip(": ")})
    # harness metrics win over any evaluator key of the same name
    return trial.model_copy(update={"metrics": {**found, **timed}})


def check_gates(trial: Trial, gates: Sequence[Gate]) -> Trial:
    """GATE_FAILED with the first failing gate's reason, else the trial unchanged."""
    if not trial.ok:
        return trial
    for gate in gates:
        ok, why = gate.check(trial.metrics)
        if not ok:
            return trial.model_copy(update={"state": State.GATE_FAILED, "reason": why})
    return trial


@dataclass(frozen=True)
class TrialJudge:
    """The judgement a campaign injects into its executor: the functions above plus the task's
    gates. Picklable (it travels to Ray workers)."""

    gates: tuple[Gate, ...] = ()
    include_evaluator: bool = False

    @classmethod
    def for_task(cls, task: Task) -> TrialJudge:
        """The judge of `task`'s trials (its gates, and whether its objective counts the
        evaluator's time)."""
        return cls(tuple(task.spec.gates), task.spec.objective.include_evaluator)

    def judge_run(self, facts: RunFacts, seen: WorkspaceFacts) -> Trial:
        return judge_run(facts, seen)

    def judge_evaluation(self, trial: Trial, evaluation: EvaluationFacts) -> Trial:
        return judge_evaluation(trial, evaluation, self.include_evaluator)

    def check_gates(self, trial: Trial) -> Trial:
        return check_gates(trial, self.gates)
