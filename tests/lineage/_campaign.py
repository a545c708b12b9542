"""A small real campaign whose promotions have known gains (the returns tests wrap it in a fixture;
not a conftest.py, so the lineage loop's tests can have their own): a maximized, deterministic score
(the evaluator reads it from solution.py), so the paired ratios are exact and fast."""

from __future__ import annotations

import shutil
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

from rubicon.campaign import Campaign, CampaignConfig
from rubicon.measure.protocol import ProtocolConfig
from rubicon.researcher.scripted import ScriptedResearcher
from rubicon.task import load_task
from rubicon.types import Edit, Proposal

TOML = """
name = "score-steps"
instructions = "Raise SCORE."
editable = ["solution.py"]

[run]
command = ["python", "run.py"]
time_limit = 30
memory_mb = 512
artifacts = ["out.txt"]

[evaluate]
command = ["python", "{task}/evaluator/check.py", "{artifacts}"]
time_limit = 30

[objective]
metric = "score"
direction = "maximize"
"""

CHECK = """
import sys
from pathlib import Path
print(f"score: {float((Path(sys.argv[1]) / 'out.txt').read_text()):g}")
"""

# 1 -> 1.5 -> 2 -> 2.25: gains of 50%, 33% and 12.5% (each promotion's gain shrinks)
SCORES = (1.5, 2.0, 2.25)


def _set(value: float) -> Proposal:
    return Proposal(edits=[Edit(file="solution.py", replace=f"SCORE = {value}\n")],
                    rationale=f"score {value}")


def steps_campaign() -> Iterator[Path]:
    """The campaign directory of a finished score-steps campaign: baseline and 3 promotions."""
    root = Path(tempfile.mkdtemp(prefix="rubicon-returns-test-"))
    d = root / "score-steps"
    (d / "workspace").mkdir(parents=True)
    (d / "evaluator").mkdir()
    (d / "task.toml").write_text(TOML)
    (d / "evaluator" / "check.py").write_text(textwrap.dedent(CHECK))
    (d / "workspace" / "run.py").write_text(
        "import solution\nopen('out.txt', 'w').write(str(solution.SCORE))\n")
    (d / "workspace" / "solution.py").write_text("SCORE = 1.0\n")
    cfg = CampaignConfig(baseline_runs=1, max_experiments=len(SCORES), protocol=ProtocolConfig(
        max_foreign_load=1e9, min_pairs=2, max_pairs=2))
    c = Campaign.create(load_task(d), "scripted", directory=root / "runs", cfg=cfg,
                        researcher_obj=ScriptedResearcher([_set(v) for v in SCORES]))
    c.run()
    c.store.close()
    yield root / "runs"
    shutil.rmtree(root, ignore_errors=True)
