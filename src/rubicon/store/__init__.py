"""The store: the only shared state. SQLite by default (a file in the campaign directory)."""

from rubicon.store.sqlite import SCHEMA_VERSION, Store

__all__ = ["SCHEMA_VERSION", "Store"]
