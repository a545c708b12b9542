"""Write a small v1 store with the code at 9e9e935 (before the schema change); see README.md."""
from rubicon.campaign import Campaign, CampaignConfig
from rubicon.measure.protocol import ProtocolConfig
from rubicon.researcher.scripted import ScriptedResearcher
from rubicon.task import load_task
from rubicon.types import Proposal

calm = ProtocolConfig(max_foreign_load=1e9, max_pairs=3)
a = ScriptedResearcher([
    Proposal(knobs={"method": "mergesort", "cutoff": 8}, rationale="a1: mergesort",
             meta={"tokens_in": 10, "cost_usd": 0.5}),
    Proposal(knobs={"method": "mergesort", "cutoff": 8}, rationale="a2: the same again"),
])
b = ScriptedResearcher([
    Proposal(knobs={"method": "insertion"}, rationale="b1: insertion (not written: crashes)"),
    Proposal(edits=[{"file": "bench.py", "replace": "print(1)"}], rationale="b2: outside"),
])
b.name = "scripted-b"
c = Campaign.create(load_task("/tmp/store-fixture/task/demo-inversions"), "scripted",
                    directory="runs", researcher_objs=[a, b],
                    cfg=CampaignConfig(protocol=calm, baseline_runs=2, seed=7))
c.run()
# one proposal recorded but not measured (as after a crash): pending on resume
p = c.submit(Proposal(knobs={"method": "mergesort", "cutoff": 16}, rationale="pending one",
                      researcher="scripted"))
print(c.info.id, p.id)
for e in c.store.experiments(c.info.id, full=True):
    print(e.id, e.seq, e.researcher, e.state.value, e.decision, e.meta, "|", e.reason[:70])
