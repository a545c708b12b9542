"""Local workers, the timing lane, per-core foreign load, and a manager over several lines."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from rubicon.campaign import Campaign, CampaignConfig
from rubicon.cli.main import main
from rubicon.manager import line_stats, researcher_specs
from rubicon.measure.protocol import ProtocolConfig
from rubicon.researcher.scripted import ScriptedResearcher
from rubicon.runner import SandboxSpec, run_sandboxed
from rubicon.runner.lane import TimingLane, split_cores
from rubicon.types import Decision, Proposal, State

CALM = ProtocolConfig(max_foreign_load=1e9, max_pairs=4)
CORES = sorted(os.sched_getaffinity(0))
BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < {s}:\n    pass\n"


def test_split_cores_keeps_one_core_for_untimed_work() -> None:
    assert split_cores(1, [0, 1]) == ([1], [0])
    assert split_cores(2, [0, 1]) == ([0, 1], [])  # no core to spare: untimed work unpinned
    assert split_cores(2, [0, 1, 2, 3]) == ([1, 2, 3], [0])


def test_lane_never_grants_a_core_twice(tmp_path: Path) -> None:
    """Two lanes on one lock directory stand for two processes on one node."""
    lanes = [TimingLane([0, 1], tmp_path), TimingLane([0, 1], tmp_path)]
    holding: dict[int, int] = {0: 0, 1: 0}
    worst: dict[int, int] = {0: 0, 1: 0}
    guard = threading.Lock()
    grants: list[list[int]] = []

    def use(lane: TimingLane, n: int) -> None:
        for _ in range(15):
            with lane.timed(n) as cores:
                with guard:
                    grants.append(cores)
                    for c in cores:
                        holding[c] += 1
                        worst[c] = max(worst[c], holding[c])
                time.sleep(0.003)
                with guard:
                    for c in cores:
                        holding[c] -= 1

    threads = [threading.Thread(target=use, args=(lanes[i % 2], 1 + (i == 0))) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert worst == {0: 1, 1: 1}
    assert len(grants) == 60 and any(len(g) == 2 for g in grants)


def test_lane_waits_for_a_core_held_by_another_process(tmp_path: Path) -> None:
    """The other process holds core 0's lock until told to let go: the lane's grant can only
    come after that (a positive order of events, no timing assumption)."""
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys\n"
        f"fd = os.open({str(tmp_path / 'core0.lock')!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('locked', flush=True)\n"
        "sys.stdin.readline()\nprint('releasing', flush=True)\n")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdin is not None and holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    events: list[str] = []
    granted = threading.Event()
    tried = threading.Semaphore(0)

    class Lane(TimingLane):
        def _try(self, n: int) -> tuple[list[int], list[int]] | None:
            got = super()._try(n)
            tried.release()  # one attempt made
            return got

    def take() -> None:
        with Lane([0], tmp_path).timed(1) as cores:
            events.append(f"granted {cores}")
            granted.set()

    taker = threading.Thread(target=take)
    taker.start()
    for _ in range(3):  # the lane has tried (and failed) three times while the core was held
        assert tried.acquire(timeout=60)
    events.append("release")
    holder.stdin.write("go\n")
    holder.stdin.flush()
    assert holder.stdout.readline().strip() == "releasing"
    assert granted.wait(60)
    taker.join()
    holder.wait()
    holder.stdin.close()
    holder.stdout.close()
    assert events == ["release", "granted [0]"]


STAT = """cpu  1000 0 500 8000 100 0 0 0 0 0
cpu0 700 0 300 3000 50 0 0 0 0 0
cpu1 300 0 200 5000 50 0 0 0 0 0
intr 1 2 3
"""


def test_busy_time_is_read_per_core(tmp_path: Path) -> None:
    from rubicon.runner._observe import busy_seconds

    fake = tmp_path / "stat"
    fake.write_text(STAT)
    clk = os.sysconf("SC_CLK_TCK")
    assert busy_seconds(stat=fake) == pytest.approx(1500 / clk)  # machine-wide
    assert busy_seconds([0], stat=fake) == pytest.approx(1000 / clk)  # only cpu0's line
    assert busy_seconds([1], stat=fake) == pytest.approx(500 / clk)
    assert busy_seconds([0, 1], stat=fake) == pytest.approx(1500 / clk)


def test_a_burner_on_the_runs_core_is_foreign_load(tmp_path: Path) -> None:
    """Live: a busy loop pinned to the run's own core shows up as its foreign load. (The other
    direction -- a burner elsewhere is not counted -- is the unit test above: this shared
    machine carries other engineers' jobs on every core, so it cannot be asserted live.)"""
    run_core = CORES[-1]
    burner = subprocess.Popen([sys.executable, "-c", BURN.format(s=3)],
                              preexec_fn=lambda: os.sched_setaffinity(0, [run_core]))
    try:
        time.sleep(0.2)
        facts = run_sandboxed(SandboxSpec(
            argv=[sys.executable, "-c", BURN.format(s=0.8)], cwd=tmp_path,
            log_path=tmp_path / "log", cores=[run_core], time_limit=30))
    finally:
        burner.kill()
        burner.wait()
    assert facts.exit_code == 0 and facts.cores == [run_core]
    assert facts.foreign_load > 0.3, facts.foreign_load  # about half the core went elsewhere


def _proposals() -> list[Proposal]:
    return ([Proposal(knobs={"method": "mergesort"}, rationale="mergesort")]
            + [Proposal(knobs={"method": "mergesort", "cutoff": c}, rationale=f"cutoff {c}")
               for c in (4, 8)]
            + [Proposal(knobs={"method": "insertion"}, rationale="insertion")])


def test_two_workers_never_time_two_runs_on_one_core(tmp_path: Path) -> None:
    c = Campaign.create("demo-inversions", "scripted", directory=tmp_path,
                        researcher_obj=ScriptedResearcher(_proposals()),
                        cfg=CampaignConfig(protocol=CALM, workers=2, baseline_runs=2))
    best = c.run()
    exps = c.store.experiments(c.info.id, full=True)
    assert [e.state for e in exps].count(State.PENDING) == 0
    got = sorted(e.rationale for e in exps if e.seq > 0)
    assert got == sorted(p.rationale for p in _proposals())  # each proposal exactly once
    by = {e.rationale: e for e in exps}
    # whichever mergesort variant was promoted first, the others had to beat it too
    assert best.rationale in ("mergesort", "cutoff 4", "cutoff 8")
    assert best.speedup is not None and best.speedup > 1.5
    assert best.decision == Decision.KEEP and c.info.incumbent_id == best.id
    assert by["insertion"].state == State.CRASHED
    assert all(e.line == 0 for e in exps if e.seq > 0)
    # timed runs of different experiments overlapping in time never share a core
    runs = [(r.started_at, r.started_at + r.wall_seconds, set(r.cores))
            for e in exps for r in c.store.runs(e.id)]
    assert runs and all(r[2] for r in runs)
    for i, (s1, e1, c1) in enumerate(runs):
        for s2, e2, c2 in runs[i + 1:]:
            if s1 < e2 - 0.01 and s2 < e1 - 0.01:
                assert not c1 & c2
    if len(CORES) > 1:  # the lane pool leaves the first core to untimed work
        assert all(min(r[2]) != CORES[0] for r in runs)
    # two experiments really were in flight at once
    spans = sorted((e.created_at, e.finished_at or 0) for e in exps if e.seq > 0)
    assert any(b[0] < a[1] for a, b in zip(spans, spans[1:], strict=False))


def test_lines_of_two_researchers_are_recorded_and_compared(tmp_path: Path) -> None:
    a = ScriptedResearcher([Proposal(knobs={"method": "mergesort", "cutoff": 2}, rationale="a1"),
                            Proposal(knobs={"method": "mergesort", "cutoff": 3}, rationale="a2")])
    b = ScriptedResearcher([Proposal(knobs={"method": "insertion"}, rationale="b1"),
                            Proposal(knobs={"cutoff": 5}, rationale="b2")])
    b.name = "scripted-b"
    c = Campaign.create("demo-inversions", "scripted", directory=tmp_path,
                        researcher_objs=[a, b],
                        cfg=CampaignConfig(protocol=CALM, workers=2, baseline_runs=2))
    c.run()
    exps = {e.rationale: e for e in c.store.experiments(c.info.id, full=True)}
    assert {k: (exps[k].researcher, exps[k].line) for k in ("a1", "a2", "b1", "b2")} == {
        "a1": ("scripted", 0), "a2": ("scripted", 0),
        "b1": ("scripted-b", 1), "b2": ("scripted-b", 1)}
    base = c.info.baseline_id
    # each line proposes from its own incumbent: line b never builds on line a's mergesort
    assert exps["b1"].parent_id == base and exps["b2"].parent_id == base
    kept = [k for k in ("a1", "a2") if exps[k].decision == Decision.KEEP]
    assert kept and c.info.incumbent_id in {exps[k].id for k in kept}  # line a's win is global
    assert exps["a1"].parent_id == base and exps["a2"].parent_id in (base, exps["a1"].id)
    if len(kept) == 1 and exps["a1"].state == exps["a2"].state == State.OK:
        loser = "a2" if kept == ["a1"] else "a1"  # measured against the winner too, or lost
        assert "not" in exps[loser].reason or "inconclusive" in exps[loser].reason
    stats = {(s.researcher, s.line): s for s in line_stats(c.store, c.info.id)}
    assert stats[("scripted", 0)].experiments == 2 and stats[("scripted", 0)].kept >= 1
    sa = stats[("scripted", 0)].best_speedup
    assert sa is not None and sa > 1.5 and stats[("scripted", 0)].incumbent
    assert stats[("scripted-b", 1)].states.get("crashed") == 1
    assert not stats[("scripted-b", 1)].incumbent


def test_researcher_specs_route_prefixed_arguments() -> None:
    specs = researcher_specs(["search", "scripted"], {"scripted.script": "s.json", "seed": "3"})
    assert specs == [{"name": "search", "args": {"seed": "3"}},
                     {"name": "scripted", "args": {"script": "s.json", "seed": "3"}}]


def test_cli_workers_lines_and_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "runs"
    code = main(["run", "demo-inversions", "--researcher", "search", "--lines", "2",
                 "--workers", "2", "--max-experiments", "4", "--baseline-runs", "2",
                 "--max-pairs", "3", "--max-foreign-load", "1e9", "--dir", str(d)])
    assert code in (0, 1)
    c = Campaign.open(d)
    assert c.cfg.workers == 2 and c.cfg.lines == 2 and len(c.lines) == 2
    exps = [e for e in c.store.experiments(c.info.id) if e.seq > 0]
    assert len(exps) == 4 and {e.line for e in exps} == {0, 1}
    capsys.readouterr()
    assert main(["show", "--dir", str(d)]) == 0
    out = capsys.readouterr().out
    assert "researchers" in out and "best speedup" in out


def test_recorded_researchers_come_back_on_open(tmp_path: Path) -> None:
    """`--researcher scripted --researcher search`: both recorded, each its own line; a reopened
    campaign rebuilds the same lines from the store and continues them."""
    script = tmp_path / "s.json"
    script.write_text('[{"knobs": {"method": "mergesort"}, "rationale": "s1"}]')
    specs = researcher_specs(["scripted", "search"], {"scripted.script": str(script)})
    c = Campaign.create("demo-inversions", "scripted", directory=tmp_path / "runs",
                        cfg=CampaignConfig(protocol=CALM, researchers=specs, max_experiments=1,
                                           baseline_runs=2))
    assert c.info.researcher == "scripted+search" and [ln.name for ln in c.lines] == [
        "scripted", "search"]
    c.run()
    c2 = Campaign.open(tmp_path / "runs")
    c2.cfg.max_experiments = 2
    assert [ln.name for ln in c2.lines] == ["scripted", "search"]
    c2.run()
    exps = [e for e in c2.store.experiments(c2.info.id) if e.seq > 0]
    assert [(e.researcher, e.line) for e in exps] == [("scripted", 0), ("search", 1)]
    assert exps[0].rationale == "s1"
