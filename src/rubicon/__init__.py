"""rubicon: an open lab for automated AI research.

Public facade. Heavy modules are imported on first attribute access so `import rubicon` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "Campaign": "rubicon.campaign",
    "open_campaign": "rubicon.campaign",
    "Store": "rubicon.store",
    "load_task": "rubicon.task",
    "resolve_task": "rubicon.task",
    "Task": "rubicon.task",
    "make_researcher": "rubicon.researcher",
    "ResearchContext": "rubicon.researcher",
    "Edit": "rubicon.types",
    "Proposal": "rubicon.types",
    "Experiment": "rubicon.types",
    "RunFacts": "rubicon.types",
    "Score": "rubicon.types",
    "State": "rubicon.types",
    "Decision": "rubicon.types",
    "RubiconError": "rubicon.errors",
}

__all__ = ["__version__", *sorted(_LAZY)]


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'rubicon' has no attribute {name!r}")
    return getattr(importlib.import_module(mod), name)
