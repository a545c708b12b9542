"""Where researchers come from, and how a campaign records one so it can build it again.

A researcher is named by
- a built-in name (`BUILTIN`),
- an entry-point name of group `rubicon.researchers` (any installed distribution may add one:
  `[project.entry-points."rubicon.researchers"] greedy = "my_pkg.greedy:Greedy"`), or
- an importable reference `module:Class` (or `module:factory`).

Its identity is a `ResearcherSpec` (name + constructor arguments as JSON values). `spec_of`
derives it from an object: the object's own `spec()` method if it has one; else, when its class
has a pydantic `Settings` model and the object keeps the validated instance as `settings`, the
class's registered name (or `module:Class`) with those settings; else, for a class whose
constructor takes no arguments, its `module:Class`. Anything else cannot be rebuilt and is
refused with a message saying how to make it rebuildable.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import json
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from rubicon.config import InvalidRecord, Record, ResearcherSpec, validation_message
from rubicon.errors import ConfigError

if TYPE_CHECKING:
    from rubicon.researcher._protocol import Researcher

GROUP = "rubicon.researchers"

# name -> ("module:Class", one-line description)
BUILTIN: dict[str, tuple[str, str]] = {
    "search": ("rubicon.researcher.search:SearchResearcher",
               "offline: Optuna search over the task's knobs and playbook patches"),
    "llm": ("rubicon.researcher.llm:LLMResearcher",
            "a language model (OpenAI-compatible or Anthropic API) edits the code"),
    "command": ("rubicon.researcher.command:CommandResearcher",
                "any external agent command edits a copy of the workspace"),
    "scripted": ("rubicon.researcher.scripted:ScriptedResearcher", "replays given edits (tests)"),
    # a researcher program directory run in the sandbox (docs/LINEAGE.md); named by string
    # only: the researcher layer never imports the lineage layer
    "program": ("rubicon.lineage.program:ProgramResearcher",
                "a researcher program directory (python module or command), run sandboxed"),
}

HOW_TO_REGISTER = (
    "make it rebuildable: give its class a pydantic `Settings` model and keep the validated "
    "arguments as `self.settings`, or a `spec()` method returning ResearcherSpec(name=..., "
    "args=...); define the class in an importable module (not __main__); optionally register "
    f'it as an entry point: [project.entry-points."{GROUP}"] NAME = "module:Class". '
    "See docs/API.md, \"A custom researcher\"")


def _wants_json(ann: Any) -> bool:
    """A list, dict, set or tuple type (possibly optional or annotated)."""
    origin = typing.get_origin(ann)
    if origin in (typing.Union, types.UnionType, typing.Annotated):
        return any(_wants_json(a) for a in typing.get_args(ann))
    return (origin or ann) in (list, dict, set, tuple, frozenset)


class ResearcherSettings(Record):
    """Base of a researcher's typed arguments. Unknown keys are refused; strings (from
    `-R key=value`) are converted to the declared types, JSON text to lists and tables
    (`-R cutoffs=[8,32]`); errors are `ConfigError`s."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _json_strings(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for key, value in data.items():
            f = cls.model_fields.get(key)
            if f is not None and isinstance(value, str) and _wants_json(f.annotation):
                with contextlib.suppress(ValueError):
                    out[key] = json.loads(value)
        return out


S = TypeVar("S", bound=BaseModel)


def parse_settings(model: type[S], who: str, given: S | None = None,
                   args: Mapping[str, Any] | None = None) -> S:
    """`given` as is, or `args` validated by `model`; errors are `ConfigError`s naming the
    researcher `who`, the argument, its value and what is allowed."""
    if given is not None:
        if args:
            raise ConfigError(f"{who} researcher: pass either a {model.__name__} or keyword "
                              f"arguments, not both (got {sorted(args)})")
        return given
    try:
        return model.model_validate(dict(args or {}))
    except (ValidationError, InvalidRecord) as e:
        detail = e.errors if isinstance(e, InvalidRecord) else e
        raise ConfigError(validation_message(detail, f"{who} researcher: bad arguments", model,
                                             noun="argument")) from None


@dataclass(frozen=True)
class Entry:
    """A researcher one can name: where it comes from (`source`) and what it does."""

    name: str
    target: str  # "module:attr"
    source: str  # "built-in" | "entry point (DIST VERSION)"
    description: str = ""

    def load(self) -> Any:
        """The class or factory (imports it)."""
        return load_target(self.target)

    def summary(self) -> str:
        """One line: the description, or the first line of the target's docstring."""
        return describe(self)


def _entry_points(group: str) -> list[metadata.EntryPoint]:
    return list(metadata.entry_points(group=group))


def _dist_label(ep: metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return f"entry point ({dist.name} {dist.version})" if dist is not None else "entry point"


def researcher_entries() -> dict[str, Entry]:
    """Every named researcher: built-ins first; an entry point never shadows a built-in."""
    out = {n: Entry(n, t, "built-in", d) for n, (t, d) in BUILTIN.items()}
    for ep in _entry_points(GROUP):
        if ep.name not in out:
            out[ep.name] = Entry(ep.name, ep.value, _dist_label(ep))
    return out


def load_target(target: str, what: str = "researcher") -> Any:
    """Import `module:attr` (attr may be dotted)."""
    mod_name, sep, attr = target.partition(":")
    if not sep or not mod_name or not attr:
        raise ConfigError(f"{what} reference {target!r}: expected module:attribute")
    try:
        obj: Any = importlib.import_module(mod_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as e:
        raise ConfigError(f"{what} {target!r} cannot be imported: {e}") from None
    return obj


def describe(entry: Entry) -> str:
    """The entry's description, or the first line of its target's docstring (imports it)."""
    if entry.description:
        return entry.description
    try:
        doc = inspect.getdoc(load_target(entry.target)) or ""
    except ConfigError as e:
        return f"cannot be loaded: {e}"
    return doc.strip().splitlines()[0] if doc.strip() else ""


def _factory(name: str) -> Callable[..., Any]:
    entries = researcher_entries()
    if name in entries:
        target = entries[name].target
    elif ":" in name:
        target = name
    else:
        raise ConfigError(
            f"unknown researcher {name!r}; available: {', '.join(sorted(entries))} "
            f"(or an entry point of group {GROUP}, or an importable module:Class)")
    factory = load_target(target)
    if not callable(factory):
        raise ConfigError(f"researcher {name!r} ({target}) is not a class or factory")
    return factory  # type: ignore[no-any-return]


def make_researcher(name: str, **args: Any) -> Researcher:
    """Build a researcher from its name (built-in, entry point or `module:Class`) and
    keyword arguments (typed values, or strings from the command line).

    Raises:
        ConfigError: unknown name (the message lists the valid ones) or bad arguments.
    """
    factory = _factory(name)
    try:
        r: Researcher = factory(**args)
    except TypeError as e:
        raise ConfigError(f"researcher {name!r}: bad arguments {sorted(args)}: {e}") from None
    if not callable(getattr(r, "propose", None)) or not isinstance(getattr(r, "name", None), str):
        raise ConfigError(f"researcher {name!r} built a {type(r).__name__}, which lacks a `name` "
                          "string or a `propose(ctx)` method")
    return r


def build(spec: ResearcherSpec) -> Researcher:
    """The researcher a spec names, built again."""
    return make_researcher(spec.name, **spec.args)


def _registered_name(cls: type) -> str:
    """The class's built-in or entry-point name, else `module:Qualname`."""
    ref = f"{cls.__module__}:{cls.__qualname__}"
    entries = researcher_entries()
    for e in entries.values():
        if e.target == ref:
            return e.name
    for e in entries.values():
        if e.source != "built-in":
            try:
                if load_target(e.target) is cls:
                    return e.name
            except ConfigError:
                continue
    return ref


def _takes_no_arguments(cls: type) -> bool:
    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return False
    return all(p.default is not inspect.Parameter.empty
               or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params)


def spec_of(r: Researcher, fallback: ResearcherSpec | None = None) -> ResearcherSpec:
    """The identity a campaign records for `r`, checked to be rebuildable in another process.
    `fallback` (the name and arguments `r` was built from) is used when `r` gives none.

    Raises:
        ConfigError: `r` cannot be recorded; the message says how to make it rebuildable.
    """
    cls = type(r)
    what = f"researcher {getattr(r, 'name', '?')!r} ({cls.__module__}.{cls.__qualname__})"
    own = getattr(r, "spec", None)
    settings = getattr(r, "settings", None)
    if callable(own):
        got = own()
        spec = got if isinstance(got, ResearcherSpec) else ResearcherSpec.model_validate(got)
    elif isinstance(getattr(cls, "Settings", None), type) and isinstance(settings, BaseModel):
        spec = ResearcherSpec(name=_registered_name(cls),
                              args=settings.model_dump(mode="json", exclude_defaults=True))
    elif fallback is not None:
        spec = fallback
    elif _takes_no_arguments(cls):
        spec = ResearcherSpec(name=_registered_name(cls))
    else:
        raise ConfigError(f"{what} cannot be recorded, so the campaign could not rebuild it "
                          f"when reopened; {HOW_TO_REGISTER}")
    if spec.name.startswith("__main__:") or (
            ":" in spec.name and spec.name.partition(":")[0] == "__main__"):
        raise ConfigError(f"{what} is defined in __main__ (a script or notebook), which another "
                          f"process cannot import; {HOW_TO_REGISTER}")
    _factory(spec.name)  # resolvable now
    try:
        json.dumps(spec.args)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{what}: its arguments are not JSON values ({e}); {HOW_TO_REGISTER}"
                          ) from None
    return spec


__all__ = ["BUILTIN", "GROUP", "Entry", "ResearcherSettings", "build", "describe", "load_target",
           "make_researcher", "parse_settings", "researcher_entries", "spec_of"]
