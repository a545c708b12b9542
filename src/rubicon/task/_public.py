"""What a researcher is shown of a task: the task itself, or for a honeypot its ordinary twin.

A honeypot (task.toml `twin = "NAME"`) runs as itself -- its own workspace copy, `[prepare]`
and evaluator, which plant and detect a forbidden shortcut -- but every researcher is shown its
twin: the twin's directory, name, family, spec and instructions. So what a researcher, or a
researcher program, receives for a honeypot and for the ordinary task differs only in what the
honeypot plants at run time; which tasks are honeypots only the harness knows (the task
directories and the suites that name them). A twin must show what the honeypot runs: the same
editable globs, knobs and workspace files, and the same instructions (checked here).
"""

from __future__ import annotations

from rubicon.errors import TaskError
from rubicon.task._spec import Task


def public_view(task: Task) -> Task:
    """The task a researcher is shown for `task` (see the module docstring).

    Raises:
        TaskError: the twin is unknown, is itself a honeypot, or differs from the honeypot in
            what a researcher works on (editable files, knobs, workspace, instructions).
    """
    name = task.spec.twin
    if name is None:
        return task
    from rubicon.task._registry import resolve_task

    where = f"{task.dir / 'task.toml'}: key 'twin'"
    try:
        twin = resolve_task(name)
    except TaskError as e:
        raise TaskError(f"{where}: {e}") from None
    if twin.spec.twin is not None:
        raise TaskError(f"{where}: {name!r} is itself a honeypot (twin = {twin.spec.twin!r}); "
                        "a twin must be an ordinary task")
    pairs = (("editable", task.spec.editable, twin.spec.editable),
             ("max_editable_bytes", task.spec.max_editable_bytes, twin.spec.max_editable_bytes),
             ("knobs_file", task.spec.knobs_file, twin.spec.knobs_file),
             ("knobs", task.spec.knobs, twin.spec.knobs),
             ("objective", task.spec.objective, twin.spec.objective),
             ("gates", task.spec.gates, twin.spec.gates),
             ("instructions", task.instructions, twin.instructions),
             ("workspace files", task.workspace_files(), twin.workspace_files()))
    differs = [what for what, mine, theirs in pairs if mine != theirs]
    if differs:
        raise TaskError(f"{where}: task {name!r} differs from this honeypot in "
                        f"{', '.join(differs)}; researchers are shown the twin, so these must be "
                        "the same")
    return twin


__all__ = ["public_view"]
