"""Configuration records: how a campaign measures (`ProtocolConfig`), how it runs
(`CampaignConfig`) and who proposes (`ResearcherSpec`).

These are plain pydantic models: what you construct in Python is exactly what a campaign uses
and records. The layered settings of the command line (flag > environment > rubicon.toml >
default) live in `rubicon.settings` and produce a `CampaignConfig`.

Invalid values raise `ConfigError` naming the field, the value and what is allowed.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rubicon.errors import ConfigError

EXECUTORS = ("local", "ray")


def validation_message(err: ValidationError, where: str = "", model: type[BaseModel] | None = None,
                       origin: dict[str, str] | None = None, noun: str = "key") -> str:
    """`where: key=value: what is allowed; ...`, one part per problem. `model` lists the allowed
    keys of an unknown one; `origin` maps a key to where its value came from."""
    lines = []
    for e in err.errors(include_url=False):
        key = ".".join(str(p) for p in e["loc"])
        kind = e["type"]
        if kind == "extra_forbidden":
            fields = ", ".join(model.model_fields) if model is not None and len(e["loc"]) == 1 else ""
            msg = f"unknown {noun}" + (f"; allowed: {fields}" if fields else "")
        elif kind == "literal_error":
            expected = str((e.get("ctx") or {}).get("expected", ""))
            allowed = [a.strip().strip("'\"") for a in expected.replace(" or ", ",").split(",")]
            msg = "allowed: " + ", ".join(a for a in allowed if a)
        elif kind == "missing":
            msg = "required"
        else:
            msg = str(e["msg"]).removeprefix("Value error, ")
        src = f" (from {origin[key]})" if origin and key in origin else ""
        value = "" if kind in ("missing", "extra_forbidden") or not key else f"={e.get('input')!r}"
        lines.append(f"{key}{value}{src}: {msg}" if key else msg)
    prefix = f"{where}: " if where else ""
    return prefix + "; ".join(lines)


class InvalidRecord(ConfigError):
    """A record's values are invalid; `errors` is pydantic's detail (for callers that word the
    message for their own context, e.g. a researcher's arguments)."""

    def __init__(self, message: str, errors: ValidationError) -> None:
        super().__init__(message)
        self.errors = errors


class Record(BaseModel):
    """A configuration record: unknown keys are refused, errors are `ConfigError`s."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as e:
            raise InvalidRecord(validation_message(e, type(self).__name__, type(self)), e) from None

    def __setattr__(self, name: str, value: Any) -> None:
        try:
            super().__setattr__(name, value)
        except ValidationError as e:
            raise ConfigError(validation_message(e, type(self).__name__)) from None


class ProtocolFields(BaseModel):
    """The promotion rule's parameters (see `rubicon.measure.protocol`); shared by
    `ProtocolConfig` and the layered settings."""

    alpha: float = Field(default=0.05, gt=0, lt=1,
                         description="false-promotion rate of an A/A comparison")
    # 2: a large effect (a 3x speedup) is promoted after two pairs; small ones need more anyway,
    # since the t bound with one degree of freedom is wide
    # ge=2: the t bound of a look needs two pairs (one pair has no variance)
    min_pairs: int = Field(default=2, ge=2, description="A/B pairs before the first look (>= 2)")
    max_pairs: int = Field(default=6, ge=2, description="most A/B pairs per candidate")
    min_effect: float = Field(default=0.01, ge=0, lt=1,
                              description="smallest relative improvement worth promoting")
    # stop a comparison whose chance of promotion within max_pairs, at the current trend, is
    # below this (conditional power); 0 turns it off
    futility_power: float = Field(default=0.05, ge=0, le=1,
                                  description="stop when the chance of promotion is below this")
    loser_margin: float = Field(default=0.10, ge=0,
                                description="screening: discard if worse than the incumbent by this")
    max_foreign_load: float = Field(default=0.5, ge=0,
                                    description="re-run a timed run if other processes used more "
                                                "cores than this")
    max_reruns: int = Field(default=2, ge=0, description="re-runs of a loaded or failed timed run")
    # A screening run is stopped at the clear-loser time, but never before this: under it the
    # saving is small and a finished run says more (crash, gate failure). Before, short
    # incumbents had no cap at all: a 12 s incumbent let a bf16 candidate run 147 s.
    screen_cap_min_seconds: float = Field(
        default=30.0, ge=0,
        description="never stop a screening run at the clear-loser time before this many seconds")

    # The quick look (protocol.py step 2a): the candidate's first runs paired with the baseline's
    # recorded runs, so a large effect is confirmed without running the baseline again. It takes
    # this share of alpha (the paired looks share the rest); 0 turns it off.
    # 0.3: 1.5% of the 5%, split over one look per candidate run -- a 6x effect at 2% noise is
    # confirmed by the screening run alone in 87% of cases, a 5x effect at 10% noise by the
    # quick look in 95%, and the paired looks keep most of their power (docs/BENCHMARKS.md)
    quick_share: float = Field(default=0.3, ge=0, lt=1,
                               description="share of alpha for the quick look against the "
                                           "baseline's recorded runs (0: off)")
    # The quick look's pairs are minutes apart, not back to back: it promotes only a candidate
    # better by more than this with confidence, so machine drift up to it cannot promote an
    # equal candidate.
    quick_margin: float = Field(default=0.25, ge=0,
                                description="quick look: promote only if better by more than this")

    @model_validator(mode="after")
    def _pairs_order(self) -> Self:
        if self.max_pairs < self.min_pairs:
            raise ValueError(f"max_pairs={self.max_pairs} must be >= min_pairs={self.min_pairs}")
        return self


class ProtocolConfig(ProtocolFields, Record):
    """How candidates are measured and promoted (frozen)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @property
    def looks(self) -> int:
        return self.max_pairs - self.min_pairs + 1


class ResearcherSpec(Record):
    """A researcher's identity, enough to build it again: a registered name (built-in or an
    entry point of group `rubicon.researchers`) or an importable `module:Class`, and the
    keyword arguments of its constructor (JSON values)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    args: dict[str, Any] = Field(default_factory=dict)


class CampaignFields(BaseModel):
    """Fields shared by `CampaignConfig` and the layered settings."""

    max_experiments: int | None = Field(
        default=None, ge=0, description="stop after this many experiments (baseline not counted)")
    # 2: a median and a spread for the screening margin; speedups are chained through the
    # paired ratios, and every pair against the baseline runs it again
    baseline_runs: int = Field(default=2, ge=1, description="timed runs of the baseline")
    seed: int = Field(default=0, description="researcher seed")
    # Parallel and distributed campaigns (docs/BENCHMARKS.md "Workers and Ray"):
    workers: int = Field(default=1, ge=1, description="experiments in flight at once; timed runs "
                                                      "never share cores")
    executor: Literal["local", "ray"] = Field(default="local", description="where trials run")
    address: str | None = Field(default=None,
                                description="Ray cluster address (none: a local Ray)")
    lines: int = Field(default=1, ge=1,
                       description="lines of work per researcher, each with its own incumbent")
    # A task's playbook patches and [[start]] points are hints: a fast route to a result, and
    # an answer key when the researcher is being measured (`rubicon bench` turns them off).
    hints: bool = Field(default=True, description="show researchers the task's hints (playbook "
                                                  "patches, start points)")


class CampaignConfig(CampaignFields, Record):
    """How a campaign runs; recorded with the campaign (`to_dict`) and read back on open."""

    budget_seconds: float | None = Field(default=None, gt=0,
                                         description="wall time of one `run()` call")
    protocol: ProtocolConfig = Field(default_factory=ProtocolConfig)
    # Researchers as lines of work: each runs `lines` lines, each with its own incumbent;
    # empty: the campaign's one researcher.
    researchers: list[ResearcherSpec] = Field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The recorded form (JSON values)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CampaignConfig:
        """Read a recorded config; keys of other versions are ignored, values still checked."""
        d = dict(d)
        recorded = dict(d.pop("protocol", None) or {})
        proto = {k: v for k, v in recorded.items() if k in ProtocolConfig.model_fields}
        if recorded and "quick_share" not in recorded:
            proto["quick_share"] = 0.0  # recorded before the quick look: it keeps its protocol
        known = {k: v for k, v in d.items() if k in cls.model_fields}
        return cls(protocol=ProtocolConfig(**proto), **known)


__all__ = ["EXECUTORS", "CampaignConfig", "ProtocolConfig", "ResearcherSpec", "validation_message"]
