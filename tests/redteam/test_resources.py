"""Red-team: the harness's own resources and the run's limits (class 5 of issue 18), and the
evaluator's time (class 4, the harness side): output floods, disk held in deleted files,
affinity changes that escape the core pin, compute moved into the untimed evaluator."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

import rubicon.runner.trial as trial_mod
from rubicon.measure.judge import TrialJudge, judge_run
from rubicon.runner._cgroup import writable_controllers
from rubicon.task import Task
from rubicon.types import RunFacts, State, WorkspaceFacts

from ._helpers import DEMO_DIR, FAST_COUNT, MERGESORT, local_executor, run_campaign

CHECK = (DEMO_DIR / "evaluator" / "check.py").read_text()
MAIN = 'if __name__ == "__main__":\n    main()\n'
assert CHECK.endswith(MAIN)


def evaluator_doing(code: str) -> dict[str, str]:
    """The demo's evaluator, running `code` (indented 4) before it checks the answers."""
    body = "".join(f"    {line}\n" for line in code.strip().splitlines())
    return {"evaluator/check.py": CHECK.removesuffix(MAIN) + MAIN.replace(
        "    main()\n", body + "    main()\n")}


def files(task: Task, code: str) -> dict[str, str]:
    return {**task.editable_files(), "solution.py": code}


@contextmanager
def peak_rss_growth() -> Iterator[list[float]]:
    """Samples this process's RSS every 2 ms; yields a list that holds, at exit, the peak
    growth in MiB over the RSS at entry."""
    proc = psutil.Process()
    start = proc.memory_info().rss
    peak = [start]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.002):
            peak[0] = max(peak[0], proc.memory_info().rss)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out: list[float] = []
    try:
        yield out
    finally:
        done.set()
        th.join()
        peak[0] = max(peak[0], proc.memory_info().rss)
        out.append((peak[0] - start) / 2**20)


# ------------------------------------------------------------------------------------------------
# Output


def test_an_evaluator_output_flood_leaves_the_harness_small(
        demo_copy: Callable[..., Task], outside_tmp: Path) -> None:
    """200 MB of evaluator output (what code smuggled into an artifact can print): the harness
    read the whole log (100 MB took it from 32 MB to 2.5 GB of RSS). Defences: the evaluator's
    log is capped (the watchdog ends it past 64 MiB: `output limit`), and only 64 KiB of each
    end is ever read."""
    task = demo_copy(files=evaluator_doing('''
import sys
line = "x" * 99 + "\\n"
for _ in range(200):
    sys.stdout.write(line * 10000)  # 1 MB
sys.stdout.flush()
'''))
    runner = local_executor(task, outside_tmp / "runs")
    with peak_rss_growth() as growth:
        t = runner.run(files(task, FAST_COUNT))
    assert growth[0] < 40, f"the harness grew by {growth[0]:.0f} MiB"
    assert t.state == State.CRASHED, (t.state, t.reason)
    assert t.reason.startswith("evaluator failed (output limit 64 MiB (the run wrote "), t.reason
    wrote = float(t.reason.split("(the run wrote ", 1)[1].split(" MiB", 1)[0])
    assert wrote < 150, t.reason  # ended near the limit, not after its 200 MB


def test_verbose_evaluator_output_still_yields_its_metrics(
        demo_copy: Callable[..., Task], outside_tmp: Path) -> None:
    """The other side: 8 MB of chatter before the metrics is a normal evaluation; the metrics
    are parsed from the bounded tail."""
    task = demo_copy(files=evaluator_doing('''
import sys
sys.stdout.write(("debug " * 16 + "\\n") * 80000)
'''))
    t = local_executor(task, outside_tmp / "runs").run(files(task, FAST_COUNT))
    assert t.state == State.OK, (t.state, t.reason)
    assert t.metrics["correct"] == 1 and t.metrics["wrong"] == 0


# ------------------------------------------------------------------------------------------------
# Disk


HOLD = '''
import mmap, os, time
MODE = {mode!r}
held = []
for i in range(4):
    if MODE == "tmpfile":
        fd = os.open(".", os.O_RDWR | os.O_TMPFILE, 0o600)
    else:
        fd = os.open(f"hold{{i}}", os.O_RDWR | os.O_CREAT, 0o600)
    os.posix_fallocate(fd, 0, 48 << 20)
    if MODE == "mmap":
        held.append(mmap.mmap(fd, 48 << 20))
        os.close(fd)
    else:
        held.append(fd)
    if MODE != "tmpfile":
        os.unlink(f"hold{{i}}")
print("HOLDING", flush=True)
time.sleep(3)
print("ESCAPED: held 192 MiB in deleted files")
'''


@pytest.mark.parametrize("mode", ["unlinked", "tmpfile", "mmap"])
def test_disk_held_in_deleted_files_counts(
        demo_copy: Callable[..., Task], outside_tmp: Path, monkeypatch: pytest.MonkeyPatch,
        mode: str) -> None:
    """4 x 48 MiB fallocated, then unlinked (or made nameless with O_TMPFILE, or only mapped)
    and held open, against a 64 MiB workspace limit: no directory walk sees them (5 GB were
    held against 1 GB). Defence: the disk poll adds the deleted files the run's processes hold
    through /proc/PID/fd and /proc/PID/maps (runner._observe.held_deleted_bytes)."""
    monkeypatch.setattr(trial_mod, "WORKSPACE_DISK_MB", 64)
    task = demo_copy()
    t = local_executor(task, outside_tmp / "runs").run(
        files(task, HOLD.format(mode=mode) + FAST_COUNT))
    assert "HOLDING" in t.facts.output_tail  # the files were really held
    assert t.state == State.CRASHED, (t.state, t.reason)
    assert t.reason.startswith("disk limit 64 MiB in the workspace"), t.reason
    assert "deleted but held open" in t.reason
    assert "ESCAPED" not in t.facts.output_tail


def test_an_evaluator_filling_the_disk_is_stopped(
        demo_copy: Callable[..., Task], outside_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Code run in the evaluator (e.g. from an artifact) writes into its directory; the
    evaluator has the same disk limit as a run (it had none)."""
    monkeypatch.setattr(trial_mod, "WORKSPACE_DISK_MB", 16)
    task = demo_copy(files=evaluator_doing('''
import time
for i in range(6):
    with open(f"fill{i}", "wb") as f:
        f.write(b"x" * (8 << 20))
time.sleep(2)
'''))
    t = local_executor(task, outside_tmp / "runs").run(files(task, FAST_COUNT))
    assert t.state == State.CRASHED, (t.state, t.reason)
    assert t.reason.startswith("evaluator failed (disk limit 16 MiB"), t.reason


# ------------------------------------------------------------------------------------------------
# Cores


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 usable cores")
@pytest.mark.skipif("cpuset" not in writable_controllers(),
                    reason="needs a writable cpuset cgroup (then only the CPU-over-wall check holds)")
def test_widening_the_core_pin_is_refused(
        demo_copy: Callable[..., Task], outside_tmp: Path) -> None:
    """The run calls sched_setaffinity with every core: it ran on all of them (and its load on
    the others was invisible to the foreign-load estimate). Defence: a cpuset cgroup per run
    holding its granted cores; affinity can only narrow inside it."""
    task = demo_copy()
    runner = local_executor(task, outside_tmp / "runs")
    t = runner.run(files(task, FAST_COUNT + '''
import os
before = sorted(os.sched_getaffinity(0))
try:
    os.sched_setaffinity(0, range(os.cpu_count()))
except OSError as e:
    print("refused", e)
print("AFFINITY", before, sorted(os.sched_getaffinity(0)))
'''))
    assert t.state == State.OK, (t.state, t.reason)
    assert t.facts.cores == runner.cores and len(runner.cores) == 1
    assert f"AFFINITY {runner.cores} {runner.cores}" in t.facts.output_tail, t.facts.output_tail


def _pinned(cpu: float, wall: float, cores: list[int]) -> RunFacts:
    return RunFacts(exit_code=0, wall_seconds=wall, cpu_seconds=cpu, peak_memory_mb=10.0,
                    foreign_load=0.0, cores=cores)


def test_a_run_that_used_more_cores_than_granted_is_invalid() -> None:
    """Where no cpuset holds it, a widened run shows as more CPU time than its cores allow in
    its wall time. Defence: measure.judge.cores_overrun, decided from the facts."""
    seen = WorkspaceFacts(task_hash_before="t", task_hash_after="t")
    t = judge_run(_pinned(cpu=3.9, wall=2.0, cores=[1]), seen)
    assert t.state == State.INVALID, (t.state, t.reason)
    assert t.reason.startswith("used 1.95 cores on average (3.90 CPU-s in 2.00 s) but was "
                               "granted 1 (cores [1])"), t.reason
    # the other side: a busy run within its cores (and accounting noise) is fine
    assert judge_run(_pinned(cpu=2.2, wall=2.0, cores=[1]), seen).state == State.OK
    assert judge_run(_pinned(cpu=3.9, wall=2.0, cores=[0, 1]), seen).state == State.OK
    assert judge_run(_pinned(cpu=3.9, wall=2.0, cores=[]), seen).state == State.OK  # unpinned


# ------------------------------------------------------------------------------------------------
# The evaluator's time


def test_the_evaluators_time_is_recorded_from_the_sandbox(
        demo_copy: Callable[..., Task], outside_tmp: Path) -> None:
    """The evaluator's wall and CPU time are harness metrics, measured around its sandbox; what
    it prints under the same names is ignored."""
    task = demo_copy(files=evaluator_doing('''
import time
t = time.process_time()
while time.process_time() - t < 0.4:
    pass
print("eval_wall_seconds: 0.0")
print("eval_cpu_seconds: 0.0")
'''))
    t = local_executor(task, outside_tmp / "runs").run(files(task, FAST_COUNT))
    assert t.state == State.OK, (t.state, t.reason)
    assert t.metrics["eval_cpu_seconds"] >= 0.4
    assert t.metrics["eval_wall_seconds"] >= 0.4
    assert t.metrics["wall_seconds"] == t.facts.wall_seconds  # not counted unless the task says so


INCLUDE = ('metric = "wall_seconds"\ndirection = "minimize"',
           'metric = "wall_seconds"\ndirection = "minimize"\ninclude_evaluator = true')
EVAL_WORK = "import time\ntime.sleep(1.0)  # stands for work an artifact does when evaluated"


def test_an_objective_can_count_the_evaluators_time(
        demo_copy: Callable[..., Task], outside_tmp: Path) -> None:
    """A model can do its work when the evaluator calls it (class 4: it trains itself inside the
    untimed evaluator). Defence, where a task says so (`[objective] include_evaluator = true`):
    the evaluator's wall time is added to the run's in `wall_seconds`."""
    task = demo_copy(toml=[INCLUDE], files=evaluator_doing(EVAL_WORK))
    assert task.spec.objective.include_evaluator
    t = local_executor(task, outside_tmp / "runs").run(files(task, FAST_COUNT))
    assert t.state == State.OK, (t.state, t.reason)
    assert t.metrics["run_wall_seconds"] == t.facts.wall_seconds
    assert t.metrics["wall_seconds"] == pytest.approx(
        t.facts.wall_seconds + t.metrics["eval_wall_seconds"])
    assert t.metrics["wall_seconds"] >= t.facts.wall_seconds + 1.0


def test_with_the_evaluator_counted_the_incumbent_is_evaluated_too(
        demo_copy: Callable[..., Task], outside_tmp: Path) -> None:
    """Both sides of every A/B pair count the evaluator's time (the incumbent's runs were never
    evaluated when the objective was a harness metric)."""
    task = demo_copy(toml=[INCLUDE], files=evaluator_doing(EVAL_WORK))
    assert TrialJudge.for_task(task).include_evaluator
    rec = run_campaign(task, [MERGESORT], outside_tmp)
    e = rec.exp(0)
    runs = rec.campaign.store.experiment(e.id).runs
    scored = [r for r in runs if r.scored]
    assert {r.role for r in scored} >= {"candidate", "incumbent"}, [(r.role, r.pair) for r in runs]
    for r in scored:
        assert r.objective is not None and r.objective >= r.wall_seconds + 1.0, r
