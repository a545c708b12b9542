"""An interrupted run (Ctrl-C) on real sandboxed runs: its jobs start no new trial, their
experiments stay pending, and a resumed run measures them; calls outside `run()` are not gated."""

from __future__ import annotations

import _thread
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from rubicon.campaign import Campaign, CampaignConfig
from rubicon.campaign.state import Stopped
from rubicon.measure.protocol import ProtocolConfig
from rubicon.researcher.scripted import ScriptedResearcher
from rubicon.types import Decision, Proposal, State

# quick_share=0: paired looks only, so the candidate is measured over several trials and the
# Ctrl-C lands while it is measured (the quick look would finish the demo's candidate at once)
CALM = ProtocolConfig(max_foreign_load=1e9, max_pairs=3, quick_share=0.0)
WAIT = 120.0


def _campaign(d: Path, workers: int = 1) -> Campaign:
    props = [Proposal(knobs={"method": "mergesort"}, rationale="O(n log n)")]
    return Campaign.create("demo-inversions", "scripted", directory=d,
                           researcher_obj=ScriptedResearcher(props),
                           cfg=CampaignConfig(protocol=CALM, baseline_runs=2, workers=workers))


def test_a_stopped_job_starts_no_trial_and_leaves_its_experiment_pending(tmp_path: Path) -> None:
    c = _campaign(tmp_path)
    exp = c.ask()
    assert exp is not None and exp.state == State.PENDING
    stop = threading.Event()
    stop.set()
    with c._working_for(stop), pytest.raises(Stopped, match="interrupted"):
        c.tell(exp.id)
    assert c.store.experiment(exp.id).state == State.PENDING and not c._inflight
    done = c.tell(exp.id)  # outside a run: no gate
    assert done.state == State.OK and done.decision == Decision.KEEP


@pytest.mark.usefixtures("ctrl_c_delivered")
def test_ctrl_c_with_two_workers_returns_and_a_resume_measures_what_was_cut(tmp_path: Path) -> None:
    c = _campaign(tmp_path, workers=2)

    def on_event(kind: str, data: dict[str, Any]) -> None:
        if kind == "running":
            _thread.interrupt_main()  # Ctrl-C while the candidate is measured

    c.on_event = on_event
    with pytest.raises(KeyboardInterrupt):
        c.run()
    assert c.store.campaign(c.info.id).status == "interrupted"
    deadline = time.monotonic() + WAIT  # the job ends after its current trial
    while any(t.name.startswith("rubicon-worker") for t in threading.enumerate()):
        assert time.monotonic() < deadline, "a worker of the interrupted run never ended"
        time.sleep(0.05)
    cut = [e for e in c.store.experiments(c.info.id) if e.seq > 0]
    assert [e.state for e in cut] == [State.PENDING]  # not recorded as a failure
    again = Campaign.open(tmp_path, c.info.id, researcher_obj=ScriptedResearcher([]))
    best = again.run()
    assert best.id == cut[0].id and again.store.experiment(cut[0].id).state == State.OK
