"""Helpers for the bench tests: small scored tasks in temporary directories, a fast protocol."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from rubicon.task import resolve_task

DEMO = resolve_task("demo-inversions").dir
# a bench attempt in seconds: 3 experiments, 1 baseline run, at most 3 pairs, no re-runs when
# other programs load the machine (the tests measure the bench, not the timing protocol)
FAST = ["--max-experiments", "3", "--baseline-runs", "1", "--max-pairs", "3",
        "--max-foreign-load", "1e9"]


def task_copy(dest: Path, name: str = "tiny", score: bool = True, human: bool = True) -> Path:
    """demo-inversions copied to `dest/name` under that name; without its [score] and
    milestones when `score` is False, without human_minutes when `human` is False."""
    d = dest / name
    shutil.copytree(DEMO, d, ignore=shutil.ignore_patterns("__pycache__"))
    text = (d / "task.toml").read_text()
    text = text.replace('name = "demo-inversions"', f'name = "{name}"')
    if not score:
        head, rest = text.split("[score]", 1)
        text = head + "[run]" + rest.split("[run]", 1)[1]
    if not human:
        text = re.sub(r"^human_minutes.*\n", "", text, flags=re.M)
        head, rest = text.split("[[milestones]]", 1)
        text = head + "[run]" + rest.split("[run]", 1)[1]
    (d / "task.toml").write_text(text)
    return d
