"""Maximized scores that can be 0 (fraction of hidden tests passed, of questions answered right):
the baseline of a reproduce task answers nothing, and the promotion protocol's ratios must not
divide by it."""

from __future__ import annotations

import textwrap
from pathlib import Path

from rubicon.campaign import Campaign, CampaignConfig
from rubicon.measure.protocol import ProtocolConfig
from rubicon.researcher.scripted import ScriptedResearcher
from rubicon.researcher.search import score
from rubicon.task import load_task
from rubicon.types import Decision, Edit, Experiment, Proposal, State

TOML = """
name = "zero-score"
instructions = "Answer more questions."
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
metric = "correct"
direction = "maximize"
"""

CHECK = """
import sys
from pathlib import Path
print(f"correct: {float((Path(sys.argv[1]) / 'out.txt').read_text()):g}")
"""


def _task(tmp_path: Path) -> Path:
    d = tmp_path / "zero-score"
    (d / "workspace").mkdir(parents=True)
    (d / "evaluator").mkdir()
    (d / "task.toml").write_text(TOML)
    (d / "evaluator" / "check.py").write_text(textwrap.dedent(CHECK))
    (d / "workspace" / "run.py").write_text(
        "import solution\nopen('out.txt', 'w').write(str(solution.SCORE))\n")
    (d / "workspace" / "solution.py").write_text("SCORE = 0.0\n")
    return d


def _set(value: float, why: str) -> Proposal:
    return Proposal(edits=[Edit(file="solution.py", replace=f"SCORE = {value}\n")], rationale=why)


def test_a_baseline_scoring_zero_is_measured_and_beaten(tmp_path: Path) -> None:
    props = [_set(0, "still nothing"), _set(0.4, "two of five"), _set(0.0 + 0, "nothing again")]
    c = Campaign.create(load_task(_task(tmp_path)), "scripted",
                        researcher_obj=ScriptedResearcher(props), directory=tmp_path / "runs",
                        cfg=CampaignConfig(protocol=ProtocolConfig(max_foreign_load=1e9)))
    c.run()
    base, *exps = c.store.experiments(c.info.id, full=True)
    assert base.state == State.OK and base.objective == 0.0
    same, better, worse = exps
    assert same.state == State.OK and same.decision == Decision.DISCARD
    assert better.state == State.OK and better.decision == Decision.KEEP, better.reason
    assert better.objective == 0.4 and better.speedup is None  # no ratio to a baseline of 0
    assert worse.state in (State.OK, State.INVALID) and worse.decision == Decision.DISCARD


def test_search_scores_zero_as_the_worst_result_not_a_failure() -> None:
    def exp(objective: float, state: State = State.OK) -> Experiment:
        return Experiment(id=1, campaign_id="c", seq=1, parent_id=None, researcher="x",
                          rationale="", files={}, state=state, objective=objective)

    zero, some = score(exp(0.0), maximize=True), score(exp(0.2), maximize=True)
    assert zero is not None and some is not None and some < zero  # lower is better
    assert score(exp(0.0), maximize=False) is None
    assert score(exp(0.5, State.CRASHED), maximize=True) is None
