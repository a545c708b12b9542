"""The store-backed `History` a campaign hands its researchers (see researcher/_history.py).

Researchers never import the store; the campaign builds this view over a store `Selection`
fixed when the context is made, and researchers read it through the `History` interface.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import Any, overload

from rubicon.errors import StoreError
from rubicon.researcher._history import PAGE_FULL, PAGE_LIGHT, History
from rubicon.store import Selection, Store
from rubicon.task import Task
from rubicon.types import Experiment, State

Shown = Callable[[Experiment], Experiment]
_CAMPAIGN_ID = re.compile(r"^.+(-\d{8}-\d{6}-[0-9a-f]+)$")  # TASK-YYYYmmdd-HHMMSS-hex


def shown_as(task: Task) -> Shown:
    """How a record reads for a researcher shown `task` (a honeypot's twin) rather than the
    task its campaign runs: the campaign id's task part and the provenance's task hash are the
    shown task's. With `Campaign.context`'s task substitution, what a researcher receives for a
    honeypot and for its twin differs only in measured figures (docs/LINEAGE.md, "Honeypots")."""
    task_hash = task.identity_hash()

    def shown(e: Experiment) -> Experiment:
        m = _CAMPAIGN_ID.match(e.campaign_id)
        update: dict[str, Any] = {"provenance": {**e.provenance, "task_hash": task_hash}}
        if m:
            update["campaign_id"] = task.name + m.group(1)
        return e.model_copy(update=update)

    return shown


class StoreHistory(History):
    """A history read from a store, page by page, cached for the life of this object.

    `sel` should fix the set (`max_seq` set: see `Selection`); a record's state is as it was
    when its page was read. `shown` rewrites every record handed out (see `shown_as`).
    """

    def __init__(self, store: Store, sel: Selection, full: bool = True,
                 shown: Shown | None = None) -> None:
        self._store = store
        self._sel = sel
        self._full = full
        self._shown = shown
        self._len: int | None = None
        self._pages: dict[int, list[Experiment]] = {}
        self._views: dict[Any, StoreHistory] = {}
        self._by_id: dict[int, Experiment] = {}
        self._size = PAGE_FULL if full else PAGE_LIGHT

    def __len__(self) -> int:
        if self._len is None:
            self._len = self._store.count_selected(self._sel)
        return self._len

    def _page(self, p: int) -> list[Experiment]:
        page = self._pages.get(p)
        if page is None:
            n = len(self)
            start, stop = p * self._size, min(n, (p + 1) * self._size)
            sel = self._sel
            if self._pages.get(p - 1):  # keyset: right after the page before
                after = self._pages[p - 1][-1].seq + 1
                page = self._store.select(replace(sel, min_seq=max(after, sel.min_seq)),
                                          full=self._full, limit=stop - start)
            elif self._pages.get(p + 1):  # keyset: right before the page after
                before = self._pages[p + 1][0].seq - 1
                top = before if sel.max_seq is None else min(before, sel.max_seq)
                page = self._store.select(replace(sel, max_seq=top), full=self._full,
                                          limit=stop - start, newest_first=True)[::-1]
            elif start < n - stop:  # nearer the start: count from there
                page = self._store.select(self._sel, full=self._full, offset=start,
                                          limit=stop - start)
            else:  # nearer the end (recent experiments): count back from it
                page = self._store.select(self._sel, full=self._full, offset=n - stop,
                                          limit=stop - start, newest_first=True)[::-1]
            self._pages[p] = page = self._show(page)
        return page

    def _show(self, records: list[Experiment]) -> list[Experiment]:
        return records if self._shown is None else [self._shown(e) for e in records]

    @overload
    def __getitem__(self, i: int) -> Experiment: ...
    @overload
    def __getitem__(self, i: slice) -> list[Experiment]: ...
    def __getitem__(self, i: int | slice) -> Experiment | list[Experiment]:
        n = len(self)
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(n))]
        k = i + n if i < 0 else i
        if not 0 <= k < n:
            raise IndexError(f"history index {i} out of range ({n} experiments)")
        page = self._page(k // self._size)
        if k % self._size >= len(page):  # recorded fewer than counted: the selection moved
            raise IndexError(f"history index {i}: experiment no longer selected")
        return page[k % self._size]

    def __iter__(self) -> Iterator[Experiment]:
        for p in range((len(self) + self._size - 1) // self._size):
            yield from self._page(p)

    def _view(self, key: Any, sel: Selection, full: bool) -> StoreHistory:
        view = self._views.get(key)
        if view is None:
            view = self._views[key] = StoreHistory(self._store, sel, full, self._shown)
        return view

    @property
    def light(self) -> History:
        if not self._full:
            return self
        view = self._view("light", self._sel, False)
        view._len = self._len if view._len is None else view._len  # the same experiments
        return view

    def where(self, *, researcher: str | None = None, states: Iterable[State] | None = None,
              min_seq: int | None = None, code_hash: str | None = None) -> History:
        sel = self._sel
        if researcher is not None:
            sel = replace(sel, researcher=researcher)
        if states is not None:
            wanted = frozenset(states)
            sel = replace(sel, states=wanted if sel.states is None else sel.states & wanted)
        if min_seq is not None:
            sel = replace(sel, min_seq=max(sel.min_seq, min_seq))
        if code_hash is not None:
            sel = replace(sel, code_hash=code_hash)
        return self._view(sel, sel, self._full)

    def recent(self, k: int) -> list[Experiment]:
        if k <= 0:
            return []
        n = self._len
        if n is not None and (k >= n or all(p in self._pages for p in range(
                (n - k) // self._size, (n - 1) // self._size + 1))):
            return super().recent(k)
        return self._show(self._store.select(self._sel, full=self._full, limit=k,
                                             newest_first=True)[::-1])

    def __reversed__(self) -> Iterator[Experiment]:
        """Newest first, page by page from the end (no count needed: stop early for free)."""
        sel, size = self._sel, 8  # pages grow: a reader that stops early reads little
        while True:
            page = self._store.select(sel, full=self._full, limit=size, newest_first=True)
            yield from self._show(page)
            if len(page) < size:
                return
            sel, size = replace(sel, max_seq=page[-1].seq - 1), min(4 * size, self._size)

    def best(self, maximize: bool = False) -> Iterator[Experiment]:
        offset, size = 0, 8
        while True:
            page = self._store.select(self._sel, offset=offset, limit=size,
                                      by_objective="max" if maximize else "min")
            yield from self._show(page)
            if len(page) < size:
                return
            offset, size = offset + size, min(4 * size, PAGE_LIGHT)

    def sum_meta(self, *keys: str) -> dict[str, float]:
        return self._store.meta_sums(self._sel, keys)

    def by_id(self, eid: int) -> Experiment:
        e = self._by_id.get(eid)
        if e is None:
            try:
                e = self._store.experiment(eid, runs=False)
            except StoreError:
                raise KeyError(eid) from None
            if not replace(self._sel, code_hash=None).matches(e):
                raise KeyError(eid)
            self._by_id[eid] = e = self._show([e])[0]
        return e
