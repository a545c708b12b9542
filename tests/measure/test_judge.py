"""Judging a trial is a pure function of the runner's facts (synthetic facts, no sandbox)."""

from __future__ import annotations

import pickle

from rubicon.measure.judge import (
    TrialJudge,
    check_gates,
    judge_evaluation,
    judge_run,
    parse_metrics,
)
from rubicon.task import Gate
from rubicon.types import EvaluationFacts, KillReason, RunFacts, State, Trial, WorkspaceFacts


def facts(**kw: object) -> RunFacts:
    base: dict[str, object] = {"exit_code": 0, "wall_seconds": 1.5, "cpu_seconds": 1.2,
                               "peak_memory_mb": 30.0, "foreign_load": 0.0}
    return RunFacts(**{**base, **kw})  # type: ignore[arg-type]


def seen(**kw: object) -> WorkspaceFacts:
    base: dict[str, object] = {"task_hash_before": "t1", "task_hash_after": "t1",
                               "readonly_before": {"bench.py": "h1", "data.txt": "h2"},
                               "readonly_after": {"bench.py": "h1", "data.txt": "h2"}}
    return WorkspaceFacts(**{**base, **kw})  # type: ignore[arg-type]


def test_a_clean_run_is_ok_with_the_harness_metrics() -> None:
    t = judge_run(facts(), seen())
    assert t.ok and t.reason == ""
    assert t.metrics == {"wall_seconds": 1.5, "cpu_seconds": 1.2, "peak_memory_mb": 30.0}


def test_tampering_is_decided_from_hashes() -> None:
    t = judge_run(facts(), seen(readonly_after={"bench.py": "CHANGED", "data.txt": "h2"}))
    assert (t.state, t.reason) == (State.TAMPERED, "the run modified read-only file 'bench.py'")
    gone = judge_run(facts(), seen(readonly_after={"data.txt": "h2"}))  # deleted or symlinked
    assert (gone.state, gone.reason) == (State.TAMPERED,
                                         "the run modified read-only file 'bench.py'")
    task = judge_run(facts(), seen(task_hash_after="t2"))
    assert (task.state, task.reason) == (State.TAMPERED,
                                         "the task directory changed during the run")
    broken = judge_run(facts(), seen(inspect_error="RecursionError: too deep"))
    assert broken.state == State.TAMPERED and "could not inspect" in broken.reason


def test_tampering_wins_over_how_the_run_ended() -> None:
    t = judge_run(facts(exit_code=None, timed_out=True, kill_reason=KillReason.WALL_TIME),
                  seen(task_hash_after="t2"))
    assert t.state == State.TAMPERED


def test_kill_reasons_are_typed_facts() -> None:
    timed = judge_run(facts(exit_code=None, timed_out=True, kill_reason=KillReason.WALL_TIME,
                            killed_reason="wall-time limit 2s"), seen())
    assert (timed.state, timed.reason) == (State.TIMED_OUT, "wall-time limit 2s")
    disk = judge_run(facts(exit_code=0, kill_reason=KillReason.DISK,
                           killed_reason="disk limit 16 MiB in the workspace"), seen())
    assert (disk.state, disk.reason) == (State.CRASHED, "disk limit 16 MiB in the workspace")
    mem = judge_run(facts(exit_code=137, kill_reason=KillReason.MEMORY,
                          killed_reason="memory limit 512 MiB for the whole run",
                          output_tail="working\n"), seen())
    assert (mem.state, mem.reason) == (State.CRASHED,
                                       "memory limit 512 MiB for the whole run: working")


def test_printed_limit_text_does_not_change_the_verdict() -> None:
    """A program that prints a harness message and exits 1 is an ordinary crash: its text is
    quoted as its last line, and a text that starts like a disk limit is not a disk kill."""
    for line in ("MemoryError", "disk limit 48 MiB in the workspace", "wall-time limit 1s"):
        t = judge_run(facts(exit_code=1, output_tail=f"x\n{line}\n"), seen())
        assert (t.state, t.reason) == (State.CRASHED, f"exit code 1: {line}")
    zero = judge_run(facts(exit_code=0, output_tail="disk limit 48 MiB in the workspace\n"),
                     seen())
    assert zero.ok  # exit 0 and no disk fact: not crashed, whatever it printed


def test_artifact_problems_make_the_run_invalid() -> None:
    t = judge_run(facts(), seen(artifact_problems={"out/answers.json": "is under a symlink ('out')"}))
    assert (t.state, t.reason) == (State.INVALID,
                                   "artifact 'out/answers.json' is under a symlink ('out')")


def test_evaluation_verdicts_and_metrics() -> None:
    ok = judge_run(facts(), seen())
    good = judge_evaluation(ok, EvaluationFacts(facts=facts(), output=(
        'correct: 1\n{"wrong": 0, "wall_seconds": 0.001}\nnote: fine run\n')))
    assert good.ok
    assert good.metrics == {"correct": 1.0, "wrong": 0, "note": "fine run", "wall_seconds": 1.5,
                            "cpu_seconds": 1.2, "peak_memory_mb": 30.0,  # harness metrics win
                            "eval_wall_seconds": 1.5, "eval_cpu_seconds": 1.2}
    bad = judge_evaluation(ok, EvaluationFacts(facts=facts(), output="invalid: no answers\n"))
    assert (bad.state, bad.reason) == (State.INVALID, "evaluator: no answers")
    cheat = judge_evaluation(ok, EvaluationFacts(facts=facts(), output="tampered: yes\n"))
    assert cheat.state == State.TAMPERED
    crash = judge_evaluation(ok, EvaluationFacts(
        facts=facts(exit_code=1, output_tail="RecursionError: deep\n"), output="correct: 1\n"))
    assert (crash.state, crash.reason) == (State.CRASHED,
                                           "evaluator failed (1): RecursionError: deep")
    assert "correct" not in crash.metrics
    assert ok.metrics == harness_only(ok)  # judging returned new records, never edited one


def harness_only(t: Trial) -> dict[str, object]:
    return {k: v for k, v in t.metrics.items() if k in ("wall_seconds", "cpu_seconds",
                                                        "peak_memory_mb")}


def test_gates_and_the_judge_bundle() -> None:
    gates = (Gate(metric="correct", op="==", value=1),)
    t = Trial(facts=facts(), metrics={"correct": 0.0})
    failed = check_gates(t, gates)
    assert failed.state == State.GATE_FAILED and failed.reason.startswith("gate correct == 1: failed")
    judge = pickle.loads(pickle.dumps(TrialJudge(gates)))  # travels to Ray workers
    assert judge.check_gates(Trial(facts=facts(), metrics={"correct": 1.0})).ok
    assert judge.check_gates(t).state == State.GATE_FAILED


def test_parse_metrics() -> None:
    assert parse_metrics("a: 1\nnot a metric line\nb c: 2\n{\"x\": [1]}\n{bad json\nd: text\n") == {
        "a": 1.0, "x": [1], "d": "text"}
