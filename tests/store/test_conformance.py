"""The store conformance suite over every built-in backend (SQLite, in-memory)."""

from __future__ import annotations

from .conformance import StoreConformance, backend

__all__ = ["backend"]  # the parametrized fixture the suite runs on


class TestStoreConformance(StoreConformance):
    pass
