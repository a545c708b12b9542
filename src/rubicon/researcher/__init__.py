"""Researchers propose changes; the campaign measures and decides.

A researcher is any object with a `name` and a `propose(ctx) -> Proposal | None` method
(None: nothing left to try). Its state must be derivable from `ctx.history` (the store), so a
resumed campaign continues where it stopped. Researchers never see `rubicon.measure` internals,
held-out data or the evaluator.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from rubicon.errors import ConfigError
from rubicon.task import Task
from rubicon.types import Experiment, Proposal


class ResearchContext(BaseModel):
    """Everything a researcher may read when proposing."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    task: Task
    baseline: Experiment
    incumbent: Experiment  # the best kept experiment so far
    history: list[Experiment] = Field(default_factory=list)  # every recorded one, oldest first
    seed: int = 0
    experiments_left: int | None = None
    seconds_left: float | None = None


@runtime_checkable
class Researcher(Protocol):
    name: str

    def propose(self, ctx: ResearchContext) -> Proposal | None: ...


# name -> "module:factory"; factories take keyword string arguments (from --researcher-arg k=v)
REGISTRY: dict[str, tuple[str, str]] = {
    "search": ("rubicon.researcher.search:SearchResearcher",
               "offline: Optuna search over the task's knobs and playbook patches"),
    "llm": ("rubicon.researcher.llm:LLMResearcher",
            "a language model (OpenAI-compatible or Anthropic API) edits the code"),
    "command": ("rubicon.researcher.command:CommandResearcher",
                "any external agent command edits a copy of the workspace"),
    "scripted": ("rubicon.researcher.scripted:ScriptedResearcher", "replays given edits (tests)"),
}


def available() -> dict[str, str]:
    """Researcher names and one-line descriptions."""
    return {k: v[1] for k, v in REGISTRY.items()}


def make_researcher(name: str, **args: Any) -> Researcher:
    """Instantiate a registered researcher by name.

    Raises:
        ConfigError: unknown name (the message lists the valid ones) or bad arguments.
    """
    if name not in REGISTRY:
        raise ConfigError(
            f"unknown researcher {name!r}; available: {', '.join(sorted(REGISTRY))}"
        )
    mod_name, _, attr = REGISTRY[name][0].partition(":")
    factory = getattr(importlib.import_module(mod_name), attr)
    try:
        r: Researcher = factory(**args)
    except TypeError as e:
        raise ConfigError(f"researcher {name!r}: bad arguments {sorted(args)}: {e}") from None
    return r


__all__ = ["REGISTRY", "ResearchContext", "Researcher", "available", "make_researcher"]
