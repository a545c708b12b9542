"""Trials as Ray tasks on a real local Ray cluster started inside the test."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rubicon.campaign import Campaign, CampaignConfig
from rubicon.errors import ConfigError
from rubicon.measure.protocol import ProtocolConfig
from rubicon.researcher.scripted import ScriptedResearcher
from rubicon.types import Decision, Proposal, State

CALM = ProtocolConfig(max_foreign_load=1e9, max_pairs=4)


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[object]:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             object_store_memory=80 * 1024 * 1024, _temp_dir="/tmp/rubicon-ray-test")
    try:
        yield ray
    finally:
        ray.shutdown()


def test_a_demo_campaign_runs_through_ray(ray_cluster: object, tmp_path: Path) -> None:
    props = [Proposal(knobs={"method": "mergesort"}, rationale="mergesort"),
             Proposal(knobs={"method": "insertion"}, rationale="insertion"),
             Proposal(knobs={"method": "mergesort", "cutoff": 8}, rationale="cutoff 8")]
    c = Campaign.create("demo-inversions", "scripted", directory=tmp_path,
                        researcher_obj=ScriptedResearcher(props),
                        cfg=CampaignConfig(protocol=CALM, workers=2, executor="ray",
                                           baseline_runs=2))
    best = c.run()
    exps = {e.rationale: e for e in c.store.experiments(c.info.id, full=True) if e.seq > 0}
    assert sorted(exps) == ["cutoff 8", "insertion", "mergesort"]
    assert exps["insertion"].state == State.CRASHED and "NotImplementedError" in exps[
        "insertion"].reason
    assert best.decision == Decision.KEEP and best.speedup is not None and best.speedup > 1.5
    assert best.provenance["sandbox"] == "ray" and best.provenance["executor"] == "ray"
    # every trial ran in a Ray worker process, not in the campaign process
    placements = c.trials.placements
    assert placements and all(p["pid"] != os.getpid() for p in placements)
    # facts came back: each timed run has its wall time and the core the node's lane granted
    runs = [r for e in exps.values() for r in c.store.runs(e.id)]
    assert runs and all(r.wall_seconds > 0 and r.cores for r in runs)
    spans = [(r.started_at, r.started_at + r.wall_seconds, set(r.cores)) for r in runs]
    for i, (s1, e1, c1) in enumerate(spans):
        for s2, e2, c2 in spans[i + 1:]:
            if s1 < e2 - 0.01 and s2 < e1 - 0.01:
                assert not c1 & c2  # two Ray tasks never timed on one core at once
    # the store stayed with the campaign: nothing of it on the worker side
    assert c.store.path.parent == tmp_path


def test_missing_ray_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    from rubicon.runner.ray_executor import import_ray

    with pytest.raises(ConfigError, match=r"pip install 'rubicon\[ray\]'"):
        import_ray()


def test_unknown_executor_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="local, ray"):
        Campaign.create("demo-inversions", "scripted", directory=tmp_path,
                        researcher_obj=ScriptedResearcher([]),
                        cfg=CampaignConfig(executor="dask"))
