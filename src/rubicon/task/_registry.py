"""Where tasks come from: the built-ins, installed entry points, or a directory.

An entry point of group `rubicon.tasks` names a task; its object is a directory path (str or
Path), a callable returning one, or a module whose own directory holds task.toml. Any installed
distribution may add tasks: `[project.entry-points."rubicon.tasks"] my-task = "my_pkg.tasks:path"`.
"""

from __future__ import annotations

import contextlib
import os
import tomllib
import types
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from rubicon.errors import TaskError
from rubicon.task._load import load_task
from rubicon.task._spec import BUILTIN_DIR, DEFAULT_TASK, Task

GROUP = "rubicon.tasks"


@dataclass(frozen=True)
class TaskEntry:
    """A task one can name, and where it comes from (`source`)."""

    name: str
    source: str  # "built-in" | "entry point (DIST VERSION)"
    target: str  # the directory (built-ins) or the entry point's "module:attr"

    def load(self) -> Task:
        """The task, loaded and validated (an entry point is imported)."""
        return load_task(task_dir(self.name))


def builtin_tasks() -> dict[str, Path]:
    """Names and directories of the tasks shipped with rubicon."""
    return {p.parent.name: p.parent for p in sorted(BUILTIN_DIR.glob("*/task.toml"))}


def _entry_points() -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=GROUP)}


def list_tasks() -> dict[str, TaskEntry]:
    """Every named task: built-ins first; an entry point never shadows a built-in."""
    return task_entries()


def task_entries() -> dict[str, TaskEntry]:
    """Every named task: built-ins first; an entry point never shadows a built-in."""
    out = {n: TaskEntry(n, "built-in", str(d)) for n, d in builtin_tasks().items()}
    for name, ep in sorted(_entry_points().items()):
        if name not in out:
            dist = getattr(ep, "dist", None)
            src = f"entry point ({dist.name} {dist.version})" if dist is not None else "entry point"
            out[name] = TaskEntry(name, src, ep.value)
    return out


def _as_dir(obj: Any, where: str) -> Path:
    if isinstance(obj, types.ModuleType):
        if not getattr(obj, "__file__", None):
            raise TaskError(f"{where}: module {obj.__name__} has no directory")
        return Path(str(obj.__file__)).parent
    if callable(obj):
        obj = obj()
    if isinstance(obj, str | os.PathLike):
        return Path(obj)
    raise TaskError(f"{where}: expected a task directory (str or Path), a callable returning one, "
                    f"or a module; got {type(obj).__name__}")


def task_dir(name: str) -> Path:
    """The directory of a named task (built-in or entry point).

    Raises:
        TaskError: unknown name, or an entry point that does not give a task directory.
    """
    builtins = builtin_tasks()
    if name in builtins:
        return builtins[name]
    eps = _entry_points()
    if name not in eps:
        raise TaskError(f"unknown task {name!r}: not a built-in or an entry point "
                        f"({', '.join(sorted(task_entries())) or 'none'})")
    where = f"task {name!r} (entry point {eps[name].value} of group {GROUP})"
    try:
        obj = eps[name].load()
    except (ImportError, AttributeError) as e:
        raise TaskError(f"{where} cannot be imported: {e}") from None
    d = _as_dir(obj, where)
    if not (d / "task.toml").is_file():
        raise TaskError(f"{where} gave {d}, which holds no task.toml")
    return d


def resolve_task(name_or_path: str | Path | None) -> Task:
    """A built-in task name, an entry-point name (group `rubicon.tasks`), or a path to a task
    directory; None means the default task."""
    name = str(name_or_path or DEFAULT_TASK)
    if name in task_entries():
        return load_task(task_dir(name))
    if Path(name).exists():
        return load_task(name)
    raise TaskError(
        f"unknown task {name!r}: not a built-in or installed task "
        f"({', '.join(sorted(task_entries())) or 'none'}) and not a directory holding task.toml"
    )


def find_task_dir(name: str, recorded: str | Path) -> Path:
    """Where a recorded campaign's task is now: its recorded directory if it still exists,
    else the registered task of that name (a reinstalled package moves its tasks); the caller
    checks the task's hash."""
    d = Path(recorded)
    if d.is_dir():
        return d
    with contextlib.suppress(TaskError):
        return task_dir(name)
    for entry in task_entries().values():  # an entry point may name the task differently
        try:
            other = task_dir(entry.name)
            if tomllib.loads((other / "task.toml").read_text()).get("name") == name:
                return other
        except (TaskError, OSError, tomllib.TOMLDecodeError):
            continue
    return d


__all__ = ["GROUP", "TaskEntry", "builtin_tasks", "find_task_dir", "list_tasks", "resolve_task",
           "task_dir", "task_entries"]


def suites() -> dict[str, list[str]]:
    """Named suites of built-in tasks (builtin/suites.toml), each a list of task names."""
    path = BUILTIN_DIR / "suites.toml"
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    return {str(k): [str(t) for t in v] for k, v in raw.items()}
