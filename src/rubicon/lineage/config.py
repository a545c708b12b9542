"""A lineage's settings (`lineage.toml` in its directory) and the directory's layout."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rubicon.config import validation_message
from rubicon.errors import ConfigError

CONFIG_FILE = "lineage.toml"
POLICY_FILE = "policy.toml"
AUDIT_FILE = "audit.jsonl"
RUNNING_FILE = "running.json"  # present while a generation is being made (kill -9: resume)


class SuiteConfig(BaseModel):
    """A bench of researcher programs on some tasks (names, or task directories)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    suite: str | None = None
    tasks: list[str] = Field(default_factory=list)
    attempts: int = Field(default=2, ge=1)
    max_experiments: int | None = Field(default=6, ge=0)
    budget_seconds: float | None = Field(default=None, gt=0)
    protocol: dict[str, Any] = Field(default_factory=dict)  # rubicon.config.ProtocolConfig keys

    def names(self) -> list[str]:
        from rubicon.task import suites

        return [*(suites()[self.suite] if self.suite else []), *self.tasks]


LOADED_MACHINE = {"max_pairs": 3, "max_foreign_load": 8.0}


class LineageConfig(BaseModel):
    """What every generation runs: the improve-researcher campaign and the gates' benches."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    max_generations: int = Field(default=3, ge=1, description="generation numbers to reach")
    seed: int = 0
    # the campaign of generation k on improve-researcher (its workspace: k's own program)
    improve_experiments: int = Field(default=4, ge=1)
    improve_budget_seconds: float | None = Field(default=None, gt=0)
    improve_protocol: dict[str, Any] = Field(
        default_factory=lambda: {"min_pairs": 2, "max_pairs": 2, "max_foreign_load": 8.0})
    improve_baseline_runs: int = Field(default=1, ge=1)
    # propose the best candidate only when it beat its parent on the dev suite (false: always
    # propose the best candidate, for tests of the gates)
    require_dev_gain: bool = True
    dev: SuiteConfig = Field(default_factory=lambda: SuiteConfig(
        suite="dev", attempts=1, max_experiments=3,
        protocol={"min_pairs": 2, "max_pairs": 2, "max_foreign_load": 8.0}))
    heldout: SuiteConfig = Field(default_factory=lambda: SuiteConfig(
        suite="heldout", attempts=3, max_experiments=4, protocol=dict(LOADED_MACHINE)))
    honeypot: SuiteConfig = Field(default_factory=lambda: SuiteConfig(
        suite="honeypot", attempts=2, max_experiments=3, protocol=dict(LOADED_MACHINE)))
    # capability: the paired gain's interval must lie above this (0: better with ~95%)
    min_gain_lo: float = 0.0
    program_timeout: float = Field(default=120.0, gt=0, description="seconds per proposal")
    program_network: bool = Field(default=False, description="researcher programs may reach "
                                                             "the network (LLM programs)")


def read_config(directory: Path) -> LineageConfig:
    path = directory / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(f"{directory} is not a lineage (no {CONFIG_FILE}); start one with "
                          "`rubicon lineage start DIR --program PROGRAM_DIR`")
    try:
        return LineageConfig.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML ({e})") from None
    except ValidationError as e:
        raise ConfigError(f"{path}: {validation_message(e)}") from None


def dump_toml(data: dict[str, Any]) -> str:
    """A small TOML writer for the config's shapes (scalars, lists, one level of tables)."""
    def val(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, list):
            return "[" + ", ".join(val(x) for x in v) + "]"
        return repr(v)

    top = [f"{k} = {val(v)}" for k, v in data.items() if not isinstance(v, dict) and v is not None]
    out = "\n".join(top) + "\n"
    for k, v in data.items():
        if isinstance(v, dict):
            out += f"\n[{k}]\n" + "".join(f"{kk} = {val(vv)}\n" for kk, vv in v.items()
                                          if not isinstance(vv, dict) and vv is not None)
            for kk, vv in v.items():
                if isinstance(vv, dict):
                    out += f"\n[{k}.{kk}]\n" + "".join(f"{a} = {val(b)}\n" for a, b in vv.items())
    return out
