"""Knowledge brought from outside the run (issue 18, class 1), through a real campaign.

A fast, correct candidate whose editable files also carry an encoded blob (the shape of
weights trained elsewhere) is measured, would be promoted, and is held for review instead; a
person's clearance (`rubicon review N --clear`) queues the same code, and the resumed campaign
promotes it. Editable files over the task's byte cap are invalid before anything runs.
"""

from __future__ import annotations

import base64
import json
import os
import random
import subprocess
import sys
from pathlib import Path

from rubicon import Campaign, CampaignConfig, Decision, State
from rubicon.researcher.scripted import ScriptedResearcher
from tests.redteam._helpers import FAST_COUNT, solution

BLOB = base64.b64encode(random.Random(11).randbytes(3000)).decode()
WITH_BLOB = FAST_COUNT + f"\nWEIGHTS = {BLOB!r}  # 'pretrained' elsewhere\n"


def cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rubicon.cli.main", *args], cwd=cwd,
                          env={**os.environ, "COLUMNS": "200"}, capture_output=True, text=True,
                          timeout=600)


def test_flagged_candidate_is_held_until_a_person_clears_it(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    proposals = [solution(WITH_BLOB, "fast count, with data"),
                 solution("X = '" + "a" * 1_100_000 + "'\n" + FAST_COUNT, "over the cap")]
    c = Campaign.create("demo-inversions", ScriptedResearcher(proposals), directory=runs,
                        cfg=CampaignConfig(max_experiments=2, baseline_runs=1))
    c.run()
    held, big = c.history()[1:3]
    assert held.flags and "encoded-blob" in held.flags[0]
    assert held.state == State.OK and held.decision == Decision.DISCARD
    assert held.reason.startswith("held for review") and held.meta.get("held_for_review")
    assert c.incumbent.id == c.info.baseline_id  # nothing promoted
    assert big.state == State.INVALID and "max_editable_bytes" in big.reason and not big.runs

    listed = cli(["review", "--dir", str(runs)], tmp_path)
    assert listed.returncode == 0 and f"{held.id}" in listed.stdout and "pending" in listed.stdout
    refused = cli(["review", str(held.id), "--clear", "--dir", str(runs)], tmp_path)
    assert refused.returncode == 2 and "--by NAME and --reason" in refused.stderr
    cleared = cli(["review", str(held.id), "--clear", "--by", "ann", "--reason",
                   "a lookup table of my own", "--dir", str(runs)], tmp_path)
    assert cleared.returncode == 0, cleared.stderr
    assert "queued its code as experiment" in cleared.stdout

    again = Campaign.open(runs, cfg=CampaignConfig(max_experiments=3, baseline_runs=1))
    again.run()
    redo = again.history()[-1]
    assert redo.researcher == "review" and redo.meta.get("remeasure_of") == held.id
    assert redo.flags  # still flagged, but its code is cleared
    assert redo.decision == Decision.KEEP, redo.reason
    assert again.incumbent.id == redo.id
    reviews = again.store.reviews(again.info.id)
    assert [(r.verdict.value, r.reviewer) for r in reviews] == [("cleared", "ann")]
    assert json.loads(json.dumps(reviews[0].model_dump(mode="json")))["reason"] == "a lookup table of my own"
