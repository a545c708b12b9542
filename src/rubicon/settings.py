"""Layered settings of the command line: flag > environment > rubicon.toml > default.

Every key has the same name in the three places: `--max-pairs 4`, `RUBICON_MAX_PAIRS=4`,
`max_pairs = 4` in a `rubicon.toml`. Two files are read, the first winning:

1. the campaign directory's `rubicon.toml` (`<dir>/rubicon.toml`);
2. the project's: the nearest `rubicon.toml` from the current directory upward, up to the
   project root (the first directory holding pyproject.toml or .git); outside a project, only
   the current directory's.

`load_settings()` returns the effective values and where each came from (`rubicon config`
prints them). The layers are pydantic-settings sources; nothing here edits argparse.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from rubicon.config import (
    CampaignConfig,
    CampaignFields,
    ProtocolConfig,
    ProtocolFields,
    validation_message,
)
from rubicon.errors import ConfigError

FILENAME = "rubicon.toml"
ENV_PREFIX = "RUBICON_"
DEFAULT_DIR = "rubicon-runs"


def parse_duration(value: Any) -> Any:
    """'90', '90s', '20m', '1.5h' -> seconds; 'none' -> None; numbers pass."""
    if not isinstance(value, str):
        return value
    if value.strip().lower() in ("none", "off", ""):
        return None
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", value)
    if not m:
        raise ValueError(f"{value!r} is not a duration (examples: 90s, 20m, 1.5h, none)")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def _names(value: Any) -> Any:
    """'a,b' -> ['a', 'b'] (an environment variable); lists pass."""
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return value


def _key_values(value: Any) -> Any:
    """A JSON object, or 'k=v' strings, -> dict; dicts pass."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            return json.loads(text)
        value = [text] if text else []
    if isinstance(value, list):
        out: dict[str, str] = {}
        for item in value:
            key, sep, val = str(item).partition("=")
            if not sep or not key.strip():
                raise ValueError(f"{item!r}: expected KEY=VALUE")
            out[key.strip()] = val
        return out
    return value


_FILES: ContextVar[tuple[Path, ...]] = ContextVar("rubicon_settings_files", default=())


class Settings(BaseSettings, CampaignFields, ProtocolFields):
    """Every layered key. Campaign and protocol keys have the meaning of `CampaignConfig` and
    `ProtocolConfig` (`budget` is their `budget_seconds`, as a duration)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid")

    dir: str = Field(default=DEFAULT_DIR, description="campaign directory holding the store")
    task: str | None = Field(default=None, description="built-in or installed task name, or a "
                                                       "task directory (none: lm-speedrun)")
    researcher: Annotated[list[str], NoDecode, BeforeValidator(_names)] = Field(
        default=["search"], description="who proposes; several: lines of work in one campaign")
    researcher_args: Annotated[dict[str, Any], NoDecode, BeforeValidator(_key_values)] = Field(
        default_factory=dict, description="arguments of the researcher(s); NAME.KEY targets one")
    budget: Annotated[float | None, BeforeValidator(parse_duration)] = Field(
        default=1800.0, gt=0, description="wall-time budget of a run, e.g. 90s, 20m, 2h, none")

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        files = [TomlConfigSettingsSource(settings_cls, toml_file=p) for p in _FILES.get()]
        return (init_settings, env_settings, *files)

    def campaign_config(self) -> CampaignConfig:
        """The `CampaignConfig` these settings describe (researchers are set by the caller)."""
        camp = {k: getattr(self, k) for k in CampaignFields.model_fields}
        proto = ProtocolConfig(**{k: getattr(self, k) for k in ProtocolFields.model_fields})
        return CampaignConfig(budget_seconds=self.budget, protocol=proto, **camp)


ORDER = ("dir", "task", "researcher", "researcher_args", "budget", *CampaignFields.model_fields,
         *ProtocolFields.model_fields)


@dataclass
class Resolved:
    """Effective settings, where each value came from, and the files read."""

    settings: Settings
    origin: dict[str, str]  # key -> "flag --x" | "env RUBICON_X" | "file PATH" | "default"
    files: list[Path] = field(default_factory=list)

    def explicit(self, key: str) -> bool:
        """Set by a flag, the environment or a file (not the default)."""
        return self.origin.get(key, "default") != "default"

    def campaign_config(self) -> CampaignConfig:
        return self.settings.campaign_config()


def project_file(cwd: Path) -> Path | None:
    """The nearest rubicon.toml from `cwd` up to the project root (see module docstring)."""
    cwd = cwd.resolve()
    chain = [cwd, *cwd.parents]
    root = next((i for i, d in enumerate(chain)
                 if (d / "pyproject.toml").exists() or (d / ".git").exists()), None)
    for d in chain[: 1 if root is None else root + 1]:
        if (d / FILENAME).is_file():
            return d / FILENAME
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not a valid TOML file: {e}") from None


def _layers(flags: Mapping[str, Any], files: list[Path]) -> list[tuple[str, dict[str, Any]]]:
    """(label, values) per layer, highest precedence first, as pydantic-settings reads them."""
    env = EnvSettingsSource(Settings)()
    out: list[tuple[str, dict[str, Any]]] = [
        ("flag", dict(flags)),
        ("env", env),
    ]
    for f in files:
        _read_toml(f)  # a clear message for a broken file
        out.append((f"file {f}", TomlConfigSettingsSource(Settings, toml_file=f)()))
    return out


def _label(layer: str, key: str, flag_names: Mapping[str, str]) -> str:
    if layer == "flag":
        return f"flag {flag_names.get(key, '--' + key.replace('_', '-'))}"
    if layer == "env":
        return f"env {ENV_PREFIX}{key.upper()}"
    return layer


def load_settings(flags: Mapping[str, Any] | None = None, cwd: str | Path | None = None,
                  flag_names: Mapping[str, str] | None = None) -> Resolved:
    """Resolve every key: `flags` (given on the command line) > environment (RUBICON_*) >
    the campaign directory's rubicon.toml > the project's rubicon.toml > default.

    Raises:
        ConfigError: a value is invalid (the message names the key, its source and what is
            allowed), a file is not valid TOML, or a file holds an unknown key.
    """
    flags = dict(flags or {})
    names = dict(flag_names or {})
    base = Path(cwd) if cwd is not None else Path.cwd()
    files: list[Path] = []
    proj = project_file(base)
    if proj is not None:
        files.append(proj)
    # the campaign directory comes from the layers above it (a flag, the env, the project file)
    first = _validate(flags, names, files)
    camp = (base / first.settings.dir / FILENAME).resolve()
    if camp.is_file() and camp not in files:
        if "dir" in _read_toml(camp):
            raise ConfigError(f"{camp}: `dir` cannot be set in the campaign directory's own "
                              f"{FILENAME}; set it in the project's {FILENAME}, RUBICON_DIR or --dir")
        files.insert(0, camp)
        return _validate(flags, names, files)
    return first


def _validate(flags: dict[str, Any], names: dict[str, str], files: list[Path]) -> Resolved:
    layers = _layers(flags, files)
    origin: dict[str, str] = {}
    for key in Settings.model_fields:
        found = [_label(lab, key, names) for lab, vals in layers if key in vals]
        if not found:
            origin[key] = "default"
        elif key == "researcher_args" and len(found) > 1:  # tables merge across layers
            origin[key] = " + ".join(found)
        else:
            origin[key] = found[0]
    for lab, vals in layers:  # unknown keys: name the file
        for key in vals:
            if key not in Settings.model_fields and lab.startswith("file "):
                origin.setdefault(key, lab)
    token = _FILES.set(tuple(files))
    try:
        s = Settings(**flags)
    except ValidationError as e:
        raise ConfigError(validation_message(e, "settings", Settings, origin)) from None
    finally:
        _FILES.reset(token)
    return Resolved(s, {k: origin[k] for k in ORDER}, list(files))


__all__ = ["DEFAULT_DIR", "FILENAME", "ORDER", "Resolved", "Settings", "load_settings",
           "parse_duration", "project_file"]
