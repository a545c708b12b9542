"""The two runs of a measurement pair share their seeds (rubicon.runner.Seeds): both are judged
on the same held-out draw, and every pair draws anew. A task whose score swings with the draw
(weak-to-strong's fresh rule, posttrain's fresh questions) is then compared like with like."""

from __future__ import annotations

from pathlib import Path

from rubicon.campaign import Campaign, CampaignConfig
from rubicon.researcher.scripted import ScriptedResearcher
from rubicon.store import Selection
from rubicon.types import Edit, Proposal
from tests.runner.test_prepare import make_task


def test_a_pairs_candidate_and_incumbent_see_the_same_draw(tmp_path: Path) -> None:
    # the evaluator reports `answer_seen`, a function of the secret evaluation seed alone
    task = make_task(tmp_path)
    tweak = Proposal(parent_id=None, rationale="the same solution, spelled differently",
                     edits=[Edit(file="solve.py", search="str(sum(", replace="str( sum(")])
    cfg = CampaignConfig.from_dict({"max_experiments": 1, "baseline_runs": 1, "protocol": {
        "min_pairs": 3, "max_pairs": 3, "max_foreign_load": 1e9}})
    c = Campaign.create(task, "scripted", directory=tmp_path / "runs", cfg=cfg,
                        researcher_obj=ScriptedResearcher([tweak]))
    try:
        c.run()
        exp = c.store.select(Selection(c.info.id))[-1]
        runs = [r for r in c.store.runs(exp.id) if r.pair >= 1]
    finally:
        c.store.close()
    seen: dict[int, dict[str, float]] = {}
    for r in runs:
        seen.setdefault(r.pair, {})[r.role] = r.metrics["answer_seen"]
    assert sorted(seen) == [1, 2, 3], seen
    for pair, by_role in seen.items():
        assert by_role["candidate"] == by_role["incumbent"], (pair, by_role)
    assert len({by_role["candidate"] for by_role in seen.values()}) == 3  # a new draw per pair
