"""The campaign loop end to end on real sandboxed runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from rubicon.campaign import Campaign, CampaignConfig, export_experiment
from rubicon.errors import RubiconError
from rubicon.measure.protocol import ProtocolConfig
from rubicon.researcher.scripted import ScriptedResearcher
from rubicon.runner import detect_backend
from rubicon.task import Task
from rubicon.types import Decision, Edit, Proposal, State

# Tests check decisions, not timing: never re-run because the shared machine is busy.
CALM = ProtocolConfig(max_foreign_load=1e9)


def _campaign(task: Task | str, proposals: list[Proposal], d: Path, **cfg: object) -> Campaign:
    return Campaign.create(task, "scripted", directory=d, researcher_obj=ScriptedResearcher(proposals),
                           cfg=CampaignConfig(protocol=CALM, **cfg))  # type: ignore[arg-type]


def test_demo_campaign_end_to_end(tmp_path: Path) -> None:
    t0 = time.monotonic()
    props = [
        Proposal(knobs={"method": "mergesort"}, rationale="O(n log n)"),
        Proposal(knobs={"method": "insertion"}, rationale="not written yet"),
        Proposal(edits=[Edit(file="bench.py", replace="print('x')")], rationale="cheat"),
        Proposal(knobs={"method": "mergesort"}, rationale="same again"),
    ]
    c = _campaign("demo-inversions", props, tmp_path)
    best = c.run()
    exps = c.store.experiments(c.info.id, full=True)
    assert [e.seq for e in exps] == [0, 1, 2, 3, 4]
    base, merge, ins, cheat, dup = exps
    assert base.decision == Decision.KEEP and base.speedup == 1.0
    assert merge.state == State.OK and merge.decision == Decision.KEEP
    assert merge.speedup is not None and merge.speedup > 1.5
    assert merge.ratio_high is not None and merge.ratio_high < 1.0
    assert best.id == merge.id and c.info.incumbent_id == merge.id
    assert ins.state == State.CRASHED and "NotImplementedError" in ins.reason
    assert ins.parent_id == merge.id  # proposals build on the incumbent
    assert cheat.state == State.INVALID and "not editable" in cheat.reason
    assert dup.state == State.INVALID and f"duplicate of experiment {merge.id}" in dup.reason
    assert dup.duplicate_of == merge.id
    assert '"method": "mergesort"' in merge.diff and merge.diff.startswith("--- a/knobs.json")
    prov = merge.provenance
    assert prov["sandbox"] == detect_backend() and prov["task_hash"] == c.info.task_hash
    assert "harness_hash" in prov and "packages" in prov and prov["machine"]["cpus"]
    assert c.store.campaign(c.info.id).status == "finished"
    assert time.monotonic() - t0 < 60


BAD = {
    "crash": ("def answer(seed):\n    raise RuntimeError('boom')\n", State.CRASHED, "boom"),
    "hang": ("import time\ndef answer(seed):\n    time.sleep(60)\n", State.TIMED_OUT, "wall-time"),
    # RLIMIT_AS refuses the allocation inside the program: its own MemoryError, not a kill
    "memory": ("def answer(seed):\n    return len(bytearray(4 * 1024**3))\n", State.CRASHED,
               "exit code 1: MemoryError"),
    "forkbomb": ("import os\ndef answer(seed):\n    while True:\n        try:\n            os.fork()\n"
                 "        except OSError:\n            pass\n", State.TIMED_OUT, "wall-time"),
    "rm_workspace": ("import shutil, os\ndef answer(seed):\n    for f in os.listdir('.'):\n"
                     "        os.remove(f) if os.path.isfile(f) else shutil.rmtree(f)\n    os._exit(0)\n",
                     State.TAMPERED, "read-only file"),
    "garbage": ("import sys\ndef answer(seed):\n    sys.stdout.buffer.write(bytes(range(256)) * 100)\n"
                "    return 'nonsense'\n", State.GATE_FAILED, "gate correct == 1: failed"),
    "exit0_early": ("import os\ndef answer(seed):\n    os._exit(0)\n", State.GATE_FAILED, "correct"),
    "wrong": ("def answer(seed):\n    return seed * 3\n", State.GATE_FAILED, "correct"),
}


def test_every_failure_is_a_recorded_state_and_the_campaign_goes_on(
    tmp_path: Path, make_task: Callable[..., Task]
) -> None:
    task = make_task(time_limit=3)
    props = [Proposal(edits=[Edit(file="solution.py", replace=code)], rationale=name)
             for name, (code, _, _) in BAD.items()]
    props.append(Proposal(edits=[Edit(file="solution.py", replace="def answer(seed):\n    return 2 * seed\n")],
                          rationale="fine"))
    c = _campaign(task, props, tmp_path / "runs", baseline_runs=2)
    c.run()
    got = {e.rationale: e for e in c.store.experiments(c.info.id)}
    for name, (_, state, reason) in BAD.items():
        assert got[name].state == state, (name, got[name].reason)
        assert reason in got[name].reason, (name, got[name].reason)
        assert got[name].decision == Decision.DISCARD
    assert got["fine"].state == State.OK
    assert c.store.check() == []


def test_missing_artifact_is_invalid(tmp_path: Path, make_task: Callable[..., Task]) -> None:
    task = make_task()
    run_py = "import solution\nsolution.answer(1)\n"  # exits 0 without writing out.txt
    (task.dir / "workspace" / "run.py").write_text(run_py)
    from rubicon.task import load_task

    task = load_task(task.dir)
    with pytest.raises(RubiconError, match="baseline.*invalid.*out.txt"):
        _campaign(task, [], tmp_path / "runs").run()


def test_failing_baseline_is_a_clear_error(tmp_path: Path, make_task: Callable[..., Task]) -> None:
    task = make_task(solution="def answer(seed):\n    return 0\n")
    c = _campaign(task, [], tmp_path / "runs")
    with pytest.raises(RubiconError, match="baseline .* does not pass: gate_failed"):
        c.run()
    base = c.store.experiments(c.info.id)[0]
    assert base.state == State.GATE_FAILED  # recorded, not lost


def test_resume_measures_pending_and_keeps_finished(tmp_path: Path) -> None:
    props = [Proposal(knobs={"method": "mergesort"}), Proposal(knobs={"method": "mergesort", "cutoff": 8})]
    c = _campaign("demo-inversions", props, tmp_path)
    c.ensure_baseline()
    first = c.ask()  # recorded as pending, then the process "dies"
    assert first is not None and first.state == State.PENDING
    c2 = Campaign.open(tmp_path, c.info.id, researcher_obj=ScriptedResearcher(props))
    c2.run()
    exps = c2.store.experiments(c.info.id)
    assert [e.state for e in exps].count(State.PENDING) == 0
    assert exps[1].id == first.id and exps[1].state == State.OK
    assert len(exps) == 3  # the scripted researcher resumed at its second proposal


def test_budget_in_experiments(tmp_path: Path) -> None:
    props = [Proposal(knobs={"cutoff": n}) for n in (2, 3, 4, 5)]
    c = _campaign("demo-inversions", props, tmp_path, max_experiments=2)
    c.run()
    assert len(c.store.experiments(c.info.id)) == 3


def test_budget_in_time(tmp_path: Path) -> None:
    props = [Proposal(knobs={"cutoff": n}) for n in range(2, 60)]
    c = _campaign("demo-inversions", props, tmp_path, budget_seconds=0.1)
    c.ensure_baseline()  # outside run(): not counted in its budget
    c.run()
    assert len(c.store.experiments(c.info.id)) <= 2


def test_ask_tell_for_outside_agents(tmp_path: Path) -> None:
    c = Campaign.create("demo-inversions", "external", directory=tmp_path / "runs",
                        cfg=CampaignConfig(protocol=CALM))
    ws = tmp_path / "ws"
    exp = c.ask_workspace(ws)
    assert (ws / "bench.py").exists() and exp.state == State.PENDING
    knobs = ws / "knobs.json"
    knobs.write_text(knobs.read_text().replace('"naive"', '"mergesort"'))
    from rubicon.workspace import read_workspace

    files, outside = read_workspace(c.task, ws, c.task.workspace_files())
    done = c.tell(exp.id, files=files, outside_edits=outside, rationale="merge")
    assert done.state == State.OK and done.rationale == "merge" and "mergesort" in done.diff
    exp2 = c.ask_workspace(tmp_path / "ws2")
    (tmp_path / "ws2" / "bench.py").write_text("print(1)\n")
    files, outside = read_workspace(c.task, tmp_path / "ws2", c.task.workspace_files())
    bad = c.tell(exp2.id, files=files, outside_edits=outside)
    assert bad.state == State.INVALID and "bench.py" in bad.reason
    with pytest.raises(RubiconError, match="already recorded"):
        c.tell(exp2.id)


def test_export_writes_the_full_workspace(tmp_path: Path) -> None:
    c = _campaign("demo-inversions", [Proposal(knobs={"method": "mergesort"})], tmp_path / "r")
    best = c.run()
    dest = export_experiment(c.store, best.id, tmp_path / "out")
    assert (dest / "bench.py").exists()
    assert "mergesort" in (dest / "knobs.json").read_text()
    with pytest.raises(RubiconError, match="not empty"):
        export_experiment(c.store, best.id, dest)


def test_changed_task_refuses_resume(tmp_path: Path, make_task: Callable[..., Task]) -> None:
    task = make_task()
    c = _campaign(task, [], tmp_path / "runs")
    (task.dir / "evaluator" / "check.py").write_text("print('correct: 1')\n")
    with pytest.raises(RubiconError, match="changed since campaign"):
        Campaign.open(tmp_path / "runs", c.info.id)
