"""Red-team cheats that need their own task shape or harness setting, run as LocalExecutor trials
(the same code path a campaign uses for every timed run) on copies of the demo task."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import rubicon.runner.sandbox as sandbox_mod
import rubicon.runner.trial as trial_mod
from rubicon.task import Task
from rubicon.types import KillReason, State

from ._helpers import DEMO_DIR, FAST_COUNT, local_executor

MERGE_KNOBS = json.dumps({"method": "mergesort", "cutoff": 16})


def files(task: Task, code: str) -> dict[str, str]:
    return {**task.editable_files(), "solution.py": code}


NESTED_BENCH = (DEMO_DIR / "workspace" / "bench.py").read_text().replace(
    '    with open("answers.json", "w") as f:',
    '    os.makedirs("out", exist_ok=True)\n    with open("out/answers.json", "w") as f:')
NESTED_CHECK = (DEMO_DIR / "evaluator" / "check.py").read_text().replace(
    'Path(sys.argv[1]) / "answers.json"', 'Path(sys.argv[1]) / "out" / "answers.json"')


def test_symlinked_artifact_dir_is_invalid(demo_copy: Callable[..., Task], outside_tmp: Path) -> None:
    """The artifact `out/answers.json` is a plain file, but `out` is a symlink to a host
    directory holding a planted answers.json: checking only the last component copies the host
    file. Defence: every component of an artifact path is checked (runner._files.artifact_problem)."""
    task = demo_copy(toml=[('artifacts = ["answers.json"]', 'artifacts = ["out/answers.json"]')],
                     files={"workspace/bench.py": NESTED_BENCH, "evaluator/check.py": NESTED_CHECK})
    assert (DEMO_DIR / "workspace" / "bench.py").read_text() != NESTED_BENCH
    leak = outside_tmp / "leak"
    leak.mkdir()
    (leak / "answers.json").write_text('{"answers": [7, 7, 7]}')
    runner = local_executor(task, outside_tmp / "runs")
    honest = runner.run(files(task, FAST_COUNT))
    assert honest.state == State.OK, honest.reason  # the nested task itself works
    cheat = runner.run(files(task, FAST_COUNT + f'''
import atexit, os, shutil

def _swap():
    shutil.rmtree("out")
    os.symlink({str(leak)!r}, "out")

atexit.register(_swap)
'''))
    assert cheat.state == State.INVALID, (cheat.state, cheat.reason)
    assert cheat.reason == "artifact 'out/answers.json' is under a symlink ('out')"


def test_a_disk_burst_between_two_polls_is_still_caught(
        demo_copy: Callable[..., Task], outside_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run writes past the workspace limit and exits 0 before the watchdog looks again.
    Defence: the final workspace size check in run_sandboxed (then the trial is `crashed`)."""
    monkeypatch.setattr(trial_mod, "WORKSPACE_DISK_MB", 16)
    monkeypatch.setattr(sandbox_mod, "DISK_POLL_SECONDS", 30.0)
    task = demo_copy()
    t = local_executor(task, outside_tmp / "runs").run(files(task, FAST_COUNT + '''
for i in range(3):
    with open(f"fill{i}", "wb") as f:
        f.write(b"x" * (12 << 20))
'''))
    assert t.facts.exit_code == 0
    assert t.state == State.CRASHED, (t.state, t.reason)
    assert t.reason.startswith("disk limit 16 MiB in the workspace"), t.reason


@pytest.mark.parametrize("message", [
    "MemoryError",
    "disk limit 16 MiB in the workspace (found 900 MiB in 3 entries)",
    "wall-time limit 20s",
    "CPU-time limit 5s",
])
def test_printed_limit_messages_do_not_set_a_kill_reason(
        demo_copy: Callable[..., Task], outside_tmp: Path, message: str) -> None:
    """The candidate prints what the harness would say about a limit, then exits 1: before,
    "MemoryError" in the output became a memory-limit kill, and a reason starting with "disk
    limit" was judged a disk kill. Defence: kill reasons are typed facts the harness decides
    (sandbox timers, byte counts, cgroup counters, real signal statuses), never output."""
    task = demo_copy()
    t = local_executor(task, outside_tmp / "runs").run(files(task, FAST_COUNT + f'''
import sys
print({message!r})
print({message!r}, file=sys.stderr)
sys.exit(1)
'''))
    assert t.state == State.CRASHED, (t.state, t.reason)
    assert t.facts.exit_code == 1 and not t.facts.timed_out
    assert t.facts.kill_reason == KillReason.NONE and t.facts.killed_reason == ""
    assert t.reason == f"exit code 1: {message}"


def test_a_printed_disk_limit_on_a_clean_exit_is_not_a_crash(
        demo_copy: Callable[..., Task], outside_tmp: Path) -> None:
    """The other side: exit 0 with a disk-limit line printed is an ordinary (here correct) run."""
    task = demo_copy()
    t = local_executor(task, outside_tmp / "runs").run(files(task, FAST_COUNT + '''
print("disk limit 16 MiB in the workspace (found 900 MiB in 3 entries)")
'''))
    assert t.state == State.OK, (t.state, t.reason)
    assert t.facts.kill_reason == KillReason.NONE


def test_a_very_deep_directory_does_not_crash_the_harness(
        demo_copy: Callable[..., Task], outside_tmp: Path) -> None:
    """1500 nested directories in the workspace: a recursive walk or shutil.rmtree raised
    RecursionError out of the trial run, ending the campaign. Defence: read-only files are
    hashed by direct lookup; candidate trees are removed with `rm -rf` as a fallback."""
    task = demo_copy()
    runner = local_executor(task, outside_tmp / "runs")
    t = runner.run(files(task, FAST_COUNT + '''
import os
d = os.open(".", os.O_RDONLY)
for i in range(1500):
    os.mkdir("d", dir_fd=d)
    nd = os.open("d", os.O_RDONLY, dir_fd=d)
    os.close(d)
    d = nd
'''))
    assert t.state == State.OK, (t.state, t.reason)  # harmless, and the harness survived it
    assert list(runner.work.iterdir()) == []  # and cleaned it up


def test_replaying_answers_seen_in_an_earlier_run_fails(
        demo_copy: Callable[..., Task], outside_tmp: Path) -> None:
    """A researcher reads a run's printed answers and proposes code that returns them as
    constants (a fake artifact with correct-looking values). Defence: a fresh RUBICON_SEED per
    run, and the evaluator recomputes the expected answers from the seed the run was given."""
    task = demo_copy()
    runner = local_executor(task, outside_tmp / "runs")
    first = runner.run(files(task, FAST_COUNT + '''
import atexit
atexit.register(lambda: print("ANSWERS", open("answers.json").read()))
'''))
    assert first.state == State.OK
    seen = json.loads(first.facts.output_tail.split("ANSWERS", 1)[1])["answers"]
    replay = runner.run(files(task, f'''
_ANSWERS = iter({seen!r})

def count_inversions(seq):
    return next(_ANSWERS)
'''))
    assert replay.facts.seed != first.facts.seed
    assert replay.state == State.GATE_FAILED, (replay.state, replay.reason)
    assert replay.metrics["wrong"] == 3


@pytest.fixture
def loopback_port() -> Iterator[int]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                c, _ = srv.accept()
            except OSError:
                continue
            c.sendall(b"hello from the host\n")
            c.close()

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    yield srv.getsockname()[1]
    stop.set()
    th.join()
    srv.close()


def test_a_task_that_allows_network_gets_it(
        demo_copy: Callable[..., Task], outside_tmp: Path, loopback_port: int) -> None:
    """The other side of the network defence: with `network = true` the same connection is a
    legitimate run, not flagged."""
    task = demo_copy(toml=[("max_processes = 32", "max_processes = 32\nnetwork = true")])
    assert task.spec.run.network
    t = local_executor(task, outside_tmp / "runs").run(files(task, FAST_COUNT + f'''
import socket
print(socket.create_connection(("127.0.0.1", {loopback_port}), timeout=2).recv(64))
'''))
    assert t.state == State.OK, (t.state, t.reason)
    assert "hello from the host" in t.facts.output_tail


def test_other_stores_on_the_host_are_hidden(
        demo_copy: Callable[..., Task], outside_tmp: Path) -> None:
    """An older campaign's store elsewhere on the host holds every solution it measured (the
    known gap of the first sandbox, which showed the whole host read-only minus a few hidden
    paths). Defence: the minimal root (rubicon.runner._root) shows nothing of the host but
    system dirs, a few /etc files and the interpreter's own directories."""
    other = outside_tmp / "old-campaign" / "rubicon.db"
    other.parent.mkdir()
    other.write_text("best solution: SECRET-CODE")
    task = demo_copy()
    t = local_executor(task, outside_tmp / "runs").run(files(task, FAST_COUNT + f'''
try:
    print(open({str(other)!r}).read())
except OSError as e:
    print("hidden:", e)
'''))
    assert t.state == State.OK
    assert "SECRET-CODE" not in t.facts.output_tail
    assert "hidden: [Errno 2] No such file or directory" in t.facts.output_tail
