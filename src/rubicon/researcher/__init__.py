"""Researchers propose changes; the campaign measures and decides.

A researcher is any object with a `name` and a `propose(ctx) -> Proposal | None` method
(None: nothing left to try). Its state must be derivable from `ctx.history` (the store), so a
resumed campaign continues where it stopped. `ctx.history` is a lazy, read-only sequence: a
researcher pays only for what it reads (see `rubicon.researcher._history.History`: `light`,
`recent(k)`, `where(...)`, `by_id(eid)`). Researchers never see `rubicon.measure` internals,
held-out data or the evaluator.
"""

from __future__ import annotations

from rubicon.researcher._history import History, ListHistory
from rubicon.researcher._protocol import ResearchContext, Researcher
from rubicon.researcher._registry import (
    BUILTIN,
    GROUP,
    Entry,
    ResearcherSettings,
    build,
    describe,
    make_researcher,
    researcher_entries,
    spec_of,
)

REGISTRY = BUILTIN  # the built-in researchers (name -> ("module:Class", description))


def list_researchers() -> dict[str, Entry]:
    """Every researcher one can name: built-ins, then entry points (group `rubicon.researchers`);
    each `Entry` says where it comes from (`source`) and what to import (`target`)."""
    return researcher_entries()


def available() -> dict[str, str]:
    """Researcher names (built-ins, then entry points) and one-line descriptions."""
    return {e.name: describe(e) for e in researcher_entries().values()}


__all__ = ["GROUP", "REGISTRY", "Entry", "History", "ListHistory", "ResearchContext", "Researcher",
           "ResearcherSettings", "available", "build", "describe", "list_researchers", "make_researcher",
           "researcher_entries", "spec_of"]
