"""`ResearchContext.history`: the experiments a researcher may read, as a lazy sequence.

A campaign with 100k experiments must not load them all for each proposal. The campaign gives
researchers a store-backed history (rubicon.campaign.history.StoreHistory: its length is one count,
records are read in pages and cached only when indexed or iterated); `ListHistory` wraps a
plain list (tests, or a researcher driven by hand) with the same API. Researchers see only the
`History` interface, never the store.

Beyond the sequence protocol (len, index, slices, iteration, reversed):
- `light`: the same experiments without files, diff, proposal, researcher_args, provenance and
  log_tail (the cheap way to scan states, objectives, meta);
- `recent(k)`: the last k;
- `where(...)`: the experiments that also match a researcher, states, min seq or code hash;
- `best(maximize)`: those with an objective, best first (light records, read as consumed);
- `sum_meta(*keys)`: totals of numeric meta values (tokens, dollars) without reading records;
- `by_id(eid)`: one full experiment of this history.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

from rubicon.types import Experiment, State
from rubicon.workspace import code_hash as hash_code

# records per read: full records carry every file of the candidate, light ones are small
PAGE_FULL = 16
PAGE_LIGHT = 256


class History(Sequence[Experiment]):
    """The experiments a researcher may read, oldest first (by seq). Read-only."""

    @property
    def light(self) -> History:
        """The same experiments as light records (heavy fields left empty)."""
        raise NotImplementedError

    def where(self, *, researcher: str | None = None, states: Iterable[State] | None = None,
              min_seq: int | None = None, code_hash: str | None = None) -> History:
        """The experiments of this history that also match every given condition."""
        raise NotImplementedError

    def by_id(self, eid: int) -> Experiment:
        """The full record of experiment `eid` of this history (KeyError if not in it)."""
        raise NotImplementedError

    def sum_meta(self, *keys: str) -> dict[str, float]:
        """For each key, the sum of the numeric `meta[key]` values (others count 0)."""
        raise NotImplementedError

    def recent(self, k: int) -> list[Experiment]:
        """The last `k` experiments, oldest first."""
        n = len(self)
        return list(self[max(0, n - k):n]) if k > 0 else []

    def best(self, maximize: bool = False) -> Iterator[Experiment]:
        """The experiments with an objective, best first (ties: lowest id first), as light
        records; stop early to read only the best few."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {len(self)} experiments>"


class ListHistory(History):
    """A history over experiments given as a list (all loaded already)."""

    def __init__(self, items: Iterable[Experiment] = ()) -> None:
        self._items = list(items)

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, i: int) -> Experiment: ...
    @overload
    def __getitem__(self, i: slice) -> list[Experiment]: ...
    def __getitem__(self, i: int | slice) -> Experiment | list[Experiment]:
        return self._items[i]

    def __iter__(self) -> Iterator[Experiment]:
        return iter(self._items)

    @property
    def light(self) -> History:
        return self

    def where(self, *, researcher: str | None = None, states: Iterable[State] | None = None,
              min_seq: int | None = None, code_hash: str | None = None) -> History:
        wanted = None if states is None else frozenset(states)
        return ListHistory(
            e for e in self._items
            if (researcher is None or e.researcher == researcher)
            and (wanted is None or e.state in wanted) and (min_seq is None or e.seq >= min_seq)
            and (code_hash is None or hash_code(e.files) == code_hash))

    def best(self, maximize: bool = False) -> Iterator[Experiment]:
        sign = -1.0 if maximize else 1.0
        scored = [e for e in self._items if e.objective is not None]
        return iter(sorted(scored, key=lambda e: (sign * (e.objective or 0.0), e.id)))

    def sum_meta(self, *keys: str) -> dict[str, float]:
        return {k: sum(float(v) for e in self._items if isinstance(v := e.meta.get(k), int | float)
                       and not isinstance(v, bool)) for k in keys}

    def by_id(self, eid: int) -> Experiment:
        found = next((e for e in self._items if e.id == eid), None)
        if found is None:
            raise KeyError(eid)
        return found


def as_history(value: Any) -> History:
    """A `History` from a history, or from any sequence of experiments."""
    if isinstance(value, History):
        return value
    if isinstance(value, Sequence | Iterator) and not isinstance(value, str | bytes):
        return ListHistory(value)
    raise TypeError(f"history must be a sequence of Experiment, not {type(value).__name__}")


__all__ = ["History", "ListHistory", "as_history"]
