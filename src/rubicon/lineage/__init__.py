"""Lineages of researchers that build their successors, under gates (docs/LINEAGE.md).

The loop's names are imported on first use: a researcher program's sandboxed process imports
rubicon.lineage._shim, which must not pay for the campaign and bench machinery."""

from __future__ import annotations

import importlib
from typing import Any

from rubicon.lineage.records import Approval, Cost, GateResult, Generation, Interval

_LAZY = {
    "LineageConfig": "rubicon.lineage.config", "SuiteConfig": "rubicon.lineage.config",
    "Lineage": "rubicon.lineage.core", "LineageError": "rubicon.lineage.core",
    "export_search": "rubicon.lineage.improve", "ProgramResearcher": "rubicon.lineage.program",
}

__all__ = ["Approval", "Cost", "GateResult", "Generation", "Interval", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rubicon.lineage' has no attribute {name!r}")
