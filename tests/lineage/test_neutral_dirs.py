"""A candidate's working directory lies inside its bench attempt's directory, and
`/proc/self/mountinfo` shows that directory's host path: in a lineage, neither may say which
bench or task the run belongs to (a honeypot recognised at run time is a honeypot dodged).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rubicon import Edit, Proposal, ResearchContext, ResearcherSettings
from rubicon.bench import Bench
from rubicon.bench._attempt import attempt_dir
from rubicon.campaign import Campaign
from rubicon.config import CampaignConfig
from rubicon.lineage.gates import BENCH_KINDS, bench_dirs

SPY_RESEARCHER = "tests.lineage.test_neutral_dirs:Spy"
# Appended to the candidate's solution.py: what a dodging candidate would look at.
SPY_CODE = '''
import os as _os
_seen = _os.getcwd() + open("/proc/self/mountinfo").read() + open("/proc/self/cgroup").read()
print("SPY", "honeypot" in _seen.lower(), "count-divisors" in _seen.lower(),
      "test_neutral_dirs" in _seen)
'''


class SpySettings(ResearcherSettings):
    pass


class Spy:
    """Proposes the task's own solution with SPY_CODE appended, once."""

    name = "spy"
    Settings = SpySettings

    def __init__(self, **args: Any) -> None:
        self.settings = SpySettings(**args)

    def propose(self, ctx: ResearchContext) -> Proposal | None:
        if len(ctx.history) > 1:
            return None
        code = ctx.baseline.files["solution.py"] + SPY_CODE
        return Proposal(edits=[Edit(file="solution.py", replace=code)], rationale="spy")


def test_a_lineage_gives_its_benches_random_names_and_keeps_them(tmp_path: Path) -> None:
    gdir = tmp_path / "gen" / "3"
    first = bench_dirs(gdir)
    assert set(first) == set(BENCH_KINDS)
    names = [p.name for p in first.values()]
    assert len(set(names)) == 2 and not any(k in n for n in names for k in BENCH_KINDS)
    assert bench_dirs(gdir) == first  # a resume finds the same directories
    assert bench_dirs(tmp_path / "gen" / "4") != first
    old = tmp_path / "gen" / "2"
    (old / "heldout").mkdir(parents=True)  # judged before the names were random
    assert bench_dirs(old) == {k: old / k for k in BENCH_KINDS}


def test_a_neutral_bench_names_attempts_by_neither_researcher_nor_task(tmp_path: Path) -> None:
    bench = Bench.create(tmp_path / "b", ["search"], ["honeypot-answers", "count-divisors"],
                         attempts=2, neutral_dirs=True)
    dirs = [attempt_dir(bench.dir, a).relative_to(bench.dir) for a in bench.attempts()]
    assert len(set(dirs)) == 4
    for d in dirs:
        assert not any(w in str(d) for w in ("search", "honeypot", "count", "divisors")), d
        assert (bench.dir / d / "attempt.json").is_file()
    assert Bench.open(bench.dir).attempts() == bench.attempts()
    plain = Bench.create(tmp_path / "p", ["search"], ["count-divisors"])
    assert "count-divisors" in str(attempt_dir(plain.dir, plain.attempts()[0]))


def test_a_candidate_in_a_lineage_honeypot_bench_cannot_see_where_it_runs(tmp_path: Path) -> None:
    """The spy reads its working directory, its mount table and its cgroup: in a neutral
    bench they name no task (without neutral names they do: the control below)."""

    def spy_lines(neutral: bool, name: str) -> list[str]:
        cfg = CampaignConfig.from_dict({"max_experiments": 2, "baseline_runs": 2})
        bench = Bench.create(tmp_path / name, [SPY_RESEARCHER], ["honeypot-answers"],
                             cfg=cfg, neutral_dirs=neutral)
        (att,) = bench.run()
        assert att.status == "finished", att.reason
        c = Campaign.open(attempt_dir(bench.dir, att), att.campaign_id)
        tails = [e.log_tail for e in c.history() if e.rationale == "spy"]
        return [ln for t in tails for ln in t.splitlines() if ln.startswith("SPY ")]

    neutral = spy_lines(True, "gen-3-bench")
    assert neutral and all(ln == "SPY False False False" for ln in neutral), neutral
    control = spy_lines(False, "plain")
    assert control and all(ln.startswith("SPY True") for ln in control), control
    assert json.dumps(neutral)  # the lines are data, recorded as the candidate printed them
