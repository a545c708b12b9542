from __future__ import annotations

from pathlib import Path

import pytest

from rubicon.errors import TaskError
from rubicon.task import builtin_tasks, load_task, resolve_task


def _write(d: Path, toml: str) -> Path:
    (d / "workspace").mkdir(parents=True, exist_ok=True)
    (d / "workspace" / "a.py").write_text("x = 1\n")
    (d / "task.toml").write_text(toml)
    return d


BASE = 'name = "t"\ninstructions = "hi"\neditable = ["a.py"]\n[run]\ncommand = ["python", "a.py"]\n'


def test_demo_task_loads_and_hashes_stably() -> None:
    t = resolve_task("demo-inversions")
    assert t.name == "demo-inversions"
    assert set(t.editable_files()) == {"solution.py", "knobs.json"}
    assert not t.is_editable("bench.py")
    assert not t.is_editable("../solution.py")
    assert t.hash() == t.hash()
    assert {p.name for p in t.playbook} == {"local-lookups", "bisect-insertion"}


def test_valid_minimal_task(tmp_path: Path) -> None:
    t = load_task(_write(tmp_path, BASE))
    assert t.spec.run.time_limit == 60 and t.spec.objective.metric == "wall_seconds"


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("name = ", "not valid TOML"),
        ("colour = 3\n" + BASE, "key 'colour': unknown key"),
        (BASE + "colour = 3\n", "key 'run.colour': unknown key"),
        (BASE.replace('editable = ["a.py"]\n', ""), "key 'editable': required but missing"),
        (BASE.replace('["a.py"]', '["b.py"]'), "matches no file in workspace/"),
        (BASE.replace("[run]\n", "[run]\ntime_limit = -1\n"), "key 'run.time_limit'"),
        (BASE + '[[gates]]\nmetric = "loss"\nop = "~"\nvalue = 1\n', "key 'gates.0.op'"),
        (BASE + '[[gates]]\nmetric = "loss"\nop = "<="\nvalue = 1\n', "needs an [evaluate]"),
        (BASE + '[knobs.lr]\ntype = "float"\ndefault = 1\n', "needs 'knobs_file'"),
    ],
)
def test_broken_task_messages_name_key_and_found(tmp_path: Path, toml: str, expected: str) -> None:
    with pytest.raises(TaskError) as err:
        load_task(_write(tmp_path, toml))
    assert expected in str(err.value)
    assert "task.toml" in str(err.value)


def test_found_value_is_reported(tmp_path: Path) -> None:
    with pytest.raises(TaskError, match=r"found -1"):
        load_task(_write(tmp_path, BASE.replace("[run]\n", "[run]\nthreads = -1\n")))


def test_unknown_task_lists_builtins() -> None:
    with pytest.raises(TaskError, match="demo-inversions"):
        resolve_task("no-such-task")


def test_every_builtin_task_validates() -> None:
    tasks = builtin_tasks()
    assert "demo-inversions" in tasks
    for path in tasks.values():
        assert load_task(path).spec.editable
