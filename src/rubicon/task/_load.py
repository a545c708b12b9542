"""Loading a task directory: parse task.toml, then the checks across its keys (a gate's
metric is computed, start points use real knobs, the score fits the objective, ...)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from rubicon.errors import ProposalError, TaskError
from rubicon.task._spec import Knob, PlaybookPatch, Task, TaskFile


def _fmt_validation(path: Path, err: ValidationError) -> str:
    lines = [f"{path}: invalid task file"]
    for e in err.errors():
        key = ".".join(str(x) for x in e["loc"]) or "(top level)"
        found = e.get("input")
        found_s = repr(found)
        if len(found_s) > 80:
            found_s = found_s[:77] + "..."
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        elif e["type"] == "missing":
            lines.append(f"  key '{key}': required but missing")
            continue
        lines.append(f"  key '{key}': {msg}; found {found_s}")
    lines.append("  see docs/TASKS.md for every key and what it allows")
    return "\n".join(lines)


def load_task(path: str | Path) -> Task:
    """Load and validate a task directory (or its task.toml).

    Raises:
        TaskError: naming the file, the key, what was found and what is allowed.
    """
    p = Path(path)
    d = p.parent if p.name == "task.toml" else p
    toml_path = d / "task.toml"
    if not toml_path.is_file():
        raise TaskError(f"{toml_path}: no task.toml here (a task is a directory holding task.toml)")
    try:
        raw = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise TaskError(f"{toml_path}: not valid TOML: {e}") from None
    try:
        spec = TaskFile.model_validate(raw)
    except ValidationError as e:
        raise TaskError(_fmt_validation(toml_path, e)) from None

    if not (d / "workspace").is_dir():
        raise TaskError(f"{d}: missing workspace/ directory (the files copied for each candidate)")
    inst_path = d / spec.instructions
    # A file name is one word ending in .md/.txt; a sentence that ends with "see notes.md" is text.
    if spec.instructions.endswith((".md", ".txt")) and not any(c.isspace() for c in spec.instructions):
        if not inst_path.resolve().is_relative_to(d.resolve()):
            raise TaskError(f"{toml_path}: key 'instructions': {spec.instructions!r} is outside the "
                            "task directory; give a file inside it, or the text itself")
        if not inst_path.is_file():
            raise TaskError(f"{toml_path}: key 'instructions': file {spec.instructions!r} not found")
        instructions = inst_path.read_text(encoding="utf-8")
    else:
        instructions = spec.instructions

    playbook: list[PlaybookPatch]
    if isinstance(spec.playbook, str):
        pb_path = d / spec.playbook
        if not pb_path.is_file():
            raise TaskError(f"{toml_path}: key 'playbook': file {spec.playbook!r} not found")
        try:
            pb_raw = tomllib.loads(pb_path.read_text(encoding="utf-8"))
            playbook = [PlaybookPatch.model_validate(x) for x in pb_raw.get("patch", [])]
        except tomllib.TOMLDecodeError as e:
            raise TaskError(f"{pb_path}: not valid TOML: {e}") from None
        except ValidationError as e:
            raise TaskError(_fmt_validation(pb_path, e)) from None
    else:
        playbook = list(spec.playbook)

    task = Task(dir=d.resolve(), spec=spec, instructions=instructions, playbook=playbook)
    _check_consistency(task, toml_path)
    return task


def validate_knobs(task: Task, knobs: dict[str, Any]) -> None:
    """Raises ProposalError naming the knob, the value and what is allowed."""
    for name, value in knobs.items():
        spec: Knob | None = task.spec.knobs.get(name)
        if spec is None:
            raise ProposalError(f"unknown knob {name!r}; knobs: {sorted(task.spec.knobs)}")
        if spec.type == "choice":
            if spec.choices is None or value not in spec.choices:
                raise ProposalError(f"knob {name}={value!r}: allowed {spec.choices}")
        elif spec.type == "bool":
            if not isinstance(value, bool):
                raise ProposalError(f"knob {name}={value!r}: must be true or false")
        else:
            ok_type = isinstance(value, int) if spec.type == "int" else isinstance(value, int | float)
            if isinstance(value, bool) or not ok_type:
                raise ProposalError(f"knob {name}={value!r}: must be {spec.type}")
            assert spec.low is not None and spec.high is not None
            if not spec.low <= value <= spec.high:
                raise ProposalError(f"knob {name}={value!r}: allowed [{spec.low:g}, {spec.high:g}]")


def _check_consistency(task: Task, toml_path: Path) -> None:
    spec = task.spec
    files = task.workspace_files()
    if not any(task.is_editable(f) for f in files):
        raise TaskError(
            f"{toml_path}: key 'editable': {spec.editable} matches no file in workspace/ "
            f"(files: {sorted(files)[:10]})"
        )
    if spec.knobs_file is not None:
        if not task.is_editable(spec.knobs_file):
            raise TaskError(
                f"{toml_path}: key 'knobs_file': {spec.knobs_file!r} must match an editable glob"
            )
        if spec.knobs_file not in files:
            raise TaskError(
                f"{toml_path}: key 'knobs_file': {spec.knobs_file!r} not found in workspace/"
            )
    elif spec.knobs:
        raise TaskError(f"{toml_path}: key 'knobs' needs 'knobs_file' (where the harness writes them)")
    for name, k in spec.knobs.items():
        where = f"{toml_path}: key 'knobs.{name}'"
        if k.type in ("int", "float") and (k.low is None or k.high is None or k.low > k.high):
            raise TaskError(f"{where}: type {k.type} needs low <= high; found {k.low}, {k.high}")
        if k.type == "choice" and not k.choices:
            raise TaskError(f"{where}: type choice needs a non-empty 'choices' list")
        if k.type == "choice" and k.choices is not None and k.default not in k.choices:
            raise TaskError(f"{where}: default {k.default!r} is not one of {k.choices}")
    if spec.fidelity_knob is not None and spec.fidelity_knob not in spec.knobs:
        raise TaskError(
            f"{toml_path}: key 'fidelity_knob': {spec.fidelity_knob!r} is not a knob; "
            f"knobs: {sorted(spec.knobs)}"
        )
    for st in spec.start:
        try:
            validate_knobs(task, st.knobs)
        except ProposalError as e:
            raise TaskError(f"{toml_path}: start {st.name!r}: {e}") from None
    names = [p.name for p in task.playbook]
    for pb in task.playbook:
        for edit in pb.edits:
            if not task.is_editable(edit.file):
                raise TaskError(
                    f"{toml_path}: playbook patch {pb.name!r} edits {edit.file!r}, "
                    f"which is not editable (editable: {spec.editable})"
                )
        for r in pb.requires:
            if r not in names:
                raise TaskError(f"{toml_path}: playbook patch {pb.name!r} requires unknown {r!r}")
    _check_score(spec, toml_path)
    if spec.objective.include_evaluator and (spec.objective.metric != "wall_seconds"
                                             or spec.evaluate is None):
        raise TaskError(f"{toml_path}: key 'objective.include_evaluator' adds the evaluator's "
                        f"wall time to a wall_seconds objective: it needs metric = "
                        f"\"wall_seconds\" (here {spec.objective.metric!r}) and an [evaluate] "
                        f"section")
    metric_names = {"wall_seconds", "cpu_seconds", "peak_memory_mb"}
    if spec.evaluate is None:
        for g in spec.gates:
            if g.metric not in metric_names:
                raise TaskError(
                    f"{toml_path}: gate on {g.metric!r} needs an [evaluate] section to compute it"
                )


def _check_score(spec: TaskFile, toml_path: Path) -> None:
    if spec.milestones and spec.score is None:
        raise TaskError(f"{toml_path}: key 'milestones' needs a [score] section "
                        "(kind and reference) to place them on the normalized scale")
    sc = spec.score
    if sc is None:
        return
    speed = spec.objective.metric == "wall_seconds" and spec.objective.direction == "minimize"
    if sc.kind == "log-speedup" and not speed:
        raise TaskError(f"{toml_path}: key 'score.kind': log-speedup fits a wall_seconds objective "
                        f"to minimize; this task's objective is {spec.objective.metric} "
                        f"({spec.objective.direction}); use kind = \"linear\"")
    for m in spec.milestones:
        if m.speedup is not None and sc.kind != "log-speedup":
            raise TaskError(f"{toml_path}: milestone {m.name!r}: 'speedup' needs score.kind = "
                            "\"log-speedup\"; give 'score' or 'objective'")
        if m.objective is not None and sc.kind != "linear":
            raise TaskError(f"{toml_path}: milestone {m.name!r}: 'objective' needs score.kind = "
                            "\"linear\"; give 'score' or 'speedup'")

