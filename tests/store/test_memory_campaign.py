"""The in-memory backend is a real store: a whole campaign runs on it."""

from __future__ import annotations

import time
from pathlib import Path

from rubicon.campaign import Campaign, CampaignConfig
from rubicon.measure.protocol import ProtocolConfig
from rubicon.researcher.scripted import ScriptedResearcher
from rubicon.store import MemoryStore
from rubicon.task import resolve_task
from rubicon.types import CampaignInfo, Decision, Proposal, State


def test_a_campaign_runs_on_the_memory_store(tmp_path: Path) -> None:
    task = resolve_task("demo-inversions")
    store = MemoryStore(tmp_path)
    info = CampaignInfo(id="mem", task_name=task.name, task_dir=str(task.dir),
                        task_hash=task.hash(), researcher="scripted", created_at=time.time())
    store.create_campaign(info)
    r = ScriptedResearcher([Proposal(knobs={"method": "mergesort", "cutoff": 8}, rationale="fast"),
                            Proposal(knobs={"method": "mergesort", "cutoff": 8}, rationale="again")])
    c = Campaign(store, info, task, r, CampaignConfig(
        baseline_runs=2, protocol=ProtocolConfig(max_foreign_load=1e9, max_pairs=3)))
    best = c.run()
    base, fast, again = store.experiments("mem", full=True)
    assert base.seq == 0 and base.state == State.OK and store.campaign("mem").status == "finished"
    assert fast.state == State.OK and fast.decision == Decision.KEEP and best.id == fast.id
    assert again.state == State.INVALID and again.duplicate_of == fast.id
    # the quick look may promote it after its screening run alone: at least that run is stored
    assert len(store.runs(fast.id)) >= 1 and len(store.subject_values(base.id)) >= 2
