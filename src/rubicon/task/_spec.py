"""task.toml: schema, validation with precise messages, and hashing.

A task directory holds:
  task.toml          this schema
  instructions.md    what a researcher reads (or `instructions = "..."` inline)
  workspace/         files copied for each candidate; `editable` globs say which may change
  evaluator/         harness-owned; runs after `run`, outside the candidate's reach
  reference/         optional hidden solution: files that overlay workspace/
  playbook.toml      optional named patches (or inline [[playbook]] tables)
"""

from __future__ import annotations

import fnmatch
import hashlib
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rubicon.errors import ProposalError, TaskError
from rubicon.types import Edit

BUILTIN_DIR = Path(__file__).parent / "builtin"
DEFAULT_TASK = "lm-speedrun"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RunSpec(_Strict):
    """How the candidate's program runs. `python` as argv[0] means the harness's interpreter."""

    command: list[str]
    time_limit: float = Field(60.0, gt=0, description="wall seconds before a process-group kill")
    cpu_limit: float | None = Field(None, gt=0, description="CPU seconds (all threads)")
    memory_mb: int = Field(2048, ge=64, description="address-space limit per process, MiB")
    threads: int = Field(1, ge=1, description="cores and torch/OpenMP/MKL threads")
    network: bool = False
    max_processes: int = Field(64, ge=1)
    artifacts: list[str] = Field(default_factory=list, description="files handed to the evaluator")


class EvaluateSpec(_Strict):
    """Harness-owned evaluator. `{artifacts}` and `{task}` are substituted in `command`."""

    command: list[str]
    time_limit: float = Field(120.0, gt=0)
    memory_mb: int = Field(4096, ge=64)
    threads: int = Field(1, ge=1)


class ObjectiveSpec(_Strict):
    metric: str = "wall_seconds"
    direction: Literal["minimize", "maximize"] = "minimize"


class Gate(_Strict):
    metric: str
    op: Literal["<=", ">=", "==", "<", ">"]
    value: float

    def check(self, metrics: dict[str, Any]) -> tuple[bool, str]:
        """Return (passed, human explanation)."""
        got = metrics.get(self.metric)
        if not isinstance(got, int | float):
            return False, f"gate {self.metric} {self.op} {self.value}: metric missing (got {got!r})"
        v = float(got)
        ok = {
            "<=": v <= self.value,
            ">=": v >= self.value,
            "==": v == self.value,
            "<": v < self.value,
            ">": v > self.value,
        }[self.op]
        verdict = "passed" if ok else "failed"
        return ok, f"gate {self.metric} {self.op} {self.value:g}: {verdict} ({v:.6g})"


class Knob(_Strict):
    """A typed setting the offline search may choose; written to the task's knobs file."""

    type: Literal["int", "float", "choice", "bool"]
    default: Any
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: list[Any] | None = None
    description: str = ""


class SearchStart(_Strict):
    """Knob values the offline search tries first (like Optuna's enqueue_trial): the task
    author's prior, e.g. a conventional recipe for the problem's scale."""

    name: str
    description: str
    knobs: dict[str, Any]


class PlaybookPatch(_Strict):
    """A named, described code change the offline search may combine with others."""

    name: str
    description: str
    edits: list[Edit]
    requires: list[str] = Field(default_factory=list)  # other patches that must be applied too


class TaskFile(_Strict):
    """The literal schema of task.toml."""

    name: str
    description: str = ""
    instructions: str = "instructions.md"
    editable: list[str]
    knobs_file: str | None = None
    human_minutes: float | None = Field(None, gt=0)
    fidelity_knob: str | None = None  # a knob the search may lower for cheap screening
    run: RunSpec
    evaluate: EvaluateSpec | None = None
    objective: ObjectiveSpec = ObjectiveSpec()
    gates: list[Gate] = Field(default_factory=list)
    knobs: dict[str, Knob] = Field(default_factory=dict)
    playbook: list[PlaybookPatch] | str = Field(default_factory=list)
    start: list[SearchStart] = Field(default_factory=list)

    @field_validator("editable")
    @classmethod
    def _editable_nonempty(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("must list at least one glob, e.g. editable = [\"solution.py\"]")
        return v


class Task(BaseModel):
    """A loaded, validated task."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    dir: Path
    spec: TaskFile
    instructions: str
    playbook: list[PlaybookPatch]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def workspace(self) -> Path:
        return self.dir / "workspace"

    @property
    def reference(self) -> Path | None:
        ref = self.dir / "reference"
        return ref if ref.is_dir() else None

    def is_editable(self, rel: str) -> bool:
        """True when the workspace-relative path matches an `editable` glob."""
        rel = rel.replace("\\", "/")
        if rel.startswith("/") or ".." in Path(rel).parts:
            return False
        return any(fnmatch.fnmatchcase(rel, g) for g in self.spec.editable)

    def workspace_files(self) -> dict[str, str]:
        """Baseline text of every workspace file, keyed by relative path."""
        return _read_tree(self.workspace)

    def editable_files(self) -> dict[str, str]:
        return {k: v for k, v in self.workspace_files().items() if self.is_editable(k)}

    def hash(self) -> str:
        """Hash of everything in the task directory: any change means a different task."""
        return tree_hash(self.dir)


def _read_tree(root: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            out[p.relative_to(root).as_posix()] = p.read_text(encoding="utf-8", errors="replace")
    return out


def tree_hash(root: Path) -> str:
    """sha256 over relative paths and bytes of every regular file below `root`."""
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            h.update(p.relative_to(root).as_posix().encode())
            h.update(b"\0")
            h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


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
    if spec.instructions.endswith((".md", ".txt")):
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
    from rubicon.workspace import validate_knobs  # here: rubicon.workspace imports this module

    for st in spec.start:
        try:
            validate_knobs(task, st.knobs)
        except ProposalError as e:
            raise TaskError(f"{toml_path}: start {st.name!r}: {e}") from None
    names = [p.name for p in task.playbook]
    for pb in task.playbook:
        for e in pb.edits:
            if not task.is_editable(e.file):
                raise TaskError(
                    f"{toml_path}: playbook patch {pb.name!r} edits {e.file!r}, "
                    f"which is not editable (editable: {spec.editable})"
                )
        for r in pb.requires:
            if r not in names:
                raise TaskError(f"{toml_path}: playbook patch {pb.name!r} requires unknown {r!r}")
    metric_names = {"wall_seconds", "cpu_seconds", "peak_memory_mb"}
    if spec.evaluate is None:
        for g in spec.gates:
            if g.metric not in metric_names:
                raise TaskError(
                    f"{toml_path}: gate on {g.metric!r} needs an [evaluate] section to compute it"
                )


def builtin_tasks() -> dict[str, Path]:
    """Names and directories of the tasks shipped with rubicon."""
    return {
        p.parent.name: p.parent for p in sorted(BUILTIN_DIR.glob("*/task.toml"))
    }


def resolve_task(name_or_path: str | None) -> Task:
    """A built-in task name, or a path to a task directory; None means the default task."""
    name = name_or_path or DEFAULT_TASK
    builtins = builtin_tasks()
    if name in builtins:
        return load_task(builtins[name])
    if Path(name).exists():
        return load_task(name)
    raise TaskError(
        f"unknown task {name!r}: not a built-in ({', '.join(sorted(builtins)) or 'none'}) "
        "and not a directory holding task.toml"
    )
