"""Verdicts a person understands without `rubicon show` (rubicon.verdicts, gate reasons)."""

from __future__ import annotations

from typing import Any

from rubicon.task._spec import Gate
from rubicon.types import Decision, Experiment, State
from rubicon.verdicts import changes, compared_with, crash_site, explain, speedup_method

SYNTAX = """Traceback (most recent call last):
  File "/tmp/rubicon-runs/work/p1.e4-abc/ws/bench.py", line 7, in <module>
    from solution import count_inversions
  File "/tmp/rubicon-runs/work/p1.e4-abc/ws/solution.py", line 12
    def count_naive(seq)
                        ^
SyntaxError: expected ':'
"""

RUNTIME = """Traceback (most recent call last):
  File "/w/ws/train.py", line 40, in <module>
    main()
  File "/w/ws/lib/model.py", line 9, in main
    torch.zeros(-1)
  File "/usr/lib/python3.11/site-packages/torch/functional.py", line 99, in zeros
    raise RuntimeError("negative")
RuntimeError: negative
"""


def exp(**kw: Any) -> Experiment:
    base: dict[str, Any] = dict(id=4, campaign_id="c", seq=3, parent_id=1, researcher="search")
    return Experiment(**{**base, **kw})


def test_crash_site_is_the_innermost_frame_in_the_candidates_files() -> None:
    assert crash_site(SYNTAX) == "solution.py:12"
    assert crash_site(RUNTIME) == "lib/model.py:9"  # library frames skipped, path kept
    assert crash_site("Killed\n") is None


def test_a_crash_verdict_gives_file_line_and_where_to_look() -> None:
    e = exp(state=State.CRASHED, decision=Decision.DISCARD, log_tail=SYNTAX,
            reason="exit code 1: SyntaxError: expected ':'")
    assert explain(e) == ("exit code 1: SyntaxError: expected ':' at solution.py:12 "
                          "(details: rubicon show 4)")


def test_a_faster_looking_discard_says_why() -> None:
    e = exp(state=State.OK, decision=Decision.DISCARD, speedup=5.51, ratio_low=0.6, ratio_high=1.1,
            meta={"compared_with": 7},
            reason="futile: wall_seconds ratio 0.812x [0.600, 1.100] over 3 pairs; ...")
    text = explain(e)
    assert "looked 1.23x better than #7" in text and "[0.600, 1.100]" in text
    assert "more pairs were unlikely to confirm it" in text
    slower = exp(state=State.OK, decision=Decision.DISCARD, ratio_low=1.1, ratio_high=1.3,
                 reason="not better")
    assert explain(slower) == "not better"


def test_vs_column_and_speedup_method() -> None:
    e = exp(meta={"compared_with": 7}, ratio_low=0.5, ratio_high=0.9, speedup=3.0)
    assert compared_with(e) == 7
    assert speedup_method(e) == "chained: #7's speedup / paired ratio"
    old = exp()  # recorded before compared_with existed: its parent
    assert compared_with(old) == 1
    assert speedup_method(old) == "median of its runs / the baseline's median"


def test_a_multi_change_proposal_lists_its_changes() -> None:
    config = {f"patch:p{i}": True for i in range(11)} | {"patch:off": False, "lr": 0.003}
    knobs = {f"k{i}": i for i in range(6)} | {"lr": 0.003}
    e = exp(rationale="enable p0 (the first patch); enable p1 ...", meta={"config": config},
            proposal={"knobs": knobs, "edits": []})
    text = changes(e)
    assert text.startswith("11 patches: p0, p1, p2") and "p10" in text and "off" not in text
    assert "7 knobs: k0=0" in text and "lr=0.003" in text
    assert changes(e, limit=3).startswith("11 patches: p0, p1, p2 (+8 more); 7 knobs: k0=0")
    single = exp(rationale="merge count\nmore", proposal={"knobs": {"method": "mergesort"}})
    assert changes(single) == "merge count"


def test_a_failed_gate_gives_the_count_behind_it() -> None:
    gate = Gate(metric="correct", op="==", value=1)
    ok, why = gate.check({"correct": 0.0, "wrong": 3.0, "answers": 3.0})
    assert not ok and why == "gate correct == 1: failed: 0 of 3 answers right (correct 0)"
    assert gate.check({"correct": 0.0})[1] == "gate correct == 1: failed (0)"  # no counts: value
    tests = Gate(metric="visible_passed", op="==", value=1)
    assert "2 of 5 visible tests passed" in tests.check({"visible_passed": 0.4,
                                                        "visible_tests": 5.0})[1]
