"""The merge policy of lines of work, as pure functions over records (no store, no sandbox).

A candidate of line L is first compared with L's incumbent. While it was measured, other
experiments may have moved the incumbents it must beat: L's own (another worker of the same
line) and the campaign's (a candidate of another line). The policy:

- it is kept in its line only if it beat the line's current incumbent; a newer line incumbent
  is re-checked (a loss to it discards the candidate);
- it becomes the campaign's incumbent only if it also beat the campaign's current incumbent,
  re-checked likewise (a loss to it keeps the candidate in its line only);
- a re-check that fails (crash, gate, ...) discards it;
- at most MAX_RIVALS re-checks: an incumbent that still moved after that is not re-checked (a
  line incumbent not beaten discards the candidate, with the reason saying so).

The campaign drives it: `start` with the first verdict, then `decide` with the incumbents as
they are now; a `Recheck` is measured and folded in with `after_recheck`, until `decide` gives
the `Outcome`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from rubicon.types import State

MAX_RIVALS = 4  # a promoted candidate is re-checked against incumbents that moved at most so often


@dataclass(frozen=True)
class Look:
    """One comparison's outcome, as far as the policy needs it."""

    state: State
    promote: bool
    reason: str


@dataclass(frozen=True)
class Standing:
    """What a candidate of `line` has established so far."""

    line: int
    first: int  # the incumbent it was first compared with
    state: State
    promote: bool  # still on course to be kept
    reason: str
    beaten: frozenset[int] = frozenset()
    lost: Mapping[int, str] = field(default_factory=dict)  # incumbent -> what the loss said
    notes: tuple[str, ...] = ()
    rechecks: int = 0


@dataclass(frozen=True)
class Recheck:
    """Compare the candidate with `target` next (the `number`th re-check)."""

    target: int
    number: int
    of_line: bool  # the target is the line's incumbent (else the campaign's)


@dataclass(frozen=True)
class Outcome:
    """The decision: kept in its line, kept as the campaign's incumbent, and why."""

    keep_line: bool
    keep_global: bool
    state: State
    reason: str


def start(line: int, incumbent: int, look: Look) -> Standing:
    """The standing after the first comparison, with the line's incumbent `incumbent`."""
    return Standing(line=line, first=incumbent, state=look.state, promote=look.promote,
                    reason=look.reason,
                    beaten=frozenset({incumbent}) if look.promote else frozenset())


def decide(s: Standing, line_incumbent: int, campaign_incumbent: int) -> Recheck | Outcome:
    """The next step, given the incumbents as they are now."""
    li, gi = line_incumbent, campaign_incumbent
    number = s.rechecks + 1
    if s.promote and number <= MAX_RIVALS:
        if li not in s.beaten:
            return Recheck(li, number, of_line=True)
        if gi not in s.beaten and gi not in s.lost:
            return Recheck(gi, number, of_line=False)
    keep_line = s.promote and li in s.beaten
    keep_global = keep_line and gi in s.beaten
    reason = s.reason
    if s.promote and not keep_line:
        reason += f"; line incumbent #{li} kept moving, not re-checked"
    notes = list(s.notes)
    if keep_line and not keep_global:
        notes.append(f"kept in line {s.line}; campaign incumbent #{gi} stays"
                     + (f" ({s.lost[gi]})" if gi in s.lost else ""))
    return Outcome(keep_line=keep_line, keep_global=keep_global, state=s.state,
                   reason="; ".join([reason, *notes]))


def after_recheck(s: Standing, step: Recheck, look: Look) -> Standing:
    """The standing after re-check `step` gave `look`."""
    s = replace(s, rechecks=step.number)
    what = f"vs #{step.target}: {look.reason}"
    if look.state != State.OK:
        return replace(s, state=look.state, promote=False,
                       reason=f"beat #{s.first} ({s.reason}), then failed {what}")
    if look.promote:
        return replace(s, beaten=s.beaten | {step.target}, notes=(*s.notes, f"also better {what}"))
    if step.of_line:
        return replace(s, promote=False,
                       reason=f"beat #{s.first} ({s.reason}) but not the newer line incumbent {what}")
    return replace(s, lost={**s.lost, step.target: what})
