"""Provenance: what a campaign records about the code, packages and machine behind each result."""

from __future__ import annotations

import contextlib
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from rubicon.task._spec import tree_hash

PACKAGE = Path(__file__).resolve().parents[1]  # src/rubicon
DISTRIBUTIONS = ("rubicon", "torch", "numpy", "optuna")


def harness_hash() -> str:
    """Hash of the code that runs and judges candidates (rubicon.measure and rubicon.runner)."""
    return tree_hash(PACKAGE / "measure")[:16] + tree_hash(PACKAGE / "runner")[:16]


def collect() -> dict[str, Any]:
    """The provenance of this process: harness hash, Python, package versions, machine."""
    versions = {}
    for dist in DISTRIBUTIONS:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[dist] = metadata.version(dist)
    return {
        "harness_hash": harness_hash(),
        "python": platform.python_version(),
        "packages": versions,
        "machine": {
            "node": platform.node(),
            "platform": platform.platform(),
            "processor": platform.machine(),
            "cpus": os.cpu_count(),
        },
    }


def of_run(base: dict[str, Any], *, task_hash: str, sandbox: str, cores: list[int],
           threads: int, seed: int, executor: str, workers: int) -> dict[str, Any]:
    """The provenance recorded with one measured experiment: `base` (from `collect`) and how
    its runs ran."""
    return {
        **base,
        "task_hash": task_hash,
        "sandbox": sandbox,
        "cores": cores,
        "threads": threads,
        "last_run_seed": seed,
        "executor": executor,
        "workers": workers,
    }
