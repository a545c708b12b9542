"""Exporting an experiment's workspace as files (`rubicon export`)."""

from __future__ import annotations

from pathlib import Path

from rubicon.errors import RubiconError
from rubicon.store import Store
from rubicon.task import find_task_dir, load_task
from rubicon.workspace import write_workspace


def export_experiment(store: Store, exp_id: int, dest: Path) -> Path:
    """Write an experiment's full workspace (task baseline + its editable files) to `dest`."""
    exp = store.experiment(exp_id, runs=False)
    info = store.campaign(exp.campaign_id)
    task_dir = find_task_dir(info.task_name, info.task_dir)
    if dest.exists() and any(dest.iterdir()):
        raise RubiconError(f"{dest} is not empty; export needs a new or empty directory")
    write_workspace(load_task(task_dir), exp.files, dest)
    return dest
