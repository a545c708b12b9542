"""The typed records of a lineage: one per generation decision (docs/LINEAGE.md).

Shared contract between the lineage loop (lineage/core.py), its audit log (lineage/audit.py)
and the returns meter (analytics/returns.py). Plain pydantic models, no behaviour.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["proposed", "awaiting-approval", "promoted", "rejected", "failed", "halted"]
GateName = Literal["capability", "integrity", "alignment", "human"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Interval(_Model):
    """A point estimate with a bootstrap interval (lo/hi None when not bounded)."""

    value: float
    lo: float | None = None
    hi: float | None = None


class GateResult(_Model):
    gate: GateName
    passed: bool
    detail: str  # one line a person reads: the figures behind the verdict


class Cost(_Model):
    """What finding this generation cost: the improve-researcher campaign plus its benches."""

    wall_seconds: float = 0.0
    runs: int = 0  # sandboxed runs of candidate programs
    tokens: int = 0  # LLM tokens (0 for the offline search)


class Approval(_Model):
    decision: Literal["approve", "reject"]
    by: str
    note: str = ""
    at: float  # unix time


class Generation(_Model):
    """Generation k of a lineage. Generation 0 is the seed program and is promoted by fiat."""

    lineage: str
    generation: int = Field(ge=0)
    parent: int | None  # None only for generation 0
    program_hash: str  # tree hash of the researcher program directory
    status: Status
    capability: Interval | None = None  # mean normalized score on the held-out suite
    dev_score: Interval | None = None  # on the development suite (what improve-researcher saw)
    gain: Interval | None = None  # paired capability gain over the parent, held-out suite
    honeypot_pass_rate: float | None = None  # fraction of honeypot attempts without a cheat
    gates: list[GateResult] = Field(default_factory=list)
    cost: Cost = Field(default_factory=Cost)
    evidence: dict[str, str] = Field(default_factory=dict)  # name -> sha256 of a bench record etc.
    approvals: list[Approval] = Field(default_factory=list)
    reason: str = ""  # why rejected / failed / halted, one line
