"""`ResearchContext.history`: the store-backed lazy sequence behaves as the list it replaces."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rubicon.campaign import Campaign, CampaignConfig
from rubicon.campaign.history import StoreHistory, shown_as
from rubicon.researcher import ListHistory, ResearchContext
from rubicon.researcher._history import PAGE_FULL, PAGE_LIGHT
from rubicon.store import MemoryStore, Selection, Store, open_store
from rubicon.task import resolve_task
from rubicon.types import CampaignInfo, Decision, Experiment, State, TimedRun
from rubicon.workspace import code_hash

STATES = [State.OK, State.CRASHED, State.INVALID, State.OK, State.PENDING, State.GATE_FAILED]


class Counting:
    """A store proxy that counts calls and the records they return."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.calls: dict[str, int] = {}
        self.records = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not callable(attr):
            return attr

        def counted(*a: Any, **kw: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            out = attr(*a, **kw)
            if isinstance(out, list) and out and isinstance(out[0], Experiment):
                self.records += len(out)
            elif isinstance(out, Experiment):
                self.records += 1
            return out

        return counted


def fill(s: Store, n: int, cid: str = "c1") -> list[Experiment]:
    """A campaign of n experiments: a baseline, then two researchers on two lines."""
    s.create_campaign(CampaignInfo(id=cid, task_name="t", task_dir="/x", task_hash="h",
                                   researcher="r", created_at=1.0))
    out = []
    for k in range(n):
        who, line = ("baseline", 0) if k == 0 else (("a", 0) if k % 3 else ("b", 1))
        files = {"s.py": f"x = {k % 50}\n"}
        eid = s.add_pending(Experiment(id=0, campaign_id=cid, seq=0, parent_id=None,
                                       researcher=who, line=line, files=files,
                                       meta={"k": k}), code_hash(files))
        state = State.OK if k == 0 else STATES[k % len(STATES)]
        if state != State.PENDING:
            e = s.experiment(eid, runs=False)
            e.state, e.decision, e.objective = state, Decision.DISCARD, 1.0 + k % 7
            e.log_tail = f"tail {k}"
            s.finish(e, [TimedRun(role="candidate", pair=0, wall_seconds=1, cpu_seconds=1,
                                  peak_memory_mb=1, foreign_load=0, exit_code=0, scored=True)], {})
        out.append(s.experiment(eid, runs=False))
    return out


@pytest.fixture(params=["sqlite", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s: Store = open_store(tmp_path) if request.param == "sqlite" else MemoryStore(tmp_path)
    yield s
    s.close()


def _ids(seq: Any) -> list[int]:
    return [e.id for e in seq]


def test_store_history_is_the_list_it_replaces(store: Store) -> None:
    n = 2 * PAGE_LIGHT + 37  # several pages of each kind
    exps = fill(store, n)
    pending = {e.id for e in exps if e.state == State.PENDING}
    inflight = set(sorted(pending)[:3])
    sel = Selection("c1", max_seq=n - 1, exclude_ids=frozenset(pending - inflight))
    want = [e for e in exps if e.id not in pending - inflight]
    lazy, plain = StoreHistory(store, sel), ListHistory(want)
    assert len(lazy) == len(plain) == len(want)
    assert _ids(lazy) == _ids(plain) and list(lazy) == want  # full records, in seq order
    for i in (0, 1, PAGE_FULL - 1, PAGE_FULL, len(want) // 2, -1, -PAGE_FULL - 1, -len(want)):
        assert lazy[i] == want[i]
    for sl in (slice(3, 40), slice(-25, None), slice(None, None, 7), slice(50, 10, -3)):
        assert lazy[sl] == want[sl]
    with pytest.raises(IndexError):
        lazy[len(want)]
    assert _ids(reversed(lazy)) == _ids(reversed(want))
    assert lazy.recent(5) == want[-5:] and lazy.recent(0) == [] and lazy.recent(10**6) == want
    light = list(lazy.light)
    assert _ids(light) == _ids(want)
    assert all(e.files == {} and e.log_tail == "" for e in light)
    assert [(e.state, e.objective, e.meta, e.line) for e in light] == [
        (e.state, e.objective, e.meta, e.line) for e in want]
    assert lazy.by_id(want[7].id) == want[7] and lazy.light.by_id(want[7].id) == want[7]
    with pytest.raises(KeyError):
        lazy.by_id(next(iter(pending - inflight)))  # in the store, not in this history
    with pytest.raises(KeyError):
        lazy.by_id(10**6)


def test_every_read_of_a_shown_history_is_rewritten(store: Store) -> None:
    """A honeypot's history reads as its twin's on every path, not only plain iteration: a
    path that bypasses `shown` would hand a researcher the honeypot's own campaign id."""
    n = PAGE_LIGHT + 20
    fill(store, n, cid="honeypot-answers-20261202-120000-ab12")
    twin = resolve_task("count-divisors")
    lazy = StoreHistory(store, Selection("honeypot-answers-20261202-120000-ab12", max_seq=n - 1),
                        shown=shown_as(twin))
    reads: dict[str, list[Experiment]] = {
        "iter": list(lazy), "index": [lazy[0], lazy[-1]], "slice": lazy[3:9],
        "reversed": list(reversed(lazy)), "recent": lazy.recent(5),
        "best": list(lazy.best()), "light": list(lazy.light),
        "where": list(lazy.where(researcher="a")),
        "by_id": [lazy.by_id(lazy[4].id), lazy.light.by_id(lazy[5].id)]}
    for how, got in reads.items():
        assert got, how
        for e in got:
            assert e.campaign_id == "count-divisors-20261202-120000-ab12", how
            assert e.provenance.get("task_hash") == twin.identity_hash(), how


def test_where_matches_the_list_filter(store: Store) -> None:
    exps = fill(store, 90)
    lazy = StoreHistory(store, Selection("c1", max_seq=89))
    plain = ListHistory(exps)
    h = code_hash({"s.py": "x = 4\n"})
    cases: list[dict[str, Any]] = [
        {"researcher": "a"}, {"researcher": "b", "states": [State.OK, State.CRASHED]},
        {"min_seq": 1}, {"states": [State.PENDING]}, {"code_hash": h},
        {"code_hash": h, "states": [State.OK]}, {"researcher": "nobody"}]
    for kw in cases:
        assert _ids(lazy.where(**kw)) == _ids(plain.where(**kw)), kw
        assert len(lazy.where(**kw)) == len(plain.where(**kw)), kw
    for maximize in (False, True):
        assert _ids(lazy.best(maximize)) == _ids(plain.best(maximize))
        assert _ids(lazy.where(states=[State.OK]).best(maximize)) == _ids(
            plain.where(states=[State.OK]).best(maximize))
    assert lazy.where(researcher="a").sum_meta("k", "none") == plain.where(
        researcher="a").sum_meta("k", "none")
    assert lazy.sum_meta("k")["k"] == sum(e.meta["k"] for e in exps)
    nested = lazy.where(researcher="a").where(states=[State.OK])
    assert _ids(nested) == [e.id for e in exps if e.researcher == "a" and e.state == State.OK]


def test_line_selection_and_snapshot(store: Store) -> None:
    exps = fill(store, 40)
    lazy = StoreHistory(store, Selection("c1", max_seq=39, line=1))
    assert _ids(lazy) == [e.id for e in exps if e.seq == 0 or e.line == 1]
    fill_more = exps[-1].model_copy(update={"id": 0})
    store.add_pending(fill_more, "h")  # recorded after the snapshot: not in it
    assert len(StoreHistory(store, Selection("c1", max_seq=39))) == 40


def test_pages_are_read_once_and_only_when_needed(tmp_path: Path) -> None:
    inner = open_store(tmp_path)
    fill(inner, 3 * PAGE_LIGHT)
    s = Counting(inner)
    lazy = StoreHistory(s, Selection("c1", max_seq=3 * PAGE_LIGHT - 1))  # type: ignore[arg-type]
    assert s.calls == {} and s.records == 0  # nothing read on construction
    len(lazy)
    assert s.calls == {"count_selected": 1} and s.records == 0
    lazy[-1]
    lazy[-2]
    assert s.records == PAGE_FULL  # one page of full records, from the end
    list(lazy.light)
    list(lazy.light)
    assert s.records == PAGE_FULL + 3 * PAGE_LIGHT  # every light record once
    assert lazy.light.recent(3)[-1].id == lazy[-1].id
    assert s.records == PAGE_FULL + 3 * PAGE_LIGHT
    fresh = StoreHistory(s, Selection("c1", max_seq=3 * PAGE_LIGHT - 1))  # type: ignore[arg-type]
    calls = dict(s.calls)
    assert len(fresh.recent(2)) == 2 and next(reversed(fresh.light)).seq == 3 * PAGE_LIGHT - 1
    assert s.calls.get("count_selected") == calls.get("count_selected")  # no count needed
    assert s.records == PAGE_FULL + 3 * PAGE_LIGHT + 2 + 8


def test_a_plain_list_is_accepted_as_history() -> None:
    e = Experiment(id=1, campaign_id="c", seq=0, parent_id=None, researcher="baseline")
    from rubicon.task import resolve_task

    ctx = ResearchContext(task=resolve_task("demo-inversions"), baseline=e, incumbent=e,
                          history=[e])
    assert isinstance(ctx.history, ListHistory) and list(ctx.history) == [e]
    assert ResearchContext(task=ctx.task, baseline=e, incumbent=e).history.recent(3) == []


def _campaign_of(n: int, directory: Path) -> tuple[Campaign, Counting]:
    """A campaign with n recorded experiments (written straight to its store), its store
    wrapped in a counter."""
    c = Campaign.create("demo-inversions", "scripted", directory=directory,
                        cfg=CampaignConfig(max_experiments=10**6))
    store = c.store
    base = None
    for i in range(n):
        eid = store.add_pending(Experiment(
            id=0, campaign_id=c.info.id, seq=0, parent_id=base,
            researcher="baseline" if i == 0 else "scripted", files={"solution.py": str(i)},
            rationale=f"step {i}"), str(i))
        e = store.experiment(eid, runs=False)
        e.state, e.decision, e.objective = State.OK, Decision.DISCARD, 1.0
        store.finish(e, [], {})
        base = base or eid
    c.info.baseline_id = c.info.incumbent_id = base
    store.update_campaign(c.info.id, baseline_id=base, incumbent_id=base)
    counting = Counting(store)
    c.store = counting  # type: ignore[assignment]
    return c, counting


@pytest.mark.parametrize("n", [30, 600])
def test_context_reads_the_same_whatever_the_campaign_size(tmp_path: Path, n: int) -> None:
    c, s = _campaign_of(n, tmp_path)
    ctx = c.context()
    assert s.records <= 2  # the baseline and the incumbent; the history is not read yet
    assert sum(s.calls.values()) <= 5 and ctx.experiments_left == 10**6 - (n - 1)
    assert len(ctx.history) == n and ctx.history.recent(1)[0].rationale == f"step {n - 1}"
    reads = s.records
    assert c.lines[0].researcher.propose(ctx) is None  # the scripted researcher: one count
    assert s.records == reads
