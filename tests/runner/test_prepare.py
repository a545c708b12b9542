"""A task's [prepare] step: held-out inputs made per run from a secret seed.

The run sees the inputs read-only under inputs/, never what prepare kept for the evaluator
({private}); inputs differ from run to run; a run that edits them is tampered; a prepare step
that fails is the task's fault and says so.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from rubicon.measure.judge import TrialJudge
from rubicon.runner.trial import LocalExecutor
from rubicon.task import Task, load_task
from rubicon.types import State

PREPARE = """
import os, random, sys
inputs, private = sys.argv[1], sys.argv[2]
rng = random.Random(int(os.environ["RUBICON_EVAL_SEED"]))
nums = [rng.randrange(10**6) for _ in range(50)]
open(os.path.join(inputs, "numbers.txt"), "w").write(" ".join(map(str, nums)))
open(os.path.join(private, "answer.txt"), "w").write(str(sum(nums)))
if os.environ.get("FAIL_PREPARE"):
    sys.exit("no data today")
"""

EVALUATE = """
import sys
arts, private = sys.argv[1], sys.argv[2]
want = open(private + "/answer.txt").read().strip()
got = open(arts + "/out.txt").read().strip()
print("correct:", 1 if got == want else 0)
print("answer_seen:", want)
"""

SOLVE = "open('out.txt', 'w').write(str(sum(map(int, open('inputs/numbers.txt').read().split()))))\n"


def make_task(base: Path, solve: str = SOLVE, fail_prepare: bool = False) -> Task:
    d = base / "sum-task"
    (d / "workspace").mkdir(parents=True)
    (d / "evaluator").mkdir()
    (d / "workspace" / "solve.py").write_text(solve)
    (d / "evaluator" / "prepare.py").write_text(PREPARE)
    (d / "evaluator" / "evaluate.py").write_text(EVALUATE)
    prep_cmd = ('["env", "FAIL_PREPARE=1", "python", "{task}/evaluator/prepare.py", "{inputs}", "{private}"]'
                if fail_prepare else '["python", "{task}/evaluator/prepare.py", "{inputs}", "{private}"]')
    (d / "task.toml").write_text(textwrap.dedent(f"""
        name = "sum-task"
        instructions = "Write the sum of the numbers of inputs/numbers.txt to out.txt."
        editable = ["solve.py"]
        [prepare]
        command = {prep_cmd}
        [run]
        command = ["python", "solve.py"]
        artifacts = ["out.txt"]
        [evaluate]
        command = ["python", "{{task}}/evaluator/evaluate.py", "{{artifacts}}", "{{private}}"]
        [objective]
        metric = "correct"
        direction = "maximize"
        [[gates]]
        metric = "correct"
        op = "=="
        value = 1
    """))
    return load_task(d)


def executor(task: Task, tmp: Path) -> LocalExecutor:
    return LocalExecutor(task, tmp / "campaign", TrialJudge.for_task(task))


def test_run_sees_fresh_inputs_and_the_evaluator_sees_private(tmp_path: Path) -> None:
    task = make_task(tmp_path)
    ex = executor(task, tmp_path)
    first = ex.run(task.editable_files())
    second = ex.run(task.editable_files())
    assert first.state == State.OK and first.metrics["correct"] == 1, first.reason
    assert second.state == State.OK and second.metrics["correct"] == 1, second.reason
    assert first.metrics["answer_seen"] != second.metrics["answer_seen"]  # new inputs per run


def test_run_cannot_read_what_prepare_kept_for_the_evaluator(tmp_path: Path) -> None:
    # Look for answer.txt anywhere the run can reach: the file must not exist in its view.
    spy = textwrap.dedent("""
        import os
        hits = []
        for top in ("/", os.getcwd()):
            for root, dirs, files in os.walk(top):
                dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev")]
                if "answer.txt" in files:
                    hits.append(os.path.join(root, "answer.txt"))
        open("out.txt", "w").write(open(hits[0]).read() if hits else "none")
    """)
    task = make_task(tmp_path, solve=spy)
    trial = executor(task, tmp_path).run(task.editable_files())
    assert trial.state == State.GATE_FAILED, trial.reason
    assert trial.metrics["correct"] == 0


def test_a_run_that_edits_its_inputs_is_tampered(tmp_path: Path) -> None:
    cheat = "open('inputs/numbers.txt', 'w').write('1 2'); open('out.txt', 'w').write('3')\n"
    task = make_task(tmp_path, solve=cheat)
    trial = executor(task, tmp_path).run(task.editable_files())
    assert trial.state == State.TAMPERED
    assert "inputs/numbers.txt" in trial.reason


def test_a_failing_prepare_step_is_the_tasks_fault(tmp_path: Path) -> None:
    task = make_task(tmp_path, fail_prepare=True)
    trial = executor(task, tmp_path).run(task.editable_files())
    assert trial.state == State.CRASHED
    assert "prepare step failed" in trial.reason and "no data today" in trial.reason
