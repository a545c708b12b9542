"""`rubicon tasks` and `rubicon researchers`: what is installed."""

from __future__ import annotations

import argparse

from rich.table import Table

from rubicon.cli._common import console
from rubicon.errors import TaskError
from rubicon.researcher import available
from rubicon.task import builtin_tasks, load_task
from rubicon.task._spec import DEFAULT_TASK


def _tasks(args: argparse.Namespace) -> int:
    table = Table(title="built-in tasks (or pass a path to your own task directory)")
    for col in ("name", "objective", "gates", "editable", "description"):
        table.add_column(col)
    for name, path in builtin_tasks().items():
        try:
            t = load_task(path)
        except TaskError as e:
            table.add_row(name, "-", "-", "-", f"[red]invalid: {e}[/red]")
            continue
        obj = f"{t.spec.objective.direction} {t.spec.objective.metric}"
        gates = ", ".join(f"{g.metric} {g.op} {g.value:g}" for g in t.spec.gates) or "-"
        label = name + (" (default)" if name == DEFAULT_TASK else "")
        table.add_row(label, obj, gates, ", ".join(t.spec.editable), t.spec.description)
    console.print(table)
    return 0


def _researchers(args: argparse.Namespace) -> int:
    table = Table(title="researchers (rubicon run --researcher NAME -R key=value ...)")
    table.add_column("name")
    table.add_column("what it does")
    for name, desc in available().items():
        table.add_row(name, desc)
    console.print(table)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("tasks", help="list built-in tasks")
    p.set_defaults(func=_tasks)
    p = sub.add_parser("researchers", help="list researchers")
    p.set_defaults(func=_researchers)
