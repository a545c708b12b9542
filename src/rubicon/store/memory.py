"""An in-memory store: the `Store` contract over Python dicts, for tests and throwaway campaigns.

Nothing survives the process. Several `MemoryStore` objects made with `handle()` share the same
records (as several connections to one SQLite file do), one of them possibly read-only.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from rubicon.errors import StoreError
from rubicon.store.base import HEAVY_FIELDS, CampaignUpdate, LineStats, Progress, Selection
from rubicon.types import CampaignInfo, Decision, Experiment, Review, State, TimedRun

if TYPE_CHECKING:
    from typing_extensions import Unpack

_LIGHT_DEFAULTS = {k: Experiment.model_fields[k].get_default(call_default_factory=True)
                   for k in HEAVY_FIELDS}


@dataclass
class _Records:
    lock: threading.RLock = field(default_factory=threading.RLock)
    campaigns: dict[str, CampaignInfo] = field(default_factory=dict)
    experiments: dict[int, Experiment] = field(default_factory=dict)  # full, without runs
    code: dict[int, str] = field(default_factory=dict)
    by_campaign: dict[str, list[int]] = field(default_factory=dict)  # ids in seq order
    runs: dict[int, list[tuple[int, int | None, TimedRun]]] = field(default_factory=dict)
    reviews: list[Review] = field(default_factory=list)
    next_id: int = 1
    next_run: int = 1


class MemoryStore:
    """All records in this process's memory (implements `rubicon.store.Store`)."""

    def __init__(self, directory: str | Path = ".", read_only: bool = False,
                 records: _Records | None = None) -> None:
        self._path = Path(directory) / "memory"
        self._read_only = read_only
        self._r = records if records is not None else _Records()

    def handle(self, read_only: bool = False) -> MemoryStore:
        """Another store object over the same records."""
        return MemoryStore(self._path.parent, read_only, self._r)

    @property
    def path(self) -> Path:
        return self._path

    @property
    def read_only(self) -> bool:
        return self._read_only

    def close(self) -> None:
        pass

    def check(self) -> list[str]:
        with self._r.lock:
            return [f"experiment {i}: unknown campaign {e.campaign_id!r}"
                    for i, e in self._r.experiments.items() if e.campaign_id not in self._r.campaigns]

    def _writable(self, what: str) -> None:
        if self._read_only:
            raise StoreError(f"{self._path} is open read-only: cannot {what}")

    def _exp(self, eid: int) -> Experiment:
        e = self._r.experiments.get(eid)
        if e is None:
            raise StoreError(f"no experiment {eid} in {self._path}")
        return e

    @staticmethod
    def _out(e: Experiment, full: bool) -> Experiment:
        return e.model_copy(deep=True, update=None if full else _LIGHT_DEFAULTS)

    # campaigns ---------------------------------------------------------------------------

    def create_campaign(self, c: CampaignInfo) -> None:
        self._writable(f"create campaign {c.id}")
        with self._r.lock:
            if c.id in self._r.campaigns:
                raise StoreError(f"campaign {c.id!r} already exists in {self._path}")
            self._r.campaigns[c.id] = c.model_copy(deep=True)
            self._r.by_campaign[c.id] = []

    def update_campaign(self, cid: str, **fields: Unpack[CampaignUpdate]) -> None:
        bad = set(fields) - set(CampaignUpdate.__annotations__)
        if bad:
            raise ValueError(f"cannot update campaign fields {sorted(bad)}")
        self._writable(f"update campaign {cid}")
        with self._r.lock:
            if cid not in self._r.campaigns:
                raise StoreError(f"no campaign {cid!r} in {self._path}")
            self._r.campaigns[cid] = self._r.campaigns[cid].model_copy(deep=True, update=fields)

    def campaign(self, cid: str | None = None) -> CampaignInfo:
        with self._r.lock:
            known = sorted(self._r.campaigns.values(), key=lambda c: c.created_at)
            if cid is None:
                found = known[-1:]
            elif cid in self._r.campaigns:
                found = [self._r.campaigns[cid]]
            else:
                found = [c for c in known if c.id.startswith(cid)]
            if len(found) != 1:
                what = f"campaign {cid!r}" if cid else "campaign"
                raise StoreError(f"no {what} in {self._path}; known: "
                                 f"{[c.id for c in known][-10:] or 'none'}")
            return found[0].model_copy(deep=True)

    def campaigns(self) -> list[CampaignInfo]:
        with self._r.lock:
            return [c.model_copy(deep=True)
                    for c in sorted(self._r.campaigns.values(), key=lambda c: c.created_at)]

    # experiments: writes -----------------------------------------------------------------

    def add_pending(self, e: Experiment, code_hash: str) -> int:
        self._writable("record an experiment")
        with self._r.lock:
            ids = self._r.by_campaign.get(e.campaign_id)
            if ids is None:
                raise StoreError(f"no campaign {e.campaign_id!r} in {self._path}")
            eid = self._r.next_id
            keep = {"campaign_id", "parent_id", "researcher", "researcher_args", "rationale",
                    "proposal", "diff", "files", "seed", "provenance", "meta", "line", "flags"}
            self._r.experiments[eid] = Experiment(
                **e.model_dump(include=keep), id=eid, seq=len(ids),
                created_at=e.created_at or time.time())
            self._r.code[eid] = code_hash
            ids.append(eid)
            self._r.next_id += 1
            return eid

    def finish(self, e: Experiment, runs: Sequence[TimedRun],
               subjects: Mapping[str, int | None]) -> None:
        self._writable(f"record experiment {e.id}")
        with self._r.lock:
            old = self._exp(e.id)
            # build everything first: an error on the way leaves the records untouched
            new_runs = [(self._r.next_run + k, subjects.get(r.role, e.id), r.model_copy(deep=True))
                        for k, r in enumerate(runs)]
            measured = old.model_copy(deep=True, update={
                "state": e.state, "decision": e.decision, "reason": e.reason,
                "metrics": dict(e.metrics), "objective": e.objective, "speedup": e.speedup,
                "ratio_low": e.ratio_low, "ratio_high": e.ratio_high,
                "duplicate_of": e.duplicate_of, "provenance": dict(e.provenance),
                "log_tail": e.log_tail, "meta": dict(e.meta), "flags": list(e.flags),
                "finished_at": e.finished_at or time.time()})
            self._r.experiments[e.id] = Experiment.model_validate(measured.model_dump())
            self._r.runs[e.id] = new_runs
            self._r.next_run += len(new_runs)

    def add_runs(self, eid: int, runs: Sequence[TimedRun],
                 subjects: Mapping[str, int | None]) -> None:
        self._writable(f"record runs of experiment {eid}")
        with self._r.lock:
            if self._exp(eid).state != State.PENDING:
                raise StoreError(f"no pending experiment {eid} in {self._path}")
            new = [(self._r.next_run + k, subjects.get(r.role, eid), r.model_copy(deep=True))
                   for k, r in enumerate(runs)]
            self._r.runs.setdefault(eid, []).extend(new)
            self._r.next_run += len(new)

    def update_code(self, e: Experiment, code_hash: str) -> None:
        self._writable(f"update experiment {e.id}")
        with self._r.lock:
            old = self._exp(e.id)
            if old.state == State.PENDING:
                self._r.experiments[e.id] = old.model_copy(deep=True, update={
                    "files": dict(e.files), "diff": e.diff, "rationale": e.rationale,
                    "flags": list(e.flags)})
                self._r.code[e.id] = code_hash

    # experiments: reads ------------------------------------------------------------------

    def experiment(self, eid: int, runs: bool = True) -> Experiment:
        with self._r.lock:
            e = self._out(self._exp(eid), full=True)
            if runs:
                e.runs = self.runs(eid)
            return e

    def runs(self, eid: int) -> list[TimedRun]:
        with self._r.lock:
            return [r.model_copy(deep=True) for _, _, r in self._r.runs.get(eid, [])]

    def subject_values(self, subject_id: int) -> list[float]:
        with self._r.lock:
            found = [(k, r.objective) for eid, runs in self._r.runs.items() for k, s, r in runs
                     if s == subject_id and r.scored and r.objective is not None
                     and self._r.experiments[eid].state != State.PENDING]
        return [v for _, v in sorted(found) if v is not None]

    def _of(self, campaign_id: str) -> list[Experiment]:
        return [self._r.experiments[i] for i in self._r.by_campaign.get(campaign_id, [])]

    def experiments(self, campaign_id: str, full: bool = False, include_pending: bool = True,
                    last: int | None = None) -> list[Experiment]:
        with self._r.lock:
            exps = [e for e in self._of(campaign_id) if include_pending or e.state != State.PENDING]
            if last is not None:
                exps = exps[-last:] if last > 0 else []
            return [self._out(e, full) for e in exps]

    def pending(self, campaign_id: str) -> list[Experiment]:
        with self._r.lock:
            return [self._out(e, True) for e in self._of(campaign_id) if e.state == State.PENDING]

    def find_code(self, campaign_id: str, code_hash: str) -> int | None:
        with self._r.lock:
            return next((e.id for e in self._of(campaign_id) if self._r.code[e.id] == code_hash
                         and e.state not in (State.PENDING, State.INVALID)), None)

    def count(self, campaign_id: str) -> dict[str, int]:
        with self._r.lock:
            return dict(Counter(e.state.value for e in self._of(campaign_id)))

    def code_hash_of(self, eid: int) -> str:
        with self._r.lock:
            self._exp(eid)
            return self._r.code[eid]

    def add_review(self, r: Review) -> None:
        self._writable(f"record a review of experiment {r.experiment_id}")
        with self._r.lock:
            if r.experiment_id not in self._r.by_campaign.get(r.campaign_id, []):
                raise StoreError(f"no experiment {r.experiment_id} in campaign {r.campaign_id!r}")
            self._r.reviews.append(r.model_copy(update={"at": r.at or time.time()}))

    def reviews(self, campaign_id: str, code_hash: str | None = None) -> list[Review]:
        with self._r.lock:
            return [r.model_copy() for r in self._r.reviews if r.campaign_id == campaign_id
                    and (code_hash is None or r.code_hash == code_hash)]

    def size(self, campaign_id: str) -> int:
        with self._r.lock:
            return len(self._r.by_campaign.get(campaign_id, []))

    def _selected(self, sel: Selection) -> list[Experiment]:
        return [e for e in self._of(sel.campaign_id) if sel.matches(e, self._r.code[e.id])]

    def select(self, sel: Selection, *, full: bool = False, offset: int = 0,
               limit: int | None = None, newest_first: bool = False,
               by_objective: Literal["min", "max"] | None = None) -> list[Experiment]:
        with self._r.lock:
            exps = self._selected(sel)
            if by_objective is not None:
                sign = -1.0 if by_objective == "max" else 1.0
                exps = sorted((e for e in exps if e.objective is not None),
                              key=lambda e: (sign * (e.objective or 0.0), e.id))
            elif newest_first:
                exps.reverse()
            exps = exps[offset:] if limit is None else exps[offset:offset + limit]
            return [self._out(e, full) for e in exps]

    def count_selected(self, sel: Selection) -> int:
        with self._r.lock:
            return len(self._selected(sel))

    # aggregates --------------------------------------------------------------------------

    def meta_sums(self, sel: Selection, keys: Sequence[str]) -> dict[str, float]:
        with self._r.lock:
            exps = self._selected(sel)
        return {k: sum(float(v) for e in exps if isinstance(v := e.meta.get(k), int | float)
                       and not isinstance(v, bool)) for k in keys}

    def line_stats(self, campaign_id: str) -> list[LineStats]:
        info = self.campaign(campaign_id)
        out: dict[tuple[str, int], LineStats] = {}
        with self._r.lock:
            for e in self._of(info.id):
                if e.seq == 0:
                    continue
                s = out.setdefault((e.researcher, e.line), LineStats(e.researcher, e.line))
                s.experiments += 1
                s.states[e.state.value] = s.states.get(e.state.value, 0) + 1
                if e.decision == Decision.KEEP:
                    s.kept += 1
                    if e.speedup is not None and (s.best_speedup is None or e.speedup > s.best_speedup):
                        s.best_speedup, s.best_id = e.speedup, e.id
        for s in out.values():
            s.incumbent = s.best_id is not None and s.best_id == info.incumbent_id
        return sorted(out.values(), key=lambda s: (s.line, s.researcher))

    def progress(self, campaign_id: str) -> Progress:
        with self._r.lock:
            exps = self._of(campaign_id)
            return Progress(sum(1 for e in exps if e.state != State.PENDING),
                            max((e.finished_at or e.created_at for e in exps), default=0.0))
