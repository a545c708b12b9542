"""The merge policy of lines of work (rubicon.campaign.lines): every branch, on plain records,
without a store or a sandbox."""

from __future__ import annotations

import pytest

from rubicon.campaign.lines import (
    MAX_RIVALS,
    Look,
    Outcome,
    Recheck,
    Standing,
    after_recheck,
    decide,
    start,
)
from rubicon.types import State

WIN = Look(State.OK, True, "better: 0.5x")
LOSS = Look(State.OK, False, "not better: 1.0x")
CRASH = Look(State.CRASHED, False, "exit 1")


def test_start_records_the_first_incumbent_as_beaten_only_when_promoted() -> None:
    s = start(2, 10, WIN)
    assert (s.line, s.first, s.state, s.promote, s.reason) == (2, 10, State.OK, True, WIN.reason)
    assert s.beaten == {10} and s.rechecks == 0 and not s.lost and s.notes == ()
    assert start(2, 10, LOSS).beaten == frozenset()
    assert start(2, 10, CRASH).state == State.CRASHED


def test_a_loser_is_discarded_with_its_reason_unchanged() -> None:
    assert decide(start(0, 1, LOSS), 1, 1) == Outcome(False, False, State.OK, LOSS.reason)
    assert decide(start(0, 1, CRASH), 7, 9) == Outcome(False, False, State.CRASHED, CRASH.reason)


def test_a_winner_against_unmoved_incumbents_is_kept_everywhere() -> None:
    assert decide(start(0, 1, WIN), 1, 1) == Outcome(True, True, State.OK, WIN.reason)


def test_a_moved_line_incumbent_is_rechecked_first() -> None:
    s = start(0, 1, WIN)
    assert decide(s, 5, 5) == Recheck(target=5, number=1, of_line=True)
    assert decide(s, 5, 8) == Recheck(target=5, number=1, of_line=True)  # line before campaign


def test_then_a_campaign_incumbent_of_another_line_is_rechecked() -> None:
    s = start(1, 1, WIN)
    assert decide(s, 1, 8) == Recheck(target=8, number=1, of_line=False)


def test_beating_every_moved_incumbent_keeps_it_everywhere_with_notes() -> None:
    s = start(1, 1, WIN)
    s = after_recheck(s, Recheck(5, 1, True), Look(State.OK, True, "better: 0.8x"))
    assert s.beaten == {1, 5} and s.notes == ("also better vs #5: better: 0.8x",)
    assert decide(s, 5, 8) == Recheck(8, 2, False)
    s = after_recheck(s, Recheck(8, 2, False), Look(State.OK, True, "better: 0.9x"))
    out = decide(s, 5, 8)
    assert out == Outcome(True, True, State.OK, "better: 0.5x; also better vs #5: better: 0.8x; "
                                                "also better vs #8: better: 0.9x")


def test_losing_to_the_newer_line_incumbent_discards_it() -> None:
    s = after_recheck(start(0, 1, WIN), Recheck(5, 1, True), LOSS)
    assert not s.promote and s.rechecks == 1
    assert s.reason == "beat #1 (better: 0.5x) but not the newer line incumbent vs #5: not better: 1.0x"
    assert decide(s, 5, 5) == Outcome(False, False, State.OK, s.reason)


def test_losing_to_the_campaign_incumbent_keeps_it_in_its_line_only() -> None:
    s = after_recheck(start(1, 1, WIN), Recheck(8, 1, False), LOSS)
    assert s.promote and s.lost == {8: "vs #8: not better: 1.0x"} and s.beaten == {1}
    out = decide(s, 1, 8)  # not re-checked against #8 again
    assert out == Outcome(True, False, State.OK,
                          "better: 0.5x; kept in line 1; campaign incumbent #8 stays "
                          "(vs #8: not better: 1.0x)")


def test_a_campaign_incumbent_that_moved_again_is_rechecked_after_a_loss() -> None:
    s = after_recheck(start(1, 1, WIN), Recheck(8, 1, False), LOSS)
    assert decide(s, 1, 9) == Recheck(9, 2, False)


def test_a_failed_recheck_discards_it_with_the_failure_as_state() -> None:
    s = after_recheck(start(0, 1, WIN), Recheck(5, 1, True), CRASH)
    assert (s.state, s.promote) == (State.CRASHED, False)
    assert s.reason == "beat #1 (better: 0.5x), then failed vs #5: exit 1"
    assert decide(s, 6, 6) == Outcome(False, False, State.CRASHED, s.reason)
    g = after_recheck(start(1, 1, WIN), Recheck(8, 1, False), CRASH)  # the campaign's: same
    assert decide(g, 1, 8) == Outcome(False, False, State.CRASHED,
                                      "beat #1 (better: 0.5x), then failed vs #8: exit 1")


def test_a_line_incumbent_that_keeps_moving_is_not_rechecked_forever() -> None:
    s = start(0, 1, WIN)
    for n in range(1, MAX_RIVALS + 1):  # each time it beats one, the line moved again
        step = decide(s, 10 + n, 10 + n)
        assert step == Recheck(10 + n, n, True)
        s = after_recheck(s, step, WIN)
    out = decide(s, 99, 99)
    assert isinstance(out, Outcome) and not out.keep_line and not out.keep_global
    assert out.reason.startswith("better: 0.5x; line incumbent #99 kept moving, not re-checked; ")
    assert out.reason.count("also better") == MAX_RIVALS


def test_a_campaign_incumbent_that_keeps_moving_leaves_it_kept_in_its_line() -> None:
    s = start(1, 1, WIN)
    for n in range(1, MAX_RIVALS + 1):
        step = decide(s, 1, 20 + n)
        assert step == Recheck(20 + n, n, False)
        s = after_recheck(s, step, WIN)
    out = decide(s, 1, 99)
    assert isinstance(out, Outcome) and out.keep_line and not out.keep_global
    assert out.reason.endswith("; kept in line 1; campaign incumbent #99 stays")


def test_records_are_never_mutated() -> None:
    s = start(0, 1, WIN)
    after_recheck(s, Recheck(5, 1, True), WIN)
    after_recheck(s, Recheck(8, 1, False), LOSS)
    assert s == Standing(line=0, first=1, state=State.OK, promote=True, reason=WIN.reason,
                         beaten=frozenset({1}))
    with pytest.raises(AttributeError):
        s.promote = False  # type: ignore[misc]


@pytest.mark.parametrize("looks", [
    [WIN, WIN, WIN, WIN, WIN, WIN], [WIN, LOSS, WIN, LOSS], [LOSS, LOSS], [WIN, CRASH, WIN],
])
def test_the_policy_always_ends_within_max_rivals_rechecks(looks: list[Look]) -> None:
    s = start(0, 1, looks[0])
    li = gi = 1
    steps = 0
    while True:
        li, gi = li + 2, gi + 3  # every incumbent keeps moving
        step = decide(s, li, gi)
        if isinstance(step, Outcome):
            break
        steps += 1
        s = after_recheck(s, step, looks[min(steps, len(looks) - 1)])
    assert steps <= MAX_RIVALS
