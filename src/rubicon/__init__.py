"""rubicon: an open lab for automated AI research.

The public API (docs/API.md). Names are imported on first use, so `import rubicon` stays fast:

    from rubicon import Campaign
    c = Campaign.create("demo-inversions", "search", directory="runs")
    best = c.run()
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from rubicon._version import __version__ as __version__

# public name -> module defining it (docs/API.md documents exactly these, plus __version__)
_LAZY = {
    "Campaign": "rubicon.campaign",
    "export_experiment": "rubicon.campaign",
    "CampaignConfig": "rubicon.config",
    "ProtocolConfig": "rubicon.config",
    "ResearcherSpec": "rubicon.config",
    "load_settings": "rubicon.settings",
    "Researcher": "rubicon.researcher",
    "ResearchContext": "rubicon.researcher",
    "ResearcherSettings": "rubicon.researcher",
    "make_researcher": "rubicon.researcher",
    "list_researchers": "rubicon.researcher",
    "Task": "rubicon.task",
    "load_task": "rubicon.task",
    "resolve_task": "rubicon.task",
    "list_tasks": "rubicon.task",
    "Proposal": "rubicon.types",
    "Edit": "rubicon.types",
    "Experiment": "rubicon.types",
    "State": "rubicon.types",
    "Decision": "rubicon.types",
    "RubiconError": "rubicon.errors",
    "ConfigError": "rubicon.errors",
    "TaskError": "rubicon.errors",
    "Store": "rubicon.store",
    "open_store": "rubicon.store",
}

__all__ = [
    "__version__",
    "Campaign",
    "CampaignConfig",
    "ConfigError",
    "Decision",
    "Edit",
    "Experiment",
    "Proposal",
    "ProtocolConfig",
    "ResearchContext",
    "Researcher",
    "ResearcherSettings",
    "ResearcherSpec",
    "RubiconError",
    "State",
    "Store",
    "Task",
    "TaskError",
    "export_experiment",
    "list_researchers",
    "list_tasks",
    "load_settings",
    "load_task",
    "make_researcher",
    "open_store",
    "resolve_task",
]

if TYPE_CHECKING:
    from rubicon.campaign import Campaign, export_experiment
    from rubicon.config import CampaignConfig, ProtocolConfig, ResearcherSpec
    from rubicon.errors import ConfigError, RubiconError, TaskError
    from rubicon.researcher import (
        ResearchContext,
        Researcher,
        ResearcherSettings,
        list_researchers,
        make_researcher,
    )
    from rubicon.settings import load_settings
    from rubicon.store import Store, open_store
    from rubicon.task import Task, list_tasks, load_task, resolve_task
    from rubicon.types import Decision, Edit, Experiment, Proposal, State


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'rubicon' has no attribute {name!r}")
    value = getattr(importlib.import_module(mod), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
