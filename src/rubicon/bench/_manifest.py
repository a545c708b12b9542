"""The bench directory's records: the plan (`bench.json`) and one manifest per attempt
(`attempts/<researcher>/<task>/<k>/attempt.json`), pydantic models written atomically.

Layout of a bench directory::

    bench.json                         the plan: researchers, tasks, attempts, budget, hints
    attempts/<researcher>/<task>/<k>/  one campaign per attempt (its own rubicon.db)
        attempt.json                   status, time segments, result or failure reason
    (a neutral bench, `BenchPlan.dir_key`: `attempts/<hmac>/`, naming neither)
    runs.jsonl                         METR-style run records (derived, rewritten)
    summary.json                       per researcher x task statistics (derived, rewritten)
    inspect/*.eval                     Inspect eval logs (derived; with the `inspect` extra)

Only `bench.json` and the attempt manifests are state; everything else is derived from them and
rewritten after every attempt.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rubicon.errors import RubiconError

FORMAT: Literal["rubicon-bench"] = "rubicon-bench"
VERSION = 1  # bump when the layout or the manifests change incompatibly
PLAN_FILE = "bench.json"
ATTEMPT_FILE = "attempt.json"
RUNS_FILE = "runs.jsonl"
SUMMARY_FILE = "summary.json"

Status = Literal["pending", "running", "finished", "failed"]


class BenchError(RubiconError):
    """A bench directory or plan that cannot be used; the message says why and what to do."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BenchResearcher(_Model):
    """One researcher of the plan: `label` names it in tables, directories and records."""

    label: str
    name: str
    args: dict[str, Any] = Field(default_factory=dict)


class Level(_Model):
    """A level of a task in horizon terms: a milestone, or the task itself at score 1."""

    name: str
    score: float  # normalized threshold
    human_minutes: float


class BenchTask(_Model):
    """One task of the plan, pinned by its hash, with its levels."""

    name: str
    dir: str
    hash: str
    family: str  # the suite family (task.toml `family`); horizons use the task name as family
    suite: str | None = None
    levels: list[Level] = Field(default_factory=list)


class BenchPlan(_Model):
    """What a bench measures; written once, read back by `--resume`, `report` and `horizon`."""

    format: Literal["rubicon-bench"] = FORMAT
    version: int = VERSION
    rubicon_version: str
    id: str
    created_at: float
    researchers: list[BenchResearcher]
    tasks: list[BenchTask]
    attempts: int = Field(ge=1)
    hints: bool
    config: dict[str, Any]  # the CampaignConfig of every attempt (seed: plus the attempt index)
    suite: str | None = None
    # Set: attempt directories get names derived from this secret, not from the researcher and
    # the task (a candidate's working directory lies inside its attempt's: a honeypot's must
    # not say so; `Bench.create(neutral_dirs=True)`, used by lineages)
    dir_key: str = ""

    def alias(self, label: str) -> str:
        """The researcher's name in run records: its label, marked when hints were on (so
        hints-on and hints-off benches never pool into one agent)."""
        return f"{label}+hints" if self.hints else label


class Segment(_Model):
    """A stretch of wall time during which a bench process worked on the attempt."""

    start: float
    end: float | None = None  # None: still running, or the process died (closed on resume)
    pid: int


class AttemptResult(_Model):
    """What a finished attempt achieved (failed attempts have none: they score 0)."""

    score: float  # normalized: 0 = the baseline, 1 = the task's reference
    best_id: int | None = None  # the best confirmed experiment
    speedup: float | None = None
    objective: float | None = None
    milestones: dict[str, bool] = Field(default_factory=dict)  # level name -> reached
    experiments: int = 0
    states: dict[str, int] = Field(default_factory=dict)
    tokens: float = 0.0
    cost_usd: float = 0.0
    curve: list[tuple[float, float]] = Field(default_factory=list)  # (active seconds, best score)


class Attempt(_Model):
    """One attempt: a campaign of one researcher on one task, in its own directory."""

    researcher: str  # the label
    task: str
    index: int
    seed: int
    status: Status = "pending"
    campaign_id: str | None = None
    segments: list[Segment] = Field(default_factory=list)
    restarts: int = 0  # times the bench process died while this attempt ran
    started_at: float | None = None
    completed_at: float | None = None
    reason: str = ""  # why it failed
    result: AttemptResult | None = None
    dir_name: str = ""  # under attempts/ when the bench's names are neutral (else derived)

    @property
    def key(self) -> str:
        return f"{self.researcher}/{self.task}/{self.index}"

    @property
    def done(self) -> bool:
        return self.status in ("finished", "failed")

    @property
    def wall_seconds(self) -> float:
        """Bench time spent on the attempt (closed segments; an open one up to now)."""
        import time

        now = time.time()
        return sum((s.end if s.end is not None else now) - s.start for s in self.segments)

    @property
    def score(self) -> float:
        """The normalized score; a failed or unfinished attempt scores 0 (the baseline)."""
        return self.result.score if self.status == "finished" and self.result else 0.0


def slug(text: str) -> str:
    """A directory name for a label: letters, digits and `._=-+` kept, the rest `_`."""
    s = re.sub(r"[^A-Za-z0-9._=+-]+", "_", text).strip("._") or "x"
    return s[:80]


def atomic_write(path: Path, text: str) -> None:
    """Write `text` to `path` so a reader (or a process killed mid-write) sees the old file or
    the new one, never a torn one: a temporary file, fsync, rename, fsync of the directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def write_model(path: Path, model: BaseModel) -> None:
    atomic_write(path, model.model_dump_json(indent=1) + "\n")


def is_bench_dir(path: str | Path) -> bool:
    """True when `path` is a directory holding a bench plan (`bench.json`)."""
    return (Path(path) / PLAN_FILE).is_file()


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BenchError(f"{path}: not a readable bench manifest ({e})") from None


def read_plan(directory: Path) -> BenchPlan:
    """The plan of a bench directory, after checking it was written by this bench version."""
    path = directory / PLAN_FILE
    if not path.is_file():
        raise BenchError(f"{directory} is not a bench directory (no {PLAN_FILE}); start one with "
                         "`rubicon bench --dir DIR ...`")
    raw = _load_json(path)
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise BenchError(f"{path}: not a rubicon bench plan (no \"format\": \"{FORMAT}\")")
    if raw.get("version") != VERSION:
        by = raw.get("rubicon_version", "an unknown version")
        raise BenchError(
            f"{directory} was written by bench format version {raw.get('version')!r} (rubicon "
            f"{by}); this rubicon reads version {VERSION} only. Use the rubicon that wrote it, "
            "or start a new bench in another directory")
    try:
        return BenchPlan.model_validate(raw)
    except ValidationError as e:
        raise BenchError(f"{path}: invalid bench plan: {e.errors(include_url=False)[0]['msg']} "
                         f"at {'.'.join(map(str, e.errors()[0]['loc']))}") from None


def read_attempt(path: Path) -> Attempt:
    try:
        return Attempt.model_validate(_load_json(path))
    except ValidationError as e:
        raise BenchError(f"{path}: invalid attempt manifest: "
                         f"{e.errors(include_url=False)[0]['msg']}") from None


__all__ = ["ATTEMPT_FILE", "FORMAT", "PLAN_FILE", "RUNS_FILE", "SUMMARY_FILE", "VERSION", "Attempt",
           "AttemptResult", "BenchError", "BenchPlan", "BenchResearcher", "BenchTask", "Level", "Segment",
           "atomic_write", "is_bench_dir", "read_attempt", "read_plan", "slug", "write_model"]
