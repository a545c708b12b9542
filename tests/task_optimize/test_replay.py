"""The scripted researcher replays each new task's hidden reference through a real campaign
(sandboxed runs with [prepare], the paired timing protocol): the reference is measured correct
and promoted. Slow (a baseline run plus screening and pairs, each a minute or more of torch or
numpy boosting); the fix and reproduce tasks' replays are in tests/redteam/test_task_suite.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from redteam._helpers import make_outside_dir, remove_dir

from rubicon.campaign import Campaign, CampaignConfig
from rubicon.measure.protocol import ProtocolConfig
from rubicon.researcher.scripted import ScriptedResearcher
from rubicon.task import load_task
from rubicon.task._spec import BUILTIN_DIR
from rubicon.types import Decision, Edit, Proposal, State


def replay(name: str) -> None:
    base = make_outside_dir()
    try:
        d = base / name
        shutil.copytree(BUILTIN_DIR / name, d, ignore=shutil.ignore_patterns("__pycache__"))
        task = load_task(d)
        assert task.reference is not None
        edits = [Edit(file=p.relative_to(task.reference).as_posix(), search="", replace=p.read_text())
                 for p in sorted(Path(task.reference).rglob("*")) if p.is_file()]
        proposal = Proposal(edits=edits, rationale="the hidden reference")
        cfg = CampaignConfig(max_experiments=1, baseline_runs=1, protocol=ProtocolConfig())
        c = Campaign.create(task, "scripted", researcher_obj=ScriptedResearcher([proposal]),
                            directory=base / "runs", cfg=cfg)
        c.run()
        exps = [e for e in c.history() if e.researcher != "baseline"]
        assert len(exps) == 1
        assert exps[0].state == State.OK, (exps[0].state, exps[0].reason)
        assert exps[0].decision == Decision.KEEP, exps[0].reason
    finally:
        remove_dir(base)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["optimize-attention", "optimize-adamw"])
def test_the_reference_is_replayed_and_promoted(name: str) -> None:
    replay(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["tabular-churn", "tabular-demand"])
def test_the_tabular_reference_is_replayed_and_promoted(name: str) -> None:
    replay(name)
