"""`rubicon run TASK --researcher search` has something to try on every fix and reproduce task:
with hints on, its first proposal combines every compatible playbook patch, which leaves out
the wrong or partial fixes that conflict with the real ones and reaches the reference's score."""

from __future__ import annotations

import pytest

from rubicon.researcher import ResearchContext
from rubicon.researcher.search import SearchResearcher
from rubicon.types import Decision, Experiment, State
from rubicon.workspace import apply_proposal

from ._helpers import FIX_TASKS, REPRODUCE_TASKS, task, trial

REAL_FIXES = {
    "fix-masked-loss": {"mean-over-real-tokens", "mask-uses-pad-id"},
    "fix-tokenizer": {"decode-joined-bytes", "encode-by-merge-rank"},
    "fix-dataloader-leak": {"split-whole-groups", "fit-scaler-on-train"},
    "reproduce-mlp-ablation": {"numpy-2-names", "data-from-inputs", "seed-the-run", "write-answers"},
    "reproduce-lr-sweep": {"run-on-cpu", "torch-2-api", "seed-each-run", "write-answers"},
}


@pytest.mark.parametrize("name", FIX_TASKS + REPRODUCE_TASKS)
def test_first_search_proposal_is_the_set_of_real_fixes(name: str) -> None:
    t = task(name)
    base_score = t.spec.score.baseline if t.spec.score else None
    base = Experiment(id=1, campaign_id="c", seq=0, parent_id=None, researcher="baseline",
                      files=t.editable_files(), state=State.OK, decision=Decision.KEEP,
                      objective=base_score, speedup=1.0)
    ctx = ResearchContext(task=t, baseline=base, incumbent=base, history=[base], seed=0)
    p = SearchResearcher().propose(ctx)
    assert p is not None and p.meta["phase"] == "patches"
    enabled = {k.removeprefix("patch:") for k, v in p.meta["config"].items()
               if k.startswith("patch:") and v}
    assert enabled == REAL_FIXES[name]
    files = apply_proposal(t, t.editable_files(), p)
    if name != "reproduce-lr-sweep":  # that one trains 10 torch models: see the slow tests
        r = trial(name, 6, files=files)
        assert r.metrics[t.spec.objective.metric] == 1.0
