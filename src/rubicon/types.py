"""Records passed between the parts of rubicon (see DESIGN.md, "Architecture").

Nouns only: the operations live in campaign, runner, measure and store.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# Experiment.meta keys a researcher may use for LLM tokens (llm.py writes tokens_in/tokens_out;
# command researchers may write the others). Every tally of tokens sums these.
TOKEN_KEYS = ("tokens", "tokens_in", "tokens_out", "input_tokens", "output_tokens")


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


class KillReason(StrEnum):
    """Which enforced limit ended a run, decided by the harness from facts only: its own timers
    and byte counts, cgroup event counters, the kernel's wait status and CPU accounting. Nothing
    the candidate prints or returns as its exit status can set it (a sandboxed program's
    `exit(137)` looks like a SIGKILL through bwrap, so only a real signal status counts)."""

    NONE = "none"  # the run ended by itself (whatever its exit code)
    WALL_TIME = "wall_time"  # the harness's wall-time timer fired
    CPU_TIME = "cpu_time"  # accounted CPU time reached the limit (RLIMIT_CPU, SIGXCPU)
    MEMORY = "memory"  # the run's memory cgroup counted an OOM kill
    DISK = "disk"  # the harness counted more bytes or entries in the workspace than allowed
    # (files deleted but still held open by the run's processes included)
    OUTPUT = "output"  # the run's output (its log file) passed the output limit
    PROCESSES = "processes"  # a failed run hit its pids cgroup limit (fork refused)
    FILE_SIZE = "file_size"  # killed by SIGXFSZ (RLIMIT_FSIZE), as a real signal status
    SIGNAL = "signal"  # killed by another signal, as a real signal status
    START_FAILED = "start_failed"  # the sandbox launcher could not start the command
    BUDGET = "budget"  # the harness's timer at the end of the campaign's budget (`--budget`)


class RunFacts(BaseModel):
    """What the runner observed of one sandboxed run. Nothing here comes from the candidate
    except `exit_code` and `output_tail`, which are recorded as what they are."""

    exit_code: int | None  # None when killed by the harness
    wall_seconds: float
    cpu_seconds: float
    peak_memory_mb: float
    foreign_load: float  # mean CPU cores used by other processes during the run
    timed_out: bool = False
    kill_reason: KillReason = KillReason.NONE
    killed_reason: str = ""  # human text of kill_reason: "wall-time limit 2s", ...; "" for NONE
    output_tail: str = ""
    cores: list[int] = Field(default_factory=list)
    threads: int = 1
    sandbox: str = ""  # which sandbox backend ran it
    seed: int = 0  # the per-run seed given to the candidate and to the evaluator
    started_at: float = 0.0
    leftover_processes: int = 0  # processes still alive after the run's main process ended


class WorkspaceFacts(BaseModel):
    """What the runner saw of the task and of a run's workspace around the run: hashes and
    file checks, no verdicts (measure.judge turns them into a state)."""

    task_hash_before: str
    task_hash_after: str
    workspace_present: bool = True
    # sha256 of each read-only workspace file before and after the run (a file that is
    # missing, unreadable or a symlink has no entry)
    readonly_before: dict[str, str] = Field(default_factory=dict)
    readonly_after: dict[str, str] = Field(default_factory=dict)
    # declared artifact -> why it cannot be used ("was not produced", "is a symlink", ...);
    # only artifacts with a problem are listed, in declaration order
    artifact_problems: dict[str, str] = Field(default_factory=dict)
    inspect_error: str = ""  # the harness failed to inspect the workspace (an exception text)
    # the task's harness-owned [prepare] step failed (how it ended and its last line); the
    # candidate did not run
    prepare_error: str = ""
    prepare: RunFacts | None = None  # the [prepare] step's own run, when the task has one


class EvaluationFacts(BaseModel):
    """The harness-owned evaluator's run: its facts and a bounded read of its output (the
    first and last bytes, whole lines only; metrics lines are parsed from it)."""

    facts: RunFacts
    output: str = ""


class Trial(BaseModel):
    """One candidate run once (timed), evaluated if asked, and judged: the runner's facts plus
    measure's metrics, state and reason."""

    facts: RunFacts
    metrics: dict[str, Any] = Field(default_factory=dict)
    state: State = State.OK
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.state == State.OK


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
    kill_reason: str = ""  # KillReason value when the harness stopped the run ("" otherwise)
    # why it was scored or not, for people: "scored: other processes used 0.12 cores (at most
    # 0.5)", "re-run: ...", "stopped at 40 s: the campaign's budget ended ..." ("" before v4)
    note: str = ""
    state: str = ""  # the run's own State value ("" in stores before schema version 4)
    metrics: dict[str, Any] = Field(default_factory=dict)  # the run's metrics (numbers, text)


class ReviewVerdict(StrEnum):
    CLEARED = "cleared"  # a person found the flagged code legitimate: it may be promoted
    REJECTED = "rejected"  # it brings knowledge from outside the run: never promoted


class Review(BaseModel):
    """A person's verdict on an experiment held for review (embedded data found in its code).

    Reviews are appended, never changed; the latest one for a code hash decides."""

    campaign_id: str
    experiment_id: int
    code_hash: str
    verdict: ReviewVerdict
    reviewer: str
    reason: str
    at: float = 0.0


def latest_verdict(reviews: list[Review]) -> ReviewVerdict | None:
    """The verdict in force: the latest review's (reviews are appended, never changed)."""
    return reviews[-1].verdict if reviews else None


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
    line: int = 0  # the line of work that proposed it (0 with one line; the baseline is in all)
    duplicate_of: int | None = None  # invalid because its code repeats this measured experiment
    # what the embedded-data scan found in its editable files (rubicon.measure.embedded); a
    # flagged experiment is never promoted until a person clears its code (`rubicon review`)
    flags: list[str] = Field(default_factory=list)


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
    status: str = "running"  # running | finished | interrupted | failed
    incumbent_id: int | None = None
    baseline_id: int | None = None
    # wall time its `run()` calls have spent, summed over resumes (what `--budget` counts)
    spent_seconds: float = 0.0
    reason: str = ""  # why it stopped, when it failed (e.g. the baseline does not pass)
