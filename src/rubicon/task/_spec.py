"""task.toml: the schema (pydantic models) and tree hashing; loading and cross-key checks are in _load.py.

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
import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rubicon.task._metrics import gate_explanation
from rubicon.types import Edit

BUILTIN_DIR = Path(__file__).parent / "builtin"
DEFAULT_TASK = "lm-speedrun"
# (section, key) of measurement keys added after campaigns were recorded (see identity_hash)
ADDED_LATER = (("evaluate", "rubicon"),)


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
    rubicon: bool = False  # meta-tasks: rubicon (built-in tasks included) shown, read-only


class PrepareSpec(_Strict):
    """Harness-owned step before every run: makes the run's inputs from a secret seed.

    `{inputs}` is a fresh directory whose files the run sees read-only as `inputs/` in its
    workspace; `{private}` a directory only the evaluator sees (as `{private}` in its command):
    labels, expected outputs, the answers. `{task}` is the task directory.
    """

    command: list[str]
    time_limit: float = Field(120.0, gt=0)
    memory_mb: int = Field(4096, ge=64)
    threads: int = Field(1, ge=1)


class ObjectiveSpec(_Strict):
    metric: str = "wall_seconds"
    direction: Literal["minimize", "maximize"] = "minimize"
    # wall_seconds objective only: add the evaluator's wall time to the run's (for tasks whose
    # artifact does work when it is evaluated, e.g. a model that could train itself there)
    include_evaluator: bool = False


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
        return ok, gate_explanation(f"{self.metric} {self.op} {self.value:g}", ok, v, metrics)


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


class ScoreSpec(_Strict):
    """How the objective maps to a normalized score: 0 = the baseline, 1 = the reference.

    `log-speedup` (speed tasks): score = log(speedup) / log(reference), where speedup is the
    candidate's measured speedup over the baseline and `reference` the reference solution's,
    as calibrated. `linear` (accuracies, losses): score = (objective - baseline) /
    (reference - baseline), both in the objective's units. `basis` says where the numbers
    were measured (e.g. a section of docs/BENCHMARKS.md).
    """

    kind: Literal["log-speedup", "linear"]
    reference: float
    baseline: float | None = None
    basis: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> ScoreSpec:
        if self.kind == "log-speedup":
            if self.reference <= 1:
                raise ValueError(f"log-speedup needs reference > 1 (the reference's speedup); "
                                 f"found {self.reference}")
            if self.baseline is not None:
                raise ValueError("log-speedup takes no 'baseline' (it is 1 by definition)")
        elif self.baseline is None or self.baseline == self.reference:
            raise ValueError("linear needs 'baseline' (the baseline's objective) different from "
                             "'reference'")
        return self

    def normalize(self, *, objective: float | None = None, speedup: float | None = None) -> float | None:
        """The normalized score of a measured result (None when the needed figure is missing)."""
        if self.kind == "log-speedup":
            if speedup is None or speedup <= 0:
                return None
            return math.log(speedup) / math.log(self.reference)
        if objective is None:
            return None
        assert self.baseline is not None
        return (objective - self.baseline) / (self.reference - self.baseline)


class Milestone(_Strict):
    """A level of a task worth naming, with the expert time to reach it: in horizon terms,
    one task of the task's family. Give exactly one of `score`, `speedup`, `objective`."""

    name: str
    human_minutes: float = Field(gt=0)
    basis: str = Field(min_length=1, description="where the human-minutes estimate comes from")
    score: float | None = None
    speedup: float | None = Field(None, gt=0)
    objective: float | None = None

    @model_validator(mode="after")
    def _one_threshold(self) -> Milestone:
        given = [k for k in ("score", "speedup", "objective") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"milestone {self.name!r}: give exactly one of score, speedup, "
                             f"objective (found {given or 'none'})")
        return self


class TaskFile(_Strict):
    """The literal schema of task.toml."""

    name: str
    description: str = ""
    family: str | None = None  # a family of related tasks (horizons); default: the task's name
    # a honeypot: the ordinary task it is shown as to researchers (rubicon.task._public)
    twin: str | None = None
    instructions: str = "instructions.md"
    editable: list[str]
    # Hard cap on the editable files' total size: knowledge brought from outside the run
    # (weights trained elsewhere) costs bytes. Over the cap a candidate is invalid.
    max_editable_bytes: int = Field(1_048_576, gt=0)
    knobs_file: str | None = None
    human_minutes: float | None = Field(None, gt=0)
    human_minutes_basis: str = ""
    # calibrated wall seconds of one baseline run on an idle machine: a much slower one is reported
    baseline_seconds: float | None = Field(None, gt=0)
    score: ScoreSpec | None = None
    milestones: list[Milestone] = Field(default_factory=list)
    fidelity_knob: str | None = None  # a knob the search may lower for cheap screening
    prepare: PrepareSpec | None = None
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
    def family(self) -> str:
        return self.spec.family or self.spec.name

    @property
    def workspace(self) -> Path:
        return self.dir / "workspace"

    def milestone_scores(self) -> list[tuple[Milestone, float]]:
        """Each milestone with its threshold as a normalized score (needs `[score]`)."""
        sc = self.spec.score
        if sc is None:
            return []
        out = []
        for m in self.spec.milestones:
            v = m.score if m.score is not None else sc.normalize(objective=m.objective,
                                                                  speedup=m.speedup)
            assert v is not None  # validated in load_task
            out.append((m, v))
        return out

    def without_hints(self) -> Task:
        """This task as a researcher sees it when hints are off: no playbook patches and no
        start points (they are the task author's answer key); knobs stay."""
        spec = self.spec.model_copy(update={"playbook": [], "start": []})
        return self.model_copy(update={"spec": spec, "playbook": []})

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
        """Hash of everything in the task directory (the harness checks it around every run)."""
        return tree_hash(self.dir)

    def identity_hash(self) -> str:
        """Hash of what decides a measurement: every file of the task directory except
        task.toml and the instructions/playbook files, plus task.toml's measurement keys
        (workspace rules, run, prepare, evaluate, objective, gates, knobs). Descriptive keys
        (description, family, human minutes, score mapping, milestones, starts, playbook,
        instructions) may change without making a recorded campaign a different task."""
        exclude = {"task.toml"}
        for name in (self.spec.instructions, self.spec.playbook):
            if isinstance(name, str) and (self.dir / name).is_file():
                exclude.add(name)
        keys = {"name", "editable", "max_editable_bytes", "knobs_file", "prepare", "run",
                "evaluate", "objective", "gates", "knobs"}
        h = hashlib.sha256(tree_hash(self.dir, exclude=exclude).encode())
        # keys added to the schema later: left at their default, they are not hashed, so a
        # recorded task that does not use them keeps its identity (add new ones here)
        later: dict[str, set[str]] = {}
        for section, field in ADDED_LATER:
            sub = getattr(self.spec, section)
            if sub is not None and getattr(sub, field) == type(sub).model_fields[field].default:
                later.setdefault(section, set()).add(field)
        h.update(self.spec.model_dump_json(include=keys, exclude=later or None).encode())
        return h.hexdigest()


def _read_tree(root: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            out[p.relative_to(root).as_posix()] = p.read_text(encoding="utf-8", errors="replace")
    return out


def tree_hash(root: Path, exclude: set[str] | frozenset[str] = frozenset()) -> str:
    """sha256 over relative paths and bytes of every regular file below `root` (but the
    root-relative paths in `exclude`)."""
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts and p.relative_to(root).as_posix() not in exclude:
            h.update(p.relative_to(root).as_posix().encode())
            h.update(b"\0")
            h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()
