"""The store conformance suite: what every `rubicon.store.Store` backend must do.

Run for the built-in backends by `test_conformance.py`. To check another backend, subclass
`StoreConformance` in a test module and define a `backend` fixture returning a `Backend` whose
`open` gives a new handle (connection) on one and the same, initially empty, store.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rubicon.errors import StoreError
from rubicon.store import MemoryStore, Selection, Store, open_store
from rubicon.types import CampaignInfo, Decision, Experiment, Review, State, TimedRun

HEAVY = {"files": {}, "diff": "", "proposal": {}, "researcher_args": {}, "provenance": {},
         "log_tail": ""}


@dataclass
class Backend:
    name: str
    open: Callable[[bool], Store]  # read_only -> a new handle on the same store
    opener: str | None = None  # Python source binding `store` in another process; None: in-process only

    def store(self, read_only: bool = False) -> Store:
        return self.open(read_only)


def sqlite_backend(tmp: Path) -> Backend:
    return Backend("sqlite", lambda ro: open_store(tmp, read_only=ro),
                   f"from rubicon.store import open_store\nstore = open_store({str(tmp)!r})")


def memory_backend(tmp: Path) -> Backend:
    root = MemoryStore(tmp)
    return Backend("memory", lambda ro: root.handle(ro))


BACKENDS: dict[str, Callable[[Path], Backend]] = {"sqlite": sqlite_backend, "memory": memory_backend}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    yield BACKENDS[request.param](tmp_path)


# helpers ------------------------------------------------------------------------------------


def campaign(s: Store, cid: str = "c1", created: float = 1000.0, **kw: Any) -> CampaignInfo:
    c = CampaignInfo(id=cid, task_name="t", task_dir="/x", task_hash="h", researcher="r",
                     created_at=created, **kw)
    s.create_campaign(c)
    return c


def draft(cid: str = "c1", **kw: Any) -> Experiment:
    base: dict[str, Any] = {"id": 0, "campaign_id": cid, "seq": 0, "parent_id": None,
                            "researcher": "r", "files": {"a.py": "x = 1\n"}}
    return Experiment(**{**base, **kw})


def run(role: str = "candidate", pair: int = 0, objective: float | None = 1.0,
        scored: bool = True, **kw: Any) -> TimedRun:
    base: dict[str, Any] = {"wall_seconds": 1.0, "cpu_seconds": 0.9, "peak_memory_mb": 10.0,
                            "foreign_load": 0.0, "exit_code": 0}
    return TimedRun(role=role, pair=pair, objective=objective, scored=scored, **{**base, **kw})


def measured(s: Store, eid: int, state: State = State.OK, runs: list[TimedRun] | None = None,
             subjects: dict[str, int | None] | None = None, **kw: Any) -> Experiment:
    e = s.experiment(eid, runs=False)
    e = e.model_copy(update={"state": state, "decision": Decision.DISCARD, "reason": "r",
                             "finished_at": e.created_at + 1, **kw})
    s.finish(e, runs or [], subjects or {})
    return e


def stripped(e: Experiment, **extra: Any) -> dict[str, Any]:
    return e.model_dump(exclude={"runs", *extra})


class StoreConformance:
    """Every test takes the `backend` fixture; see the module docstring."""

    # campaigns ---------------------------------------------------------------------------

    def test_campaigns_round_trip_oldest_first(self, backend: Backend) -> None:
        s = backend.store()
        b = campaign(s, "demo-b", created=2000.0, researcher_args={"k": "v"},
                     config={"seed": 3, "protocol": {"alpha": 0.1}})
        a = campaign(s, "demo-a", created=1000.0)
        assert [c.id for c in s.campaigns()] == ["demo-a", "demo-b"]
        assert s.campaign() == b  # the most recently created
        assert s.campaign("demo-b") == b and s.campaign("demo-a") == a

    def test_campaign_prefixes_and_unknown_ids(self, backend: Backend) -> None:
        s = backend.store()
        campaign(s, "demo-2026-aaaa", created=1.0)
        campaign(s, "demo-2026-bbbb", created=2.0)
        campaign(s, "demo", created=3.0)
        assert s.campaign("demo-2026-a").id == "demo-2026-aaaa"
        assert s.campaign("demo").id == "demo"  # an exact id wins over the prefix
        with pytest.raises(StoreError, match="demo-2026-aaaa") as err:
            s.campaign("demo-2026")  # ambiguous: the message lists the known ids
        assert "demo-2026-bbbb" in str(err.value)
        with pytest.raises(StoreError, match=r"no campaign 'nope'.*known"):
            s.campaign("nope")
        with pytest.raises(StoreError, match="already exists"):
            campaign(s, "demo")

    def test_no_campaign_yet(self, backend: Backend) -> None:
        s = backend.store()
        assert s.campaigns() == []
        with pytest.raises(StoreError, match="no campaign.*none"):
            s.campaign()

    def test_update_campaign(self, backend: Backend) -> None:
        s = backend.store()
        campaign(s)
        s.update_campaign("c1", status="finished", incumbent_id=7, baseline_id=3,
                          config={"workers": 2}, researcher="llm", researcher_args={"model": "m"})
        got = s.campaign("c1")
        assert (got.status, got.incumbent_id, got.baseline_id) == ("finished", 7, 3)
        assert got.config == {"workers": 2} and got.researcher == "llm"
        assert got.researcher_args == {"model": "m"}
        s.update_campaign("c1", incumbent_id=None)
        assert s.campaign("c1").incumbent_id is None
        with pytest.raises(ValueError, match="task_name"):
            s.update_campaign("c1", task_name="other")  # type: ignore[call-arg]
        with pytest.raises(StoreError, match="no campaign 'zz'"):
            s.update_campaign("zz", status="finished")

    # experiments -------------------------------------------------------------------------

    def test_add_pending_round_trip(self, backend: Backend) -> None:
        s = backend.store()
        campaign(s)
        d = draft(parent_id=None, researcher="llm", researcher_args={"model": "m"},
                  rationale="why", proposal={"edits": [{"file": "a.py", "replace": "y"}]},
                  diff="--- a\n+++ b\n", files={"a.py": "y", "b/c.py": "z"}, seed=5,
                  provenance={"task_hash": "h"}, meta={"tokens": 12, "nested": {"k": [1, 2]}},
                  line=2, created_at=123.5, flags=["a.py:3: encoded-blob: a run of 400"],
                  # ignored by add_pending: the measurement comes with `finish`
                  state=State.OK, reason="ignored", objective=9.0, duplicate_of=4)
        ids = [s.add_pending(d, "hash-a"), s.add_pending(draft(), "hash-b")]
        assert len(set(ids)) == 2
        got = s.experiment(ids[0])
        want = d.model_copy(update={"id": ids[0], "seq": 0, "state": State.PENDING, "reason": "",
                                    "objective": None, "duplicate_of": None})
        assert stripped(got) == stripped(want) and got.runs == []
        assert s.experiment(ids[1]).seq == 1
        assert [e.id for e in s.pending("c1")] == ids
        assert s.pending("c1")[0].files == d.files  # pending records are full
        with pytest.raises(StoreError, match="no campaign 'other'"):
            s.add_pending(draft("other"), "h")

    def test_seq_is_per_campaign(self, backend: Backend) -> None:
        s = backend.store()
        campaign(s, "c1")
        campaign(s, "c2", created=2000.0)
        a = [s.add_pending(draft("c1"), "h") for _ in range(3)]
        b = [s.add_pending(draft("c2"), "h") for _ in range(2)]
        assert [s.experiment(i).seq for i in a] == [0, 1, 2]
        assert [s.experiment(i).seq for i in b] == [0, 1]
        assert s.size("c1") == 3 and s.size("c2") == 2 and s.size("none") == 0

    def test_finish_round_trip_with_runs(self, backend: Backend) -> None:
        s = backend.store()
        campaign(s)
        inc = s.add_pending(draft(), "h0")
        eid = s.add_pending(draft(files={"a.py": "fast"}, meta={"tokens": 1}), "h1")
        e = s.experiment(eid, runs=False).model_copy(update={
            "state": State.OK, "decision": Decision.KEEP, "reason": "better: 0.5x",
            "metrics": {"wall_seconds": 0.5, "correct": 1}, "objective": 0.5, "speedup": 2.0,
            "ratio_low": 0.4, "ratio_high": 0.6, "provenance": {"sandbox": "bwrap"},
            "log_tail": "ok\n", "meta": {"tokens": 1, "phase": "sweep"}, "finished_at": 99.0})
        runs = [run("candidate", 0, 0.5, cores=[1], threads=2, started_at=5.0),
                run("incumbent", 0, 1.0), run("candidate", 1, None, scored=False, exit_code=None,
                                              kill_reason="wall_time"),
                run("rival1", 100, 0.9)]
        s.finish(e, runs, {"candidate": eid, "incumbent": inc, "rival1": None})
        got = s.experiment(eid)
        assert stripped(got) == stripped(e)
        assert got.runs == runs
        assert s.runs(eid) == runs and s.runs(inc) == []
        assert s.subject_values(eid) == [0.5] and s.subject_values(inc) == [1.0]
        assert s.pending("c1")[0].id == inc
        # finishing again replaces the measurement and every run
        s.finish(e.model_copy(update={"state": State.CRASHED, "duplicate_of": inc}), [run()], {})
        again = s.experiment(eid)
        assert again.state == State.CRASHED and again.duplicate_of == inc
        assert [r.pair for r in again.runs] == [0] and s.subject_values(inc) == []
        with pytest.raises(StoreError, match="no experiment 4242"):
            s.finish(e.model_copy(update={"id": 4242}), [], {})

    def test_reviews_are_appended_and_read_back(self, backend: Backend) -> None:
        s = backend.store()
        campaign(s)
        campaign(s, "c2", created=2000.0)
        eid = s.add_pending(draft(flags=["a.py:1: numeric-table: 300"]), "code-x")
        other = s.add_pending(draft("c2"), "code-y")
        assert s.code_hash_of(eid) == "code-x" and s.reviews("c1") == []
        first = Review(campaign_id="c1", experiment_id=eid, code_hash="code-x",
                       verdict="rejected", reviewer="ann", reason="weights", at=10.0)
        second = first.model_copy(update={"verdict": "cleared", "reason": "a lookup table",
                                          "at": 11.0})
        s.add_review(first)
        s.add_review(second)
        assert s.reviews("c1") == [first, second]
        assert s.reviews("c1", code_hash="code-x") == [first, second]
        assert s.reviews("c1", code_hash="other") == [] and s.reviews("c2") == []
        with pytest.raises(StoreError, match=f"no experiment {other} in campaign 'c1'"):
            s.add_review(first.model_copy(update={"experiment_id": other}))
        with pytest.raises(StoreError):
            s.code_hash_of(4242)

    def test_runs_of_a_pending_experiment_are_stored_one_by_one(self, backend: Backend) -> None:
        s = backend.store()
        campaign(s)
        base = s.add_pending(draft(), "h0")
        measured(s, base, runs=[run("baseline", objective=1.0)], subjects={"baseline": base})
        eid = s.add_pending(draft(seq=1, parent_id=base), "h1")
        first = run("candidate", 0, 0.5, note="scored: other processes used 0.10 cores",
                    state="ok", metrics={"wall_seconds": 0.5, "val": "x"})
        s.add_runs(eid, [first], {"candidate": eid})
        s.add_runs(eid, [run("incumbent", 1, 1.1)], {"incumbent": base})
        got = backend.store(read_only=True).runs(eid)  # another handle sees them at once
        assert [(r.role, r.pair) for r in got] == [("candidate", 0), ("incumbent", 1)]
        assert got[0].note == first.note and got[0].state == "ok"
        assert got[0].metrics == {"wall_seconds": 0.5, "val": "x"}
        # runs of a pending experiment do not count as the incumbent's values yet
        assert s.subject_values(base) == [1.0] and s.subject_values(eid) == []
        measured(s, eid, runs=[first, run("incumbent", 1, 1.1)],
                 subjects={"candidate": eid, "incumbent": base})
        assert len(s.runs(eid)) == 2 and s.subject_values(base) == [1.0, 1.1]  # replaced, not added
        with pytest.raises(StoreError, match="pending"):
            s.add_runs(eid, [run()], {})  # finished: its runs are final

    def test_budget_spent_and_reason_of_a_campaign(self, backend: Backend) -> None:
        s = backend.store()
        campaign(s)
        assert (s.campaign("c1").spent_seconds, s.campaign("c1").reason) == (0.0, "")
        s.update_campaign("c1", status="failed", spent_seconds=12.5,
                          reason="the baseline does not pass: crashed")
        got = s.campaign("c1")
        assert (got.status, got.spent_seconds) == ("failed", 12.5)
        assert got.reason == "the baseline does not pass: crashed"

    def test_subject_values_across_experiments_in_order(self, backend: Backend) -> None:
        s = backend.store()
        campaign(s)
        base = s.add_pending(draft(), "h0")
        measured(s, base, runs=[run("baseline", 0, 1.0), run("baseline", 1, 1.2)],
                 subjects={"baseline": base})
        for k in range(3):
            eid = s.add_pending(draft(), f"h{k + 1}")
            measured(s, eid, runs=[run("candidate", 0, 0.9), run("incumbent", 0, 1.1 + k),
                                   run("incumbent", 1, 5.0, scored=False),
                                   run("incumbent", 2, None)],
                     subjects={"candidate": eid, "incumbent": base})
        assert s.subject_values(base) == [1.0, 1.2, 1.1, 2.1, 3.1]

    def test_update_code_only_while_pending(self, backend: Backend) -> None:
        s = backend.store()
        campaign(s)
        eid = s.add_pending(draft(), "old")
        e = s.experiment(eid).model_copy(update={"files": {"a.py": "new"}, "diff": "d",
                                                 "rationale": "agent's"})
        s.update_code(e, "new")
        got = s.experiment(eid)
        assert (got.files, got.diff, got.rationale) == ({"a.py": "new"}, "d", "agent's")
        measured(s, eid)
        assert s.find_code("c1", "new") == eid and s.find_code("c1", "old") is None
        s.update_code(e.model_copy(update={"files": {"a.py": "later"}}), "later")
        assert s.experiment(eid).files == {"a.py": "new"}  # no longer pending: unchanged
        assert s.find_code("c1", "later") is None

    def test_find_code_skips_pending_and_invalid(self, backend: Backend) -> None:
        s = backend.store()
        campaign(s)
        campaign(s, "c2", created=2.0)
        pend = s.add_pending(draft(), "same")
        inv = s.add_pending(draft(), "same")
        measured(s, inv, State.INVALID)
        assert s.find_code("c1", "same") is None and pend
        first = s.add_pending(draft(), "same")
        measured(s, first, State.CRASHED)
        later = s.add_pending(draft(), "same")
        measured(s, later, State.OK)
        assert s.find_code("c1", "same") == first
        assert s.find_code("c2", "same") is None

    def test_unknown_experiment(self, backend: Backend) -> None:
        s = backend.store()
        with pytest.raises(StoreError, match="no experiment 5"):
            s.experiment(5)
        assert s.runs(5) == [] and s.subject_values(5) == []

    def test_counts_and_progress(self, backend: Backend) -> None:
        s = backend.store()
        campaign(s)
        assert s.count("c1") == {} and s.progress("c1") == (0, 0.0)
        ids = [s.add_pending(draft(created_at=10.0 + k), "h") for k in range(4)]
        measured(s, ids[0], State.OK, finished_at=50.0)
        measured(s, ids[1], State.CRASHED, finished_at=40.0)
        measured(s, ids[2], State.CRASHED, finished_at=30.0)
        assert s.count("c1") == {"ok": 1, "crashed": 2, "pending": 1}
        assert s.progress("c1") == (3, 50.0)
        assert s.size("c1") == 4

    def test_light_and_full_listing(self, backend: Backend) -> None:
        s = backend.store()
        campaign(s)
        full_fields = {"researcher_args": {"a": 1}, "proposal": {"p": 1}, "diff": "d",
                       "provenance": {"v": 1}, "meta": {"m": 1}, "line": 1}
        ids = [s.add_pending(draft(rationale=f"e{k}", **full_fields), "h") for k in range(5)]
        for eid in ids[:4]:
            measured(s, eid, log_tail="tail", duplicate_of=ids[0], metrics={"x": 1.0},
                     objective=2.0)
        light = s.experiments("c1")
        full = s.experiments("c1", full=True)
        assert [e.id for e in light] == [e.id for e in full] == ids
        for lt, fu in zip(light, full, strict=True):
            assert stripped(lt) == stripped(fu.model_copy(update=HEAVY))
            assert fu.files == {"a.py": "x = 1\n"} and fu.diff == "d"
        assert full[0].log_tail == "tail" and light[0].log_tail == ""
        assert light[0].meta == {"m": 1} and light[0].line == 1 and light[1].duplicate_of == ids[0]
        assert [e.id for e in s.experiments("c1", include_pending=False)] == ids[:4]
        assert [e.id for e in s.experiments("c1", last=2)] == ids[3:]
        assert [e.id for e in s.experiments("c1", full=True, last=2)] == ids[3:]
        assert s.experiments("c1", full=True, last=2)[0].diff == "d"
        assert s.experiments("nope") == []

    def test_select_conditions(self, backend: Backend) -> None:
        s = backend.store()
        campaign(s)
        campaign(s, "c2", created=2.0)
        spec = [("baseline", 0, State.OK, "hb"), ("a", 0, State.OK, "h1"),
                ("b", 1, State.CRASHED, "h2"), ("a", 0, State.INVALID, "h1"),
                ("b", 1, State.OK, "h3"), ("a", 0, State.PENDING, "h4")]
        ids = []
        for who, line, state, h in spec:
            eid = s.add_pending(draft(researcher=who, line=line), h)
            if state != State.PENDING:
                measured(s, eid, state)
            ids.append(eid)
        s.add_pending(draft("c2"), "h1")

        def sel(**kw: Any) -> list[int]:
            got = [e.id for e in s.select(Selection("c1", **kw))]
            assert s.count_selected(Selection("c1", **kw)) == len(got)
            return got

        assert sel() == ids
        assert sel(line=1) == [ids[0], ids[2], ids[4]]  # the baseline belongs to every line
        assert sel(researcher="a") == [ids[1], ids[3], ids[5]]
        assert sel(states=frozenset({State.OK})) == [ids[0], ids[1], ids[4]]
        assert sel(code_hash="h1") == [ids[1], ids[3]]
        assert sel(min_seq=1, max_seq=3) == ids[1:4]
        assert sel(exclude_ids=frozenset({ids[1], ids[5]})) == [ids[0], ids[2], ids[3], ids[4]]
        assert sel(line=0, researcher="a", states=frozenset({State.OK, State.INVALID})) == ids[1:4:2]
        assert sel(researcher="nobody") == []

    def test_select_pages(self, backend: Backend) -> None:
        s = backend.store()
        campaign(s)
        ids = [s.add_pending(draft(), "h") for _ in range(7)]
        every = Selection("c1")

        def page(**kw: Any) -> list[int]:
            return [e.id for e in s.select(every, **kw)]

        assert page(offset=2, limit=3) == ids[2:5]
        assert page(offset=5) == ids[5:]
        assert page(limit=0) == []
        assert page(newest_first=True, limit=2) == [ids[6], ids[5]]
        assert page(newest_first=True, offset=1, limit=2) == [ids[5], ids[4]]
        light, = s.select(every, limit=1)
        full, = s.select(every, limit=1, full=True)
        assert light.files == {} and full.files == {"a.py": "x = 1\n"}

    def test_select_best_first(self, backend: Backend) -> None:
        s = backend.store()
        campaign(s)
        values = [3.0, None, 1.0, 2.0, 1.0, 5.0]
        ids = []
        for v in values:
            eid = s.add_pending(draft(), "h")
            measured(s, eid, State.OK if v is not None else State.CRASHED, objective=v)
            ids.append(eid)
        every = Selection("c1")
        assert [e.id for e in s.select(every, by_objective="min")] == [
            ids[2], ids[4], ids[3], ids[0], ids[5]]  # no objective: left out; ties by id
        assert [e.id for e in s.select(every, by_objective="max", limit=3)] == [
            ids[5], ids[0], ids[3]]
        assert [e.id for e in s.select(every, by_objective="max", offset=3)] == [ids[2], ids[4]]
        assert [e.id for e in s.select(Selection("c1", max_seq=2), by_objective="min")] == [
            ids[2], ids[0]]

    def test_meta_sums(self, backend: Backend) -> None:
        s = backend.store()
        campaign(s)
        metas: list[dict[str, Any]] = [{"tokens_in": 10, "cost_usd": 0.25}, {"tokens_in": 5},
                                       {"tokens_in": "7", "cost_usd": True, "other": 1},
                                       {"tokens_in": 1.5, "cost_usd": 0.5}, {}]
        for k, m in enumerate(metas):
            eid = s.add_pending(draft(researcher="a" if k < 3 else "b", line=k % 2), "h")
            measured(s, eid, meta=m)
        keys = ["tokens_in", "cost_usd", "missing"]
        assert s.meta_sums(Selection("c1"), keys) == {"tokens_in": 16.5, "cost_usd": 0.75,
                                                      "missing": 0.0}
        assert s.meta_sums(Selection("c1", researcher="a"), keys[:2]) == {
            "tokens_in": 15.0, "cost_usd": 0.25}
        assert s.meta_sums(Selection("c1", line=1), ["tokens_in"]) == {"tokens_in": 16.5}
        assert s.meta_sums(Selection("nope"), ["tokens_in"]) == {"tokens_in": 0.0}

    def test_selection_with_max_seq_is_a_snapshot(self, backend: Backend) -> None:
        s = backend.store()
        campaign(s)
        ids = [s.add_pending(draft(), "h") for _ in range(3)]
        snap = Selection("c1", max_seq=s.size("c1") - 1)
        s.add_pending(draft(), "h")
        measured(s, ids[1])
        assert [e.id for e in s.select(snap)] == ids and s.count_selected(snap) == 3
        assert s.select(snap)[1].state == State.OK  # states are read as they are now

    def test_line_stats(self, backend: Backend) -> None:
        s = backend.store()
        campaign(s)
        base = s.add_pending(draft(researcher="baseline"), "b")
        measured(s, base, decision=Decision.KEEP, speedup=1.0)
        spec = [("a", 0, State.OK, Decision.KEEP, 2.0), ("a", 0, State.OK, Decision.KEEP, 3.0),
                ("a", 0, State.CRASHED, Decision.DISCARD, None),
                ("b", 1, State.OK, Decision.KEEP, 2.5), ("b", 1, State.OK, Decision.DISCARD, 9.0)]
        ids = {}
        for who, line, state, decision, sp in spec:
            eid = s.add_pending(draft(researcher=who, line=line), "h")
            measured(s, eid, state, decision=decision, speedup=sp)
            ids[(who, sp)] = eid
        s.add_pending(draft(researcher="b", line=1), "h")  # pending
        s.update_campaign("c1", incumbent_id=ids[("a", 3.0)], baseline_id=base)
        a, b = s.line_stats("c1")
        assert (a.researcher, a.line, a.experiments, a.kept) == ("a", 0, 3, 2)
        assert a.states == {"ok": 2, "crashed": 1}
        assert (a.best_speedup, a.best_id, a.incumbent) == (3.0, ids[("a", 3.0)], True)
        assert (b.researcher, b.line, b.experiments, b.kept) == ("b", 1, 3, 1)
        assert b.states == {"ok": 2, "pending": 1}
        assert (b.best_speedup, b.best_id, b.incumbent) == (2.5, ids[("b", 2.5)], False)

    # read-only, concurrency, crash safety ------------------------------------------------

    def test_read_only_refuses_every_write(self, backend: Backend) -> None:
        w = backend.store()
        campaign(w)
        eid = w.add_pending(draft(), "h")
        r = backend.store(read_only=True)
        assert r.read_only and not w.read_only
        e = r.experiment(eid)
        writes: list[Callable[[], object]] = [
            lambda: r.create_campaign(CampaignInfo(id="x", task_name="t", task_dir="/",
                                                   task_hash="h", researcher="r", created_at=1)),
            lambda: r.update_campaign("c1", status="finished"),
            lambda: r.add_pending(draft(), "h"),
            lambda: r.finish(e.model_copy(update={"state": State.OK}), [run()], {}),
            lambda: r.update_code(e.model_copy(update={"files": {}}), "x"),
            lambda: r.add_review(Review(campaign_id="c1", experiment_id=eid, code_hash="h",
                                        verdict="cleared", reviewer="me", reason="fine")),
        ]
        for write in writes:
            with pytest.raises(StoreError, match="read-only"):
                write()
        assert r.campaign("c1").status == "running" and r.pending("c1")[0].id == eid
        assert r.size("c1") == 1 and r.runs(eid) == []
        measured(w, eid)  # the writer goes on; the reader sees it
        assert r.experiment(eid).state == State.OK

    def test_two_handles_in_threads(self, backend: Backend) -> None:
        first = backend.store()
        campaign(first)
        handles = [first, backend.store()]
        errors: list[BaseException] = []

        def work(s: Store, k: int) -> None:
            try:
                for i in range(25):
                    eid = s.add_pending(draft(rationale=f"{k}-{i}"), f"h{k}-{i}")
                    measured(s, eid, runs=[run(pair=p) for p in range(3)])
                    s.experiments("c1", last=5)
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(h, k)) for k, h in enumerate(handles * 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        exps = first.experiments("c1")
        assert [e.seq for e in exps] == list(range(100))
        assert len({e.rationale for e in exps}) == 100
        assert all(e.state == State.OK and len(first.runs(e.id)) == 3 for e in exps)

    def test_two_processes(self, backend: Backend) -> None:
        if backend.opener is None:
            pytest.skip(f"{backend.name}: an in-process backend has no second process")
        s = backend.store()
        campaign(s)
        code = backend.opener + textwrap.dedent("""
            import sys
            from rubicon.types import Decision, Experiment, State, TimedRun
            for i in range(40):
                eid = store.add_pending(Experiment(id=0, campaign_id="c1", seq=0, parent_id=None,
                                                   researcher=sys.argv[1]), "h")
                e = store.experiment(eid)
                e.state, e.decision = State.OK, Decision.DISCARD
                store.finish(e, [TimedRun(role="candidate", pair=p, wall_seconds=1, cpu_seconds=1,
                                          peak_memory_mb=1, foreign_load=0, exit_code=0,
                                          scored=True) for p in range(2)], {})
        """)
        procs = [subprocess.Popen([sys.executable, "-c", code, who]) for who in ("p1", "p2")]
        assert [p.wait(timeout=120) for p in procs] == [0, 0]
        exps = s.experiments("c1")
        assert [e.seq for e in exps] == list(range(80))
        assert {e.researcher for e in exps} == {"p1", "p2"}
        assert all(len(s.runs(e.id)) == 2 for e in exps) and s.check() == []

    def test_finish_is_all_or_nothing(self, backend: Backend) -> None:
        s = backend.store()
        campaign(s)
        eid = s.add_pending(draft(), "h")

        def runs_then_failure() -> Iterator[TimedRun]:
            yield run(pair=0)
            yield run(pair=1)
            raise RuntimeError("the writer died mid-way")

        e = s.experiment(eid).model_copy(update={"state": State.OK, "reason": "half"})
        with pytest.raises(RuntimeError, match="mid-way"):
            s.finish(e, FailingRuns(runs_then_failure()), {})
        got = s.experiment(eid)
        assert got.state == State.PENDING and got.reason == "" and got.runs == []
        s.finish(e, [run(pair=0)], {})  # the store is still usable
        assert s.experiment(eid).state == State.OK and len(s.runs(eid)) == 1

    def test_kill_during_writes_leaves_each_experiment_whole(self, backend: Backend) -> None:
        """kill -9 a writer mid-stream: every experiment is pending or fully recorded."""
        if backend.opener is None:
            pytest.skip(f"{backend.name}: records of an in-process backend die with the process")
        s = backend.store()
        campaign(s)
        code = backend.opener + textwrap.dedent("""
            from rubicon.types import Decision, Experiment, State, TimedRun
            while True:
                eid = store.add_pending(Experiment(id=0, campaign_id="c1", seq=0, parent_id=None,
                                                   researcher="r"), "h")
                e = store.experiment(eid)
                e.state, e.decision = State.OK, Decision.DISCARD
                store.finish(e, [TimedRun(role="candidate", pair=i, wall_seconds=1, cpu_seconds=1,
                                          peak_memory_mb=1, foreign_load=0, exit_code=0,
                                          scored=True) for i in range(5)], {})
        """)
        for extra in (3, 7, 11):  # kill at a different point of the write loop each time
            before = s.size("c1")
            p = subprocess.Popen([sys.executable, "-c", code])
            deadline = time.monotonic() + 120
            while s.size("c1") < before + extra and time.monotonic() < deadline:
                time.sleep(0.01)
            p.kill()
            p.wait()
        s = backend.store()
        assert s.check() == []
        exps = s.experiments("c1")
        assert len(exps) > 3
        for e in exps:
            n = len(s.runs(e.id))
            assert (e.state == State.PENDING and n == 0) or (e.state == State.OK and n == 5)


class FailingRuns(list[TimedRun]):
    """A run list whose iteration fails part-way (a writer that dies while recording)."""

    def __init__(self, source: Iterator[TimedRun]) -> None:
        super().__init__()
        self._source = source

    def __iter__(self) -> Iterator[TimedRun]:
        return self._source

    def __len__(self) -> int:
        return 3
