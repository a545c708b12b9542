"""Tasks: a directory with task.toml (see docs/TASKS.md). Load, validate, list built-ins."""

from rubicon.task._load import load_task, validate_knobs
from rubicon.task._public import public_view
from rubicon.task._registry import (
    GROUP,
    TaskEntry,
    builtin_tasks,
    find_task_dir,
    list_tasks,
    resolve_task,
    suites,
    task_dir,
    task_entries,
)
from rubicon.task._spec import (
    EvaluateSpec,
    Gate,
    Knob,
    Milestone,
    ObjectiveSpec,
    PlaybookPatch,
    PrepareSpec,
    RunSpec,
    ScoreSpec,
    SearchStart,
    Task,
)

__all__ = [
    "GROUP",
    "EvaluateSpec",
    "Gate",
    "Knob",
    "Milestone",
    "ObjectiveSpec",
    "PlaybookPatch",
    "PrepareSpec",
    "RunSpec",
    "ScoreSpec",
    "SearchStart",
    "Task",
    "TaskEntry",
    "builtin_tasks",
    "find_task_dir",
    "list_tasks",
    "load_task",
    "public_view",
    "resolve_task",
    "suites",
    "task_dir",
    "task_entries",
    "validate_knobs",
]
