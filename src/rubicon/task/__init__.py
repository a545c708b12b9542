"""Tasks: a directory with task.toml (see docs/TASKS.md). Load, validate, list built-ins."""

from rubicon.task._spec import (
    EvaluateSpec,
    Gate,
    Knob,
    ObjectiveSpec,
    PlaybookPatch,
    RunSpec,
    SearchStart,
    Task,
    builtin_tasks,
    load_task,
    resolve_task,
)

__all__ = [
    "EvaluateSpec",
    "Gate",
    "Knob",
    "ObjectiveSpec",
    "PlaybookPatch",
    "RunSpec",
    "SearchStart",
    "Task",
    "builtin_tasks",
    "load_task",
    "resolve_task",
]
