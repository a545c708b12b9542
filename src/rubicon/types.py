"""Records passed between the parts of rubicon (see DESIGN.md, "Architecture").

Nouns only: the operations live in campaign, runner, measure and store.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class State(StrEnum):
    """What happened to an experiment. Failures are states, not exceptions."""

    PENDING = "pending"  # proposed, not yet measured (re-run on resume)
    OK = "ok"  # ran, evaluated, passed every gate
    CRASHED = "crashed"  # non-zero exit, killed by a limit other than wall time, no artifact
    TIMED_OUT = "timed_out"  # exceeded the wall-time limit
    GATE_FAILED = "gate_failed"  # ran, but a gate (e.g. val_loss <= target) failed
    TAMPERED = "tampered"  # changed files it must not touch, or the harness saw a cheat
    INVALID = "invalid"  # the proposal itself is unusable (edit outside editable files, ...)


class Decision(StrEnum):
    KEEP = "keep"  # promoted: becomes the incumbent
    DISCARD = "discard"


class Edit(BaseModel):
    """Replace the exact text `search` by `replace` in `file` (a workspace-relative path).

    An empty `search` means: create or overwrite the whole file with `replace`.
    """

    model_config = ConfigDict(frozen=True)

    file: str
    search: str = ""
    replace: str


class Proposal(BaseModel):
    """A researcher's suggested change to the parent experiment's workspace."""

    parent_id: int | None = None  # None: the campaign's incumbent
    edits: list[Edit] = Field(default_factory=list)
    knobs: dict[str, Any] = Field(default_factory=dict)  # merged into the task's knobs file
    rationale: str = ""
    researcher: str = ""
    researcher_args: dict[str, Any] = Field(default_factory=dict)
    # Free-form accounting a researcher wants recorded (tokens, cost, fidelity, ...).
    meta: dict[str, Any] = Field(default_factory=dict)


class RunFacts(BaseModel):
    """What the runner observed of one sandboxed run. Nothing here comes from the candidate."""

    exit_code: int | None  # None when killed by the harness
    wall_seconds: float
    cpu_seconds: float
    peak_memory_mb: float
    foreign_load: float  # mean CPU cores used by other processes during the run
    timed_out: bool = False
    killed_reason: str = ""  # "wall time limit", "memory limit", ...
    output_tail: str = ""
    cores: list[int] = Field(default_factory=list)
    threads: int = 1
    sandbox: str = ""  # which sandbox backend ran it
    seed: int = 0  # the per-run seed given to the candidate and to the evaluator
    started_at: float = 0.0
    leftover_processes: int = 0  # processes still alive after the run's main process ended


class TimedRun(BaseModel):
    """One timed run as recorded in the store."""

    role: str  # "candidate" | "incumbent" | "baseline"
    pair: int  # index of the A/B pair; 0 for the screening run
    wall_seconds: float
    cpu_seconds: float
    peak_memory_mb: float
    foreign_load: float
    exit_code: int | None
    scored: bool  # False when re-run because of foreign load or failure
    objective: float | None = None  # the task's objective metric for this run, when known
    cores: list[int] = Field(default_factory=list)
    threads: int = 1
    started_at: float = 0.0


class Score(BaseModel):
    """The measured verdict on a candidate against the incumbent."""

    objective: float | None = None  # median of the candidate's scored objective values
    ratio: float | None = None  # candidate / incumbent (geometric mean of paired ratios)
    ratio_low: float | None = None  # confidence interval on the ratio
    ratio_high: float | None = None
    pairs: int = 0
    speedup: float | None = None  # baseline objective / candidate objective (speed tasks)
    promote: bool = False
    reason: str = ""


class Experiment(BaseModel):
    """One candidate: proposal, facts, score and decision, with its provenance."""

    id: int
    campaign_id: str
    seq: int  # 0 is the baseline
    parent_id: int | None
    researcher: str
    researcher_args: dict[str, Any] = Field(default_factory=dict)
    rationale: str = ""
    proposal: dict[str, Any] = Field(default_factory=dict)
    diff: str = ""  # unified diff against the parent
    files: dict[str, str] = Field(default_factory=dict)  # editable files, full text
    state: State = State.PENDING
    decision: Decision | None = None
    reason: str = ""
    metrics: dict[str, Any] = Field(default_factory=dict)
    objective: float | None = None
    speedup: float | None = None
    ratio_low: float | None = None
    ratio_high: float | None = None
    seed: int = 0
    provenance: dict[str, Any] = Field(default_factory=dict)
    log_tail: str = ""
    meta: dict[str, Any] = Field(default_factory=dict)
    created_at: float = 0.0
    finished_at: float | None = None
    runs: list[TimedRun] = Field(default_factory=list)


class CampaignInfo(BaseModel):
    """A campaign as recorded in the store."""

    id: str
    task_name: str
    task_dir: str
    task_hash: str
    researcher: str
    researcher_args: dict[str, Any] = Field(default_factory=dict)
    config: dict[str, Any] = Field(default_factory=dict)
    created_at: float
    status: str = "running"  # running | finished | interrupted
    incumbent_id: int | None = None
    baseline_id: int | None = None
