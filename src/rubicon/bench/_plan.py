"""Turning what the user asked for into a bench plan: researchers `NAME[:ARGS]`, tasks by name,
directory or suite, each checked before anything runs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rubicon.bench._manifest import BenchError, BenchResearcher, BenchTask, Level
from rubicon.errors import ConfigError, TaskError
from rubicon.task import Task, resolve_task, suites

_ARG = re.compile(r"[A-Za-z_][\w.-]*=")


def parse_researcher(text: str) -> BenchResearcher:
    """`NAME` or `NAME:KEY=VALUE,KEY=VALUE`; NAME may itself be `module:Class`. A comma
    starts a new argument only when `KEY=` follows, so values may hold commas (`[8,32]`) and
    colons (URLs).

    Raises:
        BenchError: an empty name or an argument without `=`.
    """
    text = text.strip()
    name, args_text = text, ""
    for i, ch in enumerate(text):
        if ch == ":" and "=" not in text[:i] and _ARG.match(text, i + 1):
            name, args_text = text[:i], text[i + 1:]
            break
    if not name:
        raise BenchError(f"--researcher {text!r}: no researcher name (expected NAME or "
                         "NAME:KEY=VALUE,...)")
    args: dict[str, Any] = {}
    if args_text:
        for part in re.split(r",(?=[A-Za-z_][\w.-]*=)", args_text):
            key, sep, value = part.partition("=")
            if not sep or not key.strip():
                raise BenchError(f"--researcher {text!r}: argument {part!r} is not KEY=VALUE")
            args[key.strip()] = value
    return BenchResearcher(label=text, name=name, args=args)


def check_researchers(texts: list[str]) -> list[BenchResearcher]:
    """Parse and build each researcher once, so an unknown name or a bad argument stops the
    bench before any attempt runs."""
    from rubicon.researcher import make_researcher

    if not texts:
        raise BenchError("give at least one --researcher NAME[:KEY=VALUE,...] "
                         "(`rubicon researchers` lists them)")
    out: list[BenchResearcher] = []
    for text in texts:
        r = parse_researcher(text)
        if r.name == "external":
            raise BenchError("--researcher external: a bench needs a researcher that proposes on "
                             "its own; outside agents can be benched with the `command` researcher")
        if any(o.label == r.label for o in out):
            raise BenchError(f"--researcher {r.label!r} is given twice")
        try:
            make_researcher(r.name, **r.args)
        except ConfigError as e:
            raise BenchError(f"--researcher {text!r}: {e}") from None
        out.append(r)
    return out


def check_task(task: Task) -> None:
    """A task a bench can score: it maps its objective to a normalized score (`[score]`) and
    says how long it takes a human expert (`human_minutes` or `[[milestones]]`).

    Raises:
        BenchError: naming the task, its task.toml and the missing key.
    """
    where = f"task {task.name!r} ({task.dir / 'task.toml'})"
    if task.spec.score is None:
        raise BenchError(
            f"{where} has no [score] section: a bench needs the score mapping (keys score.kind "
            "and score.reference: 0 = the baseline, 1 = the reference solution; docs/TASKS.md) "
            "to normalize its results")
    if task.spec.human_minutes is None and not task.spec.milestones:
        raise BenchError(
            f"{where} has neither human_minutes nor [[milestones]]: a bench needs the human "
            "expert time of at least one level of the task for time horizons (docs/TASKS.md)")


def resolve_tasks(tasks: list[str], suite: str | None) -> list[tuple[Task, str | None]]:
    """The tasks of `--tasks` (names or task directories) and of `--suite` (a named suite of
    builtin/suites.toml), each loaded and checked, in order, without duplicates."""
    items: list[tuple[str, str | None]] = []
    if suite is not None:
        named = suites()
        if suite not in named:
            raise BenchError(f"unknown suite {suite!r}; suites: {', '.join(sorted(named))} "
                             "(or list tasks with --tasks NAME_OR_DIR,...)")
        items += [(t, suite) for t in named[suite]]
    items += [(t, None) for t in tasks]
    if not items:
        raise BenchError("give --suite NAME or --tasks T1,T2 (task names or task directories; "
                         "`rubicon tasks` lists the names)")
    out: list[tuple[Task, str | None]] = []
    for item, where in items:
        try:
            task = resolve_task(item)
        except TaskError as e:
            raise BenchError(f"{'suite ' + repr(where) + ': ' if where else ''}{e}") from None
        check_task(task)
        same = next((t for t, _ in out if t.name == task.name), None)
        if same is not None:
            if Path(same.dir).resolve() == Path(task.dir).resolve():
                continue
            raise BenchError(f"two tasks are named {task.name!r}: {same.dir} and {task.dir}")
        out.append((task, where))
    return out


def bench_task(task: Task, suite: str | None) -> BenchTask:
    from rubicon.bench._attempt import levels

    return BenchTask(name=task.name, dir=str(task.dir), hash=task.hash(), family=task.family,
                     suite=suite, levels=[Level(name=n, score=s, human_minutes=m)
                                          for n, s, m in levels(task)])


__all__ = ["bench_task", "check_researchers", "check_task", "parse_researcher", "resolve_tasks"]
