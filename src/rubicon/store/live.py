"""The progress of the timed run going on now, beside the store: `live/<campaign id>.json` in
the campaign directory, replaced atomically on every `progress: STEP/TOTAL` line a run prints
(docs/TASKS.md). Display state only — the store stays the record; the dashboard reads it.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

LIVE_DIR = "live"
KEYS = ("what", "experiment", "step", "total", "elapsed")


def _path(directory: str | Path, cid: str) -> Path:
    d = Path(directory)
    return (d.parent if d.suffix == ".db" else d) / LIVE_DIR / f"{cid}.json"


def write_run_progress(directory: str | Path, cid: str, data: dict[str, Any]) -> None:
    """Record the newest progress of a run of campaign `cid` (the keys of KEYS, plus `at`, the
    time written). Never raises: progress is best effort."""
    path = _path(directory, cid)
    with contextlib.suppress(OSError, TypeError, ValueError):
        path.parent.mkdir(exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({**{k: data.get(k) for k in KEYS}, "at": time.time()}))
        os.replace(tmp, path)


def read_run_progress(directory: str | Path, cid: str) -> dict[str, Any] | None:
    """The newest recorded progress of a run of campaign `cid`, or None (none, or unreadable).
    Whether that run still goes on is for the reader to check against the store."""
    try:
        data = json.loads(_path(directory, cid).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    ok = all(isinstance(data.get(k), int) for k in ("step", "total")) and data["total"] > 0
    return data if ok else None
