"""The store contract: the `Store` protocol every backend implements, and its query records.

The store is rubicon's only shared state. Everything outside `rubicon.store` talks to storage
through this protocol (and `open_store`), never through SQL, so a backend is any class with these
methods that passes the conformance suite (`tests/store/conformance.py`).

Guarantees every backend gives:
- a proposal is recorded (`add_pending`) before it runs, and its measurement (`finish`: state,
  decision, metrics and every timed run) is recorded all or nothing;
- experiment ids are unique within the store, and `seq` numbers a campaign's experiments
  0, 1, 2, ... without gaps in the order they were recorded (0 is the baseline);
- one store object may be used from several threads; a store opened read-only refuses every
  write with `StoreError`.

Records come back in two weights: full (every field) and light (without `files`, `diff`,
`proposal`, `researcher_args`, `provenance` and `log_tail`), which keeps listing 100k
experiments fast.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol, TypedDict, runtime_checkable

from rubicon.types import CampaignInfo, Experiment, Review, State, TimedRun

if TYPE_CHECKING:
    from typing_extensions import Unpack

# The fields a light record leaves at their defaults.
HEAVY_FIELDS = ("files", "diff", "proposal", "researcher_args", "provenance", "log_tail")


class CampaignUpdate(TypedDict, total=False):
    """The campaign fields `Store.update_campaign` may change."""

    status: str
    incumbent_id: int | None
    baseline_id: int | None
    config: dict[str, Any]
    researcher: str
    researcher_args: dict[str, Any]
    spent_seconds: float
    reason: str


@dataclass(frozen=True)
class Selection:
    """Which experiments of one campaign a query reads: every given condition must hold.

    Conditions on `seq`, `line`, `researcher`, `code_hash` and `exclude_ids` never change once an
    experiment is recorded, so a selection with `max_seq` set names a fixed set of experiments
    (a snapshot), whatever is recorded afterwards. `states` is the one condition that moves (a
    pending experiment finishes).
    """

    campaign_id: str
    min_seq: int = 0
    max_seq: int | None = None  # None: no upper bound
    line: int | None = None  # only this line of work; the baseline (seq 0) belongs to every line
    researcher: str | None = None
    states: frozenset[State] | None = None  # None: every state
    code_hash: str | None = None  # same normalized code (`rubicon.workspace.code_hash`)
    exclude_ids: frozenset[int] = field(default_factory=frozenset)

    def matches(self, e: Experiment, code_hash: str | None = None) -> bool:
        """Whether `e` is selected (`code_hash`: the experiment's, when the selection has one)."""
        return (e.campaign_id == self.campaign_id and e.seq >= self.min_seq
                and (self.max_seq is None or e.seq <= self.max_seq)
                and (self.line is None or e.seq == 0 or e.line == self.line)
                and (self.researcher is None or e.researcher == self.researcher)
                and (self.states is None or e.state in self.states)
                and (self.code_hash is None or code_hash == self.code_hash)
                and e.id not in self.exclude_ids)


@dataclass
class LineStats:
    """What one researcher on one line of work did in a campaign (the baseline not counted)."""

    researcher: str
    line: int
    experiments: int = 0
    states: dict[str, int] = field(default_factory=dict)
    kept: int = 0
    best_speedup: float | None = None  # best speedup vs the baseline among its kept experiments
    best_id: int | None = None
    incumbent: bool = False  # holds the campaign's incumbent


class Progress(NamedTuple):
    """How far a campaign is: cheap to poll (the dashboard asks every second)."""

    finished: int  # experiments recorded in a final state (not pending), the baseline included
    last_change: float  # latest created or finished time of any of its experiments (0: none)


@runtime_checkable
class Store(Protocol):
    """Everything rubicon records: campaigns, experiments and their timed runs.

    Raises `rubicon.errors.StoreError` (with the store's location and the valid choices) for an
    unknown campaign or experiment, a write to a read-only store, or an unreadable store.
    """

    @property
    def path(self) -> Path:
        """Where the store lives; its parent is the campaign directory (trial dirs, locks)."""
        ...

    @property
    def read_only(self) -> bool:
        """True when every write is refused."""
        ...

    def close(self) -> None:
        """Release the store; the object is unusable afterwards."""
        ...

    def check(self) -> list[str]:
        """Integrity problems found in the stored data ([] when sound)."""
        ...

    # campaigns ---------------------------------------------------------------------------

    def create_campaign(self, c: CampaignInfo) -> None:
        """Record a new campaign (its id must be new)."""
        ...

    def update_campaign(self, cid: str, **fields: Unpack[CampaignUpdate]) -> None:
        """Change some of a campaign's fields (the keys of `CampaignUpdate`; others: ValueError)."""
        ...

    def campaign(self, cid: str | None = None) -> CampaignInfo:
        """A campaign by id or unique id prefix; None: the most recently created one."""
        ...

    def campaigns(self) -> list[CampaignInfo]:
        """Every campaign, oldest first."""
        ...

    # experiments: writes -----------------------------------------------------------------

    def add_pending(self, e: Experiment, code_hash: str) -> int:
        """Record a proposal before it runs, in state pending, with the campaign's next `seq`.

        Records `e`'s proposal fields and `line`; ignores its id, seq and measurement. Returns
        the new experiment id.
        """
        ...

    def add_runs(self, eid: int, runs: Sequence[TimedRun],
                 subjects: Mapping[str, int | None]) -> None:
        """Append timed runs to a pending experiment as they finish (so a killed process loses
        no finished run; `finish` later replaces them with the whole list). Runs of pending
        experiments do not count in `subject_values`. StoreError if `eid` is not pending."""
        ...

    def update_code(self, e: Experiment, code_hash: str) -> None:
        """Replace a pending experiment's files, diff and rationale (an outside agent's edits);
        a no-op on an experiment no longer pending."""
        ...

    def finish(self, e: Experiment, runs: Sequence[TimedRun],
               subjects: Mapping[str, int | None]) -> None:
        """Record an experiment's measurement (state, decision, reason, metrics, objective,
        speedup, ratio interval, duplicate_of, provenance, log tail, meta, finished_at) and all
        its timed runs, replacing earlier ones, all or nothing.

        `subjects` maps a run role to the experiment whose code ran in that role (default:
        `e` itself).
        """
        ...

    # experiments: reads ------------------------------------------------------------------

    def experiment(self, eid: int, runs: bool = True) -> Experiment:
        """One full experiment, with its timed runs unless `runs=False`."""
        ...

    def runs(self, eid: int) -> list[TimedRun]:
        """An experiment's timed runs, in the order they were recorded."""
        ...

    def subject_values(self, subject_id: int) -> list[float]:
        """Objective values of every scored timed run in which `subject_id`'s code ran, in the
        order recorded, across all experiments that measured it (pending ones excepted)."""
        ...

    def experiments(self, campaign_id: str, full: bool = False, include_pending: bool = True,
                    last: int | None = None) -> list[Experiment]:
        """A campaign's experiments by seq (only the `last` N if given); light unless `full`."""
        ...

    def pending(self, campaign_id: str) -> list[Experiment]:
        """A campaign's pending experiments (full), by seq."""
        ...

    def find_code(self, campaign_id: str, code_hash: str) -> int | None:
        """Id of the first measured experiment (neither pending nor invalid) with this code."""
        ...

    def count(self, campaign_id: str) -> dict[str, int]:
        """Number of experiments per state value (states with none are left out)."""
        ...

    def code_hash_of(self, eid: int) -> str:
        """The normalized code hash recorded for experiment `eid` (StoreError if unknown)."""
        ...

    def add_review(self, r: Review) -> None:
        """Append a person's verdict on an experiment's code (StoreError if the experiment is
        not in that campaign). Reviews are never changed or deleted."""
        ...

    def reviews(self, campaign_id: str, code_hash: str | None = None) -> list[Review]:
        """The campaign's reviews, oldest first; only those of `code_hash` when given."""
        ...

    def size(self, campaign_id: str) -> int:
        """Number of experiments the campaign has recorded in any state, the baseline included
        (so their seqs are 0 .. size - 1). Costs no more with 100k experiments than with 10."""
        ...

    def select(self, sel: Selection, *, full: bool = False, offset: int = 0,
               limit: int | None = None, newest_first: bool = False,
               by_objective: Literal["min", "max"] | None = None) -> list[Experiment]:
        """The selected experiments by seq (descending if `newest_first`), skipping `offset`,
        at most `limit`; light unless `full`. Runs are not loaded.

        `by_objective`: only those with an objective, best first ("min": smallest first), ties
        by id; a campaign's best few cost no more with 100k experiments than with 10.
        """
        ...

    def count_selected(self, sel: Selection) -> int:
        """How many experiments `select(sel)` would return without offset and limit."""
        ...

    # aggregates --------------------------------------------------------------------------

    def meta_sums(self, sel: Selection, keys: Sequence[str]) -> dict[str, float]:
        """For each key, the sum of the numeric `meta[key]` values of the selected experiments
        (missing or non-numeric values count 0): e.g. the tokens and dollars spent so far."""
        ...

    def line_stats(self, campaign_id: str) -> list[LineStats]:
        """Per researcher and line: counts by state, kept count, best kept speedup (the baseline
        not counted); ordered by line, then researcher."""
        ...

    def progress(self, campaign_id: str) -> Progress:
        """Finished experiments and the time of the latest change of a campaign."""
        ...
