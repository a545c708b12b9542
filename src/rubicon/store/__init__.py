"""The store: the only shared state. SQLite by default (a file in the campaign directory).

The rest of rubicon talks to storage only through the `Store` protocol, and opens one with
`open_store`:

    from rubicon.store import open_store
    store = open_store("rubicon-runs", create=False, read_only=True)
    for e in store.experiments(store.campaign().id):
        print(e.seq, e.state, e.speedup)
"""

from __future__ import annotations

from pathlib import Path

from rubicon.store._schema import SCHEMA_VERSION
from rubicon.store.base import CampaignUpdate, LineStats, Progress, Selection, Store
from rubicon.store.memory import MemoryStore
from rubicon.store.sqlite import SQLiteStore, store_path


def open_store(path: str | Path, create: bool = True, read_only: bool = False) -> Store:
    """Open the store at `path` (a campaign directory or a `.db` file).

    Args:
        path: the directory holding `rubicon.db`, or the database file itself.
        create: create the store when it does not exist yet (else StoreError).
        read_only: refuse every write; never creates or upgrades anything, so it is safe on a
            store another process is writing, or one written by an older rubicon.

    Raises:
        StoreError: no store there (and not `create`), not a rubicon store, or one written by
            a newer rubicon.
    """
    return SQLiteStore(path, create=create, read_only=read_only)


__all__ = ["SCHEMA_VERSION", "CampaignUpdate", "LineStats", "MemoryStore", "Progress", "SQLiteStore",
           "Selection", "Store", "open_store", "store_path"]
