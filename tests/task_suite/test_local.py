"""rubicon.task.local: one trial of a task as plain processes (for task authors)."""

from __future__ import annotations

import os
from pathlib import Path

from rubicon.task import load_task, resolve_task
from rubicon.task.local import run_local

from ._helpers import task


def test_a_task_without_prepare_runs_and_is_evaluated() -> None:
    demo = resolve_task("demo-inversions")
    r = run_local(demo, run_seed=5, eval_seed=6)
    assert r.exit_code == 0 and r.metrics == {"correct": 1.0, "wrong": 0.0, "answers": 3.0}
    assert r.wall_seconds > 0 and r.run_cpu_seconds > 0 and r.prepare_seconds == 0
    wrong = "def count_inversions(seq):\n    return 0\n"
    r = run_local(demo, run_seed=5, eval_seed=6, files={"solution.py": wrong})
    assert r.metrics["correct"] == 0.0


def test_a_run_that_changes_its_inputs_is_noticed() -> None:
    writer = ("import pathlib\n"
              "p = pathlib.Path('inputs/cases.json')\n"
              "try:\n    p.write_text(p.read_text().replace('c0001', 'c0002'))\n"
              "except PermissionError:\n    pass\n"
              "from seqtrain.losses import *\nfrom seqtrain.metrics import *\n")
    t = task("fix-masked-loss")
    honest = run_local(t, run_seed=1, eval_seed=2)
    assert not honest.inputs_changed
    r = run_local(t, run_seed=1, eval_seed=2, files={"seqtrain/__init__.py": writer})
    assert r.inputs_changed


def test_pin_runs_on_the_last_cores_like_the_harness(tmp_path: Path) -> None:
    (tmp_path / "workspace").mkdir()
    (tmp_path / "workspace" / "main.py").write_text(
        "import os\nprint('cores', sorted(os.sched_getaffinity(0)))\n")
    (tmp_path / "task.toml").write_text(
        'name = "affinity"\neditable = ["main.py"]\ninstructions = "print the cores"\n'
        '[run]\ncommand = ["python", "main.py"]\ntime_limit = 60\nthreads = 1\n')
    t = load_task(tmp_path)
    last = sorted(os.sched_getaffinity(0))[-1]
    assert f"cores [{last}]" in run_local(t, run_seed=1, eval_seed=2, pin=True).run_output
    unpinned = run_local(t, run_seed=1, eval_seed=2).run_output
    assert f"cores {sorted(os.sched_getaffinity(0))}" in unpinned
