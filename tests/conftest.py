"""Shared fixtures: small throwaway tasks whose candidates misbehave in chosen ways."""

from __future__ import annotations

import signal
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rubicon.task import Task, load_task

TOML = """
name = "{name}"
instructions = "Make run.py fast."
editable = ["solution.py"]

[run]
command = ["python", "run.py"]
time_limit = {time_limit}
memory_mb = {memory_mb}
max_processes = 32
artifacts = ["out.txt"]

[evaluate]
command = ["python", "{{task}}/evaluator/check.py", "{{artifacts}}"]
time_limit = 30

[[gates]]
metric = "correct"
op = "=="
value = 1
"""

RUN_PY = """
import os
import solution
with open("out.txt", "w") as f:
    f.write(str(solution.answer(int(os.environ["RUBICON_SEED"]))))
"""

CHECK_PY = """
import os, sys
from pathlib import Path
p = Path(sys.argv[1]) / "out.txt"
if not p.exists():
    print("invalid: no out.txt")
    sys.exit(0)
want = int(os.environ["RUBICON_RUN_SEED"]) * 2
print(f"correct: {int(p.read_text().strip() == str(want))}")
"""

GOOD_SOLUTION = "def answer(seed):\n    return seed * 2\n"


@pytest.fixture
def make_task(tmp_path: Path) -> Callable[..., Task]:
    """Write a tiny task (answer = 2 * seed) whose solution.py is `solution`; return it loaded."""

    def make(solution: str = GOOD_SOLUTION, name: str = "tiny", time_limit: float = 20,
             memory_mb: int = 1024, extra_files: dict[str, str] | None = None) -> Task:
        d = tmp_path / f"task-{name}"
        (d / "workspace").mkdir(parents=True)
        (d / "evaluator").mkdir()
        (d / "task.toml").write_text(
            TOML.format(name=name, time_limit=time_limit, memory_mb=memory_mb))
        (d / "workspace" / "run.py").write_text(textwrap.dedent(RUN_PY))
        (d / "workspace" / "solution.py").write_text(textwrap.dedent(solution))
        (d / "evaluator" / "check.py").write_text(textwrap.dedent(CHECK_PY))
        for rel, text in (extra_files or {}).items():
            (d / rel).parent.mkdir(parents=True, exist_ok=True)
            (d / rel).write_text(text)
        return load_task(d)

    return make


@pytest.fixture
def ctrl_c_delivered() -> Iterator[None]:
    """Ctrl-C tests need SIGINT handled: a shell without job control starts background jobs
    (`pytest &`, a CI step in the background) with SIGINT ignored, and then neither
    `_thread.interrupt_main()` nor a SIGINT to a child Python raises KeyboardInterrupt."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)
