"""`rubicon tasks` and `rubicon researchers`: what is installed, and where it comes from."""

from __future__ import annotations

import argparse
import json
import types
import typing
from typing import Any

from rich import box
from rich.markup import escape
from rich.table import Table

from rubicon import RubiconError, list_researchers, list_tasks
from rubicon.cli._common import console
from rubicon.researcher import Entry
from rubicon.task import Milestone, Task, TaskEntry, suites

DEFAULT_TASK = "lm-speedrun"


def _num(v: float) -> str:
    return f"{v:.4g}"


def _minutes(m: float) -> str:
    """Human minutes for people: 10 min, 1.5 h, 40 h."""
    return f"{m:g} min" if m < 60 else f"{m / 60:.3g} h"


def _milestone_info(task: Task, m: Milestone, score: float) -> dict[str, Any]:
    if m.objective is not None:
        unit, value = task.spec.objective.metric, m.objective
    elif m.speedup is not None:
        unit, value = "speedup", m.speedup
    else:
        unit, value = "score", float(m.score or 0.0)
    return {"name": m.name, "human_minutes": m.human_minutes, "basis": m.basis,
            "threshold": {unit: value}, "score": round(score, 4)}


def task_info(name: str, entry: TaskEntry, in_suites: list[str]) -> dict[str, Any]:
    """What `rubicon tasks` says of one task (also its --json record)."""
    try:
        t = entry.load()
    except RubiconError as e:
        return {"name": name, "source": entry.source, "error": str(e)}
    obj = t.spec.objective
    sc = t.spec.score
    score: dict[str, Any] | None = None
    if sc is not None:
        linear = sc.kind == "linear"
        score = {"kind": sc.kind, "units": obj.metric if linear else "speedup",
                 "baseline": sc.baseline if linear else 1.0, "reference": sc.reference,
                 "basis": sc.basis}
    return {"name": name, "source": entry.source, "family": t.family,
            "description": t.spec.description, "suites": in_suites,
            "objective": {"metric": obj.metric, "direction": obj.direction},
            "gates": [f"{g.metric} {g.op} {g.value:g}" for g in t.spec.gates],
            "editable": t.spec.editable,
            "human_minutes": t.spec.human_minutes, "human_minutes_basis": t.spec.human_minutes_basis,
            "score": score,
            "milestones": [_milestone_info(t, m, s) for m, s in t.milestone_scores()]}


def _score_text(info: dict[str, Any]) -> str:
    sc = info["score"]
    arrow = "max" if info["objective"]["direction"] == "maximize" else "min"
    if sc is None:
        return f"{info['objective']['metric']} ({arrow}), no [score]"
    if sc["kind"] == "log-speedup":
        return f"log-speedup: 1x→0, {_num(sc['reference'])}x→1"
    return f"linear {sc['units']} ({arrow}): {_num(sc['baseline'])}→0, {_num(sc['reference'])}→1"


def _milestone_text(m: dict[str, Any]) -> str:
    (unit, value), = m["threshold"].items()
    at = f"{_num(value)}x" if unit == "speedup" else f"{unit} {_num(value)}"
    return f"{at} = {m['score']:.2f}"


def all_task_info() -> list[dict[str, Any]]:
    member: dict[str, list[str]] = {}
    for suite, names in suites().items():
        for n in names:
            member.setdefault(n, []).append(suite)
    return [task_info(n, e, member.get(n, [])) for n, e in list_tasks().items()]


def _tasks(args: argparse.Namespace) -> int:
    infos = all_task_info()
    if args.name:
        found = [i for i in infos if i["name"] == args.name]
        if not found:
            raise RubiconError(f"unknown task {args.name!r}; available: "
                               f"{', '.join(i['name'] for i in infos)}")
        infos = found
    if args.json:
        print(json.dumps(infos if not args.name else infos[0], indent=2))
        return 0
    if args.name:
        _card(infos[0])
        return 0
    table = Table(title="tasks (rubicon run NAME, or a task directory; rubicon tasks NAME: details)",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("task / milestone", overflow="fold", max_width=26)
    table.add_column("family")
    table.add_column("human", justify="right", no_wrap=True)
    table.add_column("score: baseline→0, reference→1", overflow="fold")
    for info in infos:
        name = info["name"] + (" (default)" if info["name"] == DEFAULT_TASK else "")
        if info["source"] != "built-in":
            name += f"\n[dim]{escape(info['source'])}[/dim]"
        if "error" in info:
            table.add_row(name, "-", "-", f"[red]invalid: {escape(info['error'])}[/red]")
            continue
        hm = info["human_minutes"]
        table.add_row(name, info["family"], _minutes(hm) if hm else "-", escape(_score_text(info)))
        for m in info["milestones"]:
            table.add_row(f"  [dim]· {escape(m['name'])}[/dim]", "", _minutes(m["human_minutes"]),
                          f"[dim]{escape(_milestone_text(m))}[/dim]")
    console.print(table)
    for suite, names in suites().items():
        console.print(f"suite {suite}: {', '.join(names)}", markup=False)
    console.print("(rubicon bench --suite NAME; human = an expert's estimated time to the reference "
                  "or milestone, its basis in rubicon tasks NAME)", markup=False)
    return 0


def _card(info: dict[str, Any]) -> None:
    """One task, every field on its own line (fits any width)."""
    out = console.print
    out(f"[bold]{escape(info['name'])}[/bold] ({escape(info['source'])})")
    if "error" in info:
        out(f"[red]invalid: {escape(info['error'])}[/red]")
        return
    rows = [("family", info["family"]), ("suites", ", ".join(info["suites"]) or "-"),
            ("description", info["description"]),
            ("objective", f"{info['objective']['direction']} {info['objective']['metric']}"),
            ("gates", ", ".join(info["gates"]) or "-"), ("editable", ", ".join(info["editable"])),
            ("score", _score_text(info) + (f"; {info['score']['basis']}" if info["score"] else "")),
            ("human", f"{_minutes(info['human_minutes']) if info['human_minutes'] else '-'}: "
                      f"{info['human_minutes_basis'] or '-'}")]
    rows += [(f"milestone {m['name']}", f"{_milestone_text(m)}, {_minutes(m['human_minutes'])}: "
                                        f"{m['basis']}") for m in info["milestones"]]
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold", overflow="fold")
    grid.add_column(overflow="fold")
    for key, value in rows:
        grid.add_row(escape(key), escape(str(value)))
    out(grid)


def _researchers(args: argparse.Namespace) -> int:
    entries = list_researchers()
    if args.name:
        if args.name not in entries:
            raise RubiconError(f"unknown researcher {args.name!r}; available: "
                               f"{', '.join(sorted(entries))}")
        return _arguments(args.name, entries[args.name])
    table = Table(title="researchers (rubicon run --researcher NAME -R key=value ...; "
                        "rubicon researchers NAME lists its arguments)")
    for col in ("name", "source", "what it does"):
        table.add_column(col)
    for name, entry in entries.items():
        table.add_row(name, entry.source, entry.summary())
    console.print(table)
    return 0


def _type_name(ann: Any) -> str:
    """int, float | None, one of a|b, ... (for people, not for Python)."""
    if typing.get_origin(ann) is typing.Literal:
        return "|".join(str(a) for a in typing.get_args(ann))
    if typing.get_origin(ann) is typing.Annotated:
        return _type_name(typing.get_args(ann)[0])
    args = typing.get_args(ann)
    if args and typing.get_origin(ann) in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in args)
    return "None" if ann is type(None) else getattr(ann, "__name__", str(ann))


def _arguments(name: str, entry: Entry) -> int:
    model: Any = getattr(entry.load(), "Settings", None)
    if model is None:
        console.print(f"researcher {name} ({entry.target}) declares no typed arguments")
        return 0
    table = Table(title=f"arguments of researcher {name} (-R key=value)")
    for col in ("argument", "type", "default", "meaning"):
        table.add_column(col)
    for key, f in model.model_fields.items():
        table.add_row(key, _type_name(f.annotation), repr(f.get_default(call_default_factory=True)),
                      escape(f.description or ""))
    console.print(table)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("tasks", help="list tasks (built-in and installed) with family, human minutes "
                                     "and score mapping, or one task's details")
    p.add_argument("name", nargs="?", default=None, help="show this task's details")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=_tasks)
    p = sub.add_parser("researchers", help="list researchers, or one researcher's arguments")
    p.add_argument("name", nargs="?", default=None, help="show this researcher's arguments")
    p.set_defaults(func=_researchers)
