"""Red-team helpers and fixtures (registered in conftest.py): copies of the demo task placed
OUTSIDE /tmp, campaigns that record every finished experiment, and a store-integrity check.

Why outside /tmp: the sandbox mounts an empty tmpfs on /tmp, so anything under pytest's tmp_path
is invisible to a candidate whatever else the harness does. Tasks and stores placed there would
make the tests pass even with the `hidden` defence removed; under /var/tmp they are only hidden
by the defences under test.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from rubicon.campaign import Campaign, CampaignConfig
from rubicon.measure.judge import TrialJudge
from rubicon.measure.protocol import ProtocolConfig
from rubicon.researcher.scripted import ScriptedResearcher
from rubicon.runner.trial import LocalExecutor
from rubicon.task import Task, load_task
from rubicon.task._spec import BUILTIN_DIR
from rubicon.types import Decision, Edit, Experiment, Proposal, State

DEMO_DIR = BUILTIN_DIR / "demo-inversions"
LM_DIR = BUILTIN_DIR / "lm-speedrun"

# A legitimate, much faster solution: used as the "later experiment" after every cheat, to show
# the campaign goes on and still measures and promotes honestly.
MERGESORT = Proposal(knobs={"method": "mergesort", "cutoff": 16}, rationale="legit: mergesort")

# A correct O(n log n) count the cheats use when they want to look legitimate.
FAST_COUNT = '''
def count_inversions(seq):
    def sort(a):
        if len(a) <= 1:
            return a, 0
        mid = len(a) // 2
        left, x = sort(a[:mid])
        right, y = sort(a[mid:])
        merged, i, j, inv = [], 0, 0, x + y
        while i < len(left) and j < len(right):
            if left[i] <= right[j]:
                merged.append(left[i]); i += 1
            else:
                merged.append(right[j]); inv += len(left) - i; j += 1
        return merged + left[i:] + right[j:], inv
    return sort(list(seq))[1]
'''


def solution(code: str, rationale: str = "red-team") -> Proposal:
    """A proposal that replaces the demo's whole solution.py with `code`."""
    return Proposal(edits=[Edit(file="solution.py", search="", replace=code)], rationale=rationale)


def local_executor(task: Task, directory: Path) -> LocalExecutor:
    """The executor a campaign builds for `task` (judged by its gates), used on its own."""
    return LocalExecutor(task, directory, TrialJudge.for_task(task))


def make_outside_dir() -> Path:
    root = Path(os.environ.get("RUBICON_REDTEAM_DIR", "/var/tmp"))
    base = root / f"rubicon-rt-{uuid.uuid4().hex[:10]}"
    base.mkdir(parents=True)
    return base


def remove_dir(path: Path) -> None:
    """shutil.rmtree, then `rm -rf` for what it cannot remove (a very deep tree left by a cheat
    when a defence is broken raises RecursionError in rmtree)."""
    with contextlib.suppress(Exception):
        shutil.rmtree(path, ignore_errors=True)
    if path.exists():
        subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=False)


@pytest.fixture
def outside_tmp() -> Iterator[Path]:
    """A fresh directory under /var/tmp (visible to the sandbox unless a defence hides it)."""
    base = make_outside_dir()
    try:
        yield base
    finally:
        remove_dir(base)


def copy_demo(base: Path, toml: list[tuple[str, str]] | None = None,
              files: dict[str, str] | None = None) -> Task:
    """A private copy of the demo task under `base`; `toml` (old, new) edits; `files` overwrite."""
    d = base / f"task-{uuid.uuid4().hex[:6]}"
    shutil.copytree(DEMO_DIR, d, ignore=shutil.ignore_patterns("__pycache__"))
    text = (d / "task.toml").read_text()
    for old, new in toml or []:
        assert old in text, old
        text = text.replace(old, new, 1)
    (d / "task.toml").write_text(text)
    for rel, body in (files or {}).items():
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        (d / rel).write_text(body)
    return load_task(d)


@pytest.fixture
def demo_copy(outside_tmp: Path) -> Callable[..., Task]:
    """A private copy of the demo task; `toml` edits (old, new) pairs and `files` overwrite."""

    def make(toml: list[tuple[str, str]] | None = None,
             files: dict[str, str] | None = None) -> Task:
        return copy_demo(outside_tmp, toml, files)

    return make


@dataclass
class Recorded:
    """A finished campaign plus a snapshot of every experiment taken when it was recorded."""

    campaign: Campaign
    snapshots: dict[int, dict[str, Any]] = field(default_factory=dict)

    @property
    def experiments(self) -> list[Experiment]:
        """Proposals in order (the baseline excluded)."""
        return [e for e in self.campaign.history() if e.researcher != "baseline"]

    def exp(self, i: int) -> Experiment:
        return self.experiments[i]

    def named(self, rationale: str) -> Experiment:
        """The one experiment proposed with this rationale."""
        found = [e for e in self.experiments if e.rationale == rationale]
        assert len(found) == 1, (rationale, [e.rationale for e in self.experiments])
        return found[0]


def _snap(e: Experiment) -> dict[str, Any]:
    return {"state": e.state.value, "reason": e.reason, "objective": e.objective,
            "files": e.files, "decision": e.decision.value if e.decision else None}


def run_campaign(task: Task, proposals: list[Proposal], directory: Path,
                 protocol: ProtocolConfig | None = None) -> Recorded:
    """A real campaign: baseline (1 run) then each proposal, recorded in a real store."""
    cfg = CampaignConfig(max_experiments=len(proposals), baseline_runs=1,
                         protocol=protocol or ProtocolConfig())
    c = Campaign.create(task, "scripted", researcher_obj=ScriptedResearcher(list(proposals)),
                        directory=directory / "runs", cfg=cfg)
    rec = Recorded(c)

    def on_event(kind: str, data: dict[str, Any]) -> None:
        if kind == "finished":
            e: Experiment = data["experiment"]
            rec.snapshots[e.id] = _snap(e)

    c.on_event = on_event
    c.run()
    return rec


def assert_store_intact(rec: Recorded, n_proposals: int) -> None:
    """The store file passes SQLite's integrity check; the baseline and every proposal are
    recorded (none pending, none lost), and each still reads as it was when it was recorded."""
    c = rec.campaign
    con = sqlite3.connect(f"file:{c.store.path}?mode=ro", uri=True)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = con.execute("SELECT id, state FROM experiments WHERE campaign_id=? ORDER BY seq",
                           (c.info.id,)).fetchall()
    finally:
        con.close()
    assert len(rows) == n_proposals + 1, rows
    assert all(state != State.PENDING.value for _, state in rows), rows
    assert set(rec.snapshots) == {r[0] for r in rows}
    for eid, snap in rec.snapshots.items():
        assert _snap(c.store.experiment(eid, runs=False)) == snap, f"experiment {eid} changed"
    base = c.baseline
    assert base.state == State.OK and base.objective is not None and base.objective > 0


def assert_goes_on(rec: Recorded, index: int = -1) -> None:
    """The legitimate MERGESORT proposal after the cheat was measured normally and promoted."""
    e = rec.exp(index)
    assert e.proposal.get("rationale") == "legit: mergesort"
    assert e.state == State.OK, (e.state, e.reason)
    assert e.decision == Decision.KEEP, e.reason
