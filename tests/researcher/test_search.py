"""The offline `search` researcher: config <-> proposal mapping, planning, dedupe, failures,
resume and exhaustion; end to end on the demo task and on a tiny synthetic task."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import pytest

from rubicon.campaign import Campaign, CampaignConfig
from rubicon.errors import ConfigError, TaskError
from rubicon.measure.protocol import ProtocolConfig
from rubicon.researcher import ResearchContext, make_researcher
from rubicon.researcher._search_space import SearchSpace, patch_key
from rubicon.researcher.search import (
    SearchResearcher,
    build_study,
    from_params,
    observations,
    penalty_value,
    to_params,
)
from rubicon.task import Task, load_task, resolve_task
from rubicon.types import Decision, Experiment, Proposal, State
from rubicon.workspace import apply_proposal

# A tiny task: 3 modes x {no patch, base-helper, base-helper + uses-helper} = 9 configurations.
# "broken" crashes; "slow" sleeps; "uses-helper" requires "base-helper" and is listed first, so
# its edit (which searches text that base-helper writes) only applies in requires order.
TINY_TOML = """
name = "tiny-search"
instructions = "Make run.py fast."
editable = ["solution.py", "knobs.json"]
knobs_file = "knobs.json"

[run]
command = ["python", "run.py"]
time_limit = 20
memory_mb = 1024
max_processes = 32

[knobs.mode]
type = "choice"
choices = ["slow", "fast", "broken"]
default = "slow"
description = "how run.py works"

[[playbook]]
name = "uses-helper"
description = "make the helper return 2"
requires = ["base-helper"]
[[playbook.edits]]
file = "solution.py"
search = "def helper():\\n    return 1"
replace = "def helper():\\n    return 2"

[[playbook]]
name = "base-helper"
description = "add a helper"
[[playbook.edits]]
file = "solution.py"
search = "# helpers"
replace = "# helpers\\ndef helper():\\n    return 1"
"""

TINY_RUN = """
import json, time
import solution
mode = json.load(open("knobs.json"))["mode"]
if mode == "broken":
    raise SystemExit("broken mode")
if mode == "slow":
    time.sleep(0.25)
"""


@pytest.fixture
def tiny(tmp_path: Path) -> Task:
    d = tmp_path / "tiny-search"
    (d / "workspace").mkdir(parents=True)
    (d / "task.toml").write_text(TINY_TOML)
    (d / "workspace" / "run.py").write_text(textwrap.dedent(TINY_RUN))
    (d / "workspace" / "solution.py").write_text("# helpers\n")
    (d / "workspace" / "knobs.json").write_text('{"mode": "slow"}\n')
    return load_task(d)


def _baseline(task: Task, objective: float = 1.0) -> Experiment:
    return Experiment(id=1, campaign_id="c", seq=0, parent_id=None, researcher="baseline",
                      files=task.editable_files(), state=State.OK, decision=Decision.KEEP,
                      objective=objective, speedup=1.0)


def _record(task: Task, p: Proposal, eid: int, state: State, objective: float | None) -> Experiment:
    base = task.editable_files()
    return Experiment(id=eid, campaign_id="c", seq=eid - 1, parent_id=p.parent_id,
                      researcher=p.researcher, proposal=p.model_dump(mode="json"),
                      files=apply_proposal(task, base, p), meta=dict(p.meta), state=state,
                      decision=Decision.DISCARD, objective=objective,
                      speedup=None if objective is None else 1.0 / objective)


def _ctx(task: Task, history: list[Experiment], seed: int = 0) -> ResearchContext:
    base = _baseline(task)
    return ResearchContext(task=task, baseline=base, incumbent=base, history=[base, *history],
                           seed=seed)


# arguments ----------------------------------------------------------------------------------


def test_string_arguments_are_converted_and_checked() -> None:
    r = make_researcher("search", seed="7", n_startup="2", sweep="0", attempts="5")
    assert isinstance(r, SearchResearcher)
    assert (r.seed, r.n_startup, r.sweep, r.attempts) == (7, 2, 0, 5)
    with pytest.raises(ConfigError, match="n_startup"):
        SearchResearcher(n_startup="many")
    with pytest.raises(ConfigError, match="tpe, random"):
        SearchResearcher(sampler="cmaes")


# mapping --------------------------------------------------------------------------------------


def test_config_maps_to_a_proposal_on_the_baseline() -> None:
    task = resolve_task("demo-inversions")
    space = SearchSpace(task, task.editable_files())
    base = space.baseline_config()
    assert base == {"method": "naive", "cutoff": 1, "patch:local-lookups": False,
                    "patch:bisect-insertion": False}
    cfg = {**base, "method": "mergesort", "cutoff": 16, patch_key("bisect-insertion"): True}
    assert from_params(space, to_params(space, cfg)) == cfg
    assert space.knob_changes(cfg) == {"method": "mergesort", "cutoff": 16}
    files = apply_proposal(task, task.editable_files(),
                           Proposal(edits=space.edits(cfg), knobs=space.knob_changes(cfg)))
    assert json.loads(files["knobs.json"]) == {"method": "mergesort", "cutoff": 16}
    assert "bisect.bisect_right" in files["solution.py"]
    assert "for y in seq[i + 1:]" not in files["solution.py"]  # local-lookups is off
    assert space.key(cfg) != space.key(base)
    assert space.key({"method": "naive"}) == space.key(base)  # partial configs are completed


def test_sampled_floats_ints_and_bools_are_normalized(tiny: Task) -> None:
    task = resolve_task("demo-inversions")
    space = SearchSpace(task, task.editable_files())
    got = from_params(space, {"cutoff": 300, "patch:local-lookups": 1})
    assert got["cutoff"] == 128 and got["patch:local-lookups"] is True
    tspace = SearchSpace(tiny, tiny.editable_files())
    assert not tspace.is_member({"mode": "turbo"}) and tspace.is_member({"mode": "fast"})


def test_requires_are_closed_and_edits_ordered(tiny: Task) -> None:
    space = SearchSpace(tiny, tiny.editable_files())
    assert space.order == ["base-helper", "uses-helper"]
    cfg = space.close_requires({**space.baseline_config(), patch_key("uses-helper"): True})
    assert cfg[patch_key("base-helper")] is True
    assert space.applies(cfg)
    files = apply_proposal(tiny, tiny.editable_files(), Proposal(edits=space.edits(cfg)))
    assert "return 2" in files["solution.py"]
    assert space.size() == 3 * 4


# planning -------------------------------------------------------------------------------------


def test_first_proposal_tries_all_patches_on_the_baseline() -> None:
    task = resolve_task("demo-inversions")
    p = SearchResearcher().propose(_ctx(task, []))
    assert p is not None
    assert p.parent_id == 1 and p.knobs == {}
    assert p.meta["phase"] == "patches"
    assert p.meta["config"]["patch:local-lookups"] and p.meta["config"]["patch:bisect-insertion"]
    assert len(p.edits) == 2
    assert p.rationale.startswith("enable local-lookups (") and "because" in p.rationale


def test_failed_combination_is_bisected(tiny: Task) -> None:
    r = SearchResearcher()
    first = r.propose(_ctx(tiny, []))
    assert first is not None and first.meta["phase"] == "patches"
    crashed = _record(tiny, first, 2, State.CRASHED, None)
    nxt = r.propose(_ctx(tiny, [crashed]))
    assert nxt is not None and nxt.meta["phase"] == "split"
    assert nxt.meta["config"][patch_key("base-helper")] is True
    assert nxt.meta["config"][patch_key("uses-helper")] is False
    assert f"e{crashed.id}) failed" in nxt.rationale


def _four_patch_task(tmp_path: Path) -> Task:
    """Four independent patches p1..p4, each rewriting its own line of solution.py."""
    d = tmp_path / "four"
    (d / "workspace").mkdir(parents=True)
    toml = 'name = "four"\ninstructions = "x"\neditable = ["solution.py"]\n'
    toml += '[run]\ncommand = ["python", "solution.py"]\n'
    for i in range(1, 5):
        toml += (f'[[playbook]]\nname = "p{i}"\ndescription = "patch {i}"\n'
                 f'[[playbook.edits]]\nfile = "solution.py"\nsearch = "a{i} = 0"\n'
                 f'replace = "a{i} = 1"\n')
    (d / "task.toml").write_text(toml)
    (d / "workspace" / "solution.py").write_text("".join(f"a{i} = 0\n" for i in range(1, 5)))
    return load_task(d)


def test_bisection_isolates_the_culprit_then_combines_the_rest(tmp_path: Path) -> None:
    task = _four_patch_task(tmp_path)
    r = SearchResearcher()
    hist: list[Experiment] = []
    tested: list[tuple[str, ...]] = []
    for i in range(6):
        p = r.propose(_ctx(task, hist))
        assert p is not None
        on = tuple(sorted(k.removeprefix("patch:") for k, v in p.meta["config"].items() if v))
        tested.append(on)
        if i > 0:
            assert p.meta["phase"] == "split", p.meta["phase"]
        # p3 breaks the run; every other patch makes it 10% faster
        bad = "p3" in on
        hist.append(_record(task, p, i + 2, State.CRASHED if bad else State.OK,
                            None if bad else 0.9 ** len(on)))
    assert tested == [
        ("p1", "p2", "p3", "p4"),  # all together: crashes
        ("p1", "p2"),              # first half passes and is faster: cleared
        ("p3", "p4"),              # second half crashes: split it
        ("p3",),                   # the culprit
        ("p4",),                   # cleared
        ("p1", "p2", "p4"),        # everything cleared, together
    ]
    assert "all 3 patches that passed" in hist[-1].proposal["rationale"]
    nxt = r.propose(_ctx(task, hist))
    assert nxt is None or nxt.meta["phase"] != "split"  # resolved: the search moves on


def test_failures_are_told_to_the_sampler_as_bad_values(tiny: Task) -> None:
    space = SearchSpace(tiny, tiny.editable_files())
    ok = Proposal(parent_id=1, knobs={"mode": "fast"},
                  meta={"config": {**space.baseline_config(), "mode": "fast"}})
    bad = Proposal(parent_id=1, knobs={"mode": "broken"},
                   meta={"config": {**space.baseline_config(), "mode": "broken"}})
    hist = [_record(tiny, ok, 2, State.OK, 0.5), _record(tiny, bad, 3, State.CRASHED, None)]
    obs = observations(space, _ctx(tiny, hist))
    assert [o.value is None for o in obs] == [False, False, True]
    pen = penalty_value(obs)
    assert pen == pytest.approx(math.log(1.0) + math.log(2.0))  # worst ok (baseline) + log 2
    study = build_study(space, obs)
    values = {t.params["mode"]: t.value for t in study.trials if not t.params["patch:base-helper"]}
    assert values["broken"] == pytest.approx(pen)
    assert values["broken"] > values["slow"] > values["fast"]


def _variant(d: Path, toml: str, knobs: str) -> Task:
    """A variant of the tiny task (its own task.toml and knobs file) whose run does nothing."""
    (d / "workspace").mkdir(parents=True)
    (d / "task.toml").write_text(toml)
    (d / "workspace" / "run.py").write_text("pass\n")
    (d / "workspace" / "solution.py").write_text("# helpers\n")
    (d / "workspace" / "knobs.json").write_text(knobs + "\n")
    return load_task(d)


def test_sweep_halves_the_fidelity_knob_first(tmp_path: Path) -> None:
    toml = TINY_TOML.replace('knobs_file = "knobs.json"\n',
                             'knobs_file = "knobs.json"\nfidelity_knob = "steps"\n')
    toml += '\n[knobs.steps]\ntype = "int"\nlow = 10\nhigh = 400\ndefault = 200\n'
    task = _variant(tmp_path / "fid", toml, '{"mode": "slow", "steps": 200}')
    r = SearchResearcher()
    first = r.propose(_ctx(task, []))
    assert first is not None and first.meta["phase"] == "patches"
    nxt = r.propose(_ctx(task, [_record(task, first, 2, State.OK, 0.5)]))
    assert nxt is not None and nxt.meta["phase"] == "sweep"
    assert nxt.knobs == {"steps": 100} and "halve the fidelity knob steps" in nxt.rationale
    # half the steps failed the gate: the first declared knob's neighbour next (a 2x lever),
    # and only then a smaller cut (a line search on the cost lever)
    done = [_record(task, first, 2, State.OK, 0.5), _record(task, nxt, 3, State.GATE_FAILED, None)]
    nxt2 = r.propose(_ctx(task, done))
    assert nxt2 is not None and nxt2.knobs == {"mode": "fast"}
    done.append(_record(task, nxt2, 4, State.GATE_FAILED, None))
    nxt3 = r.propose(_ctx(task, done))
    assert nxt3 is not None and nxt3.knobs == {"steps": 141}
    assert "x0.71 the fidelity knob steps" in nxt3.rationale


def _start_task(tmp_path: Path) -> Task:
    """The tiny task with a second knob `size` and a suggested start {mode: fast, size: 2}."""
    toml = TINY_TOML + textwrap.dedent("""
        [knobs.size]
        type = "int"
        low = 1
        high = 8
        default = 4

        [[start]]
        name = "fast-small"
        description = "fast mode at size 2"
        knobs = { mode = "fast", size = 2 }
        """)
    return _variant(tmp_path / "start", toml, '{"mode": "slow", "size": 4}')


def test_task_start_is_tried_first_with_all_patches(tmp_path: Path) -> None:
    task = _start_task(tmp_path)
    r = SearchResearcher()
    first = r.propose(_ctx(task, []))
    assert first is not None and first.meta["phase"] == "start"
    assert first.knobs == {"mode": "fast", "size": 2}
    assert first.meta["config"][patch_key("base-helper")] and \
        first.meta["config"][patch_key("uses-helper")]
    assert "'fast-small' (fast mode at size 2)" in first.rationale
    # it helped: the all-patches-on-the-baseline probe is skipped, the sweep starts from it
    helped = r.propose(_ctx(task, [_record(task, first, 2, State.OK, 0.5)]))
    assert helped is not None and helped.meta["phase"] == "sweep"
    # it failed: the search falls back to all patches on the baseline knobs
    failed = r.propose(_ctx(task, [_record(task, first, 2, State.GATE_FAILED, None)]))
    assert failed is not None and failed.meta["phase"] == "patches" and failed.knobs == {}


def test_sweep_tries_both_neighbours_knob_by_knob(tmp_path: Path) -> None:
    from rubicon.researcher.search import sweep_moves

    task = _start_task(tmp_path)
    space = SearchSpace(task, task.editable_files())
    moves = [(k, v) for k, v, _ in sweep_moves(space, space.baseline_config())]
    # task order: mode (slow -> fast, the adjacent choice), size (doubled, halved), then the
    # choice value two steps away
    assert moves == [("mode", "fast"), ("size", 8), ("size", 2), ("mode", "broken")]


def test_sweep_anchor_ignores_a_fast_median_that_its_pairs_call_level(tmp_path: Path) -> None:
    task = _start_task(tmp_path)
    space = SearchSpace(task, task.editable_files())
    r = SearchResearcher()
    move = {**space.baseline_config(), "size": 8}
    p = Proposal(parent_id=1, knobs={"size": 8}, meta={"config": move, "phase": "sweep"})
    fast = _record(task, p, 2, State.OK, 0.8)  # median 20% faster than the baseline (1.0)
    # with no paired evidence it becomes the anchor ...
    assert r._anchor(space, _ctx(task, [fast]), observations(space, _ctx(task, [fast])))[0] == move
    # ... but not when its pairs said "level with the incumbent" (ratio ~1.0)
    fast.ratio_low, fast.ratio_high = 0.85, 1.17
    anchor, where = r._anchor(space, _ctx(task, [fast]), observations(space, _ctx(task, [fast])))
    assert anchor == space.baseline_config() and where == "the baseline"
    # an inconclusive one whose pairs lean clearly its way still does
    fast.ratio_low, fast.ratio_high = 0.7, 1.02
    assert r._anchor(space, _ctx(task, [fast]), observations(space, _ctx(task, [fast])))[0] == move


def test_a_start_with_a_bad_knob_value_is_a_clear_task_error(tmp_path: Path) -> None:
    task = _start_task(tmp_path)
    toml = (task.dir / "task.toml").read_text().replace("size = 2 }", "size = 99 }")
    (task.dir / "task.toml").write_text(toml)
    with pytest.raises(TaskError, match=r"start 'fast-small': knob size=99: allowed \[1, 8\]"):
        load_task(task.dir)


def _simulate(task: Task, speed: dict[str, float], limit: int = 40,
              **args: str) -> list[Experiment]:
    """Propose and record without running anything until the researcher returns None."""
    r = SearchResearcher(**args)
    hist: list[Experiment] = []
    for i in range(limit):
        p = r.propose(_ctx(task, hist))
        if p is None:
            return hist
        mode = p.meta["config"]["mode"]
        state = State.CRASHED if mode == "broken" else State.OK
        hist.append(_record(task, p, i + 2, state, speed.get(mode)))
    raise AssertionError(f"researcher did not stop after {limit} proposals")


def test_never_repeats_and_returns_none_when_exhausted(tiny: Task) -> None:
    hist = _simulate(tiny, {"slow": 1.0, "fast": 0.2}, seed="3")
    space = SearchSpace(tiny, tiny.editable_files())
    keys = [space.key(e.meta["config"]) for e in hist]
    assert len(keys) == len(set(keys)) == 8  # 9 valid configurations minus the baseline
    assert space.key(space.baseline_config()) not in keys
    assert all(e.proposal["parent_id"] == 1 for e in hist)
    assert all(e.proposal["rationale"] and "because" in e.proposal["rationale"] for e in hist)


def test_proposals_are_determined_by_the_store() -> None:
    task = resolve_task("demo-inversions")
    space = SearchSpace(task, task.editable_files())
    hist = []
    for i, method in enumerate(["insertion", "mergesort"]):
        cfg = {**space.baseline_config(), "method": method}
        p = Proposal(parent_id=1, knobs={"method": method}, meta={"config": cfg, "phase": "sweep"})
        hist.append(_record(task, p, i + 2, State.OK, 0.5 + i))
    a = SearchResearcher(seed="1", sweep="0").propose(_ctx(task, hist))
    b = SearchResearcher(seed="1", sweep="0").propose(_ctx(task, hist))
    assert a is not None and b is not None
    assert a.meta["config"] == b.meta["config"] and a.rationale == b.rationale
    assert a.meta["phase"] in ("patches", "tpe")


# end to end (real sandboxed runs; small) -----------------------------------------------------

# These tests check the researcher, not timing precision: tolerate a busy shared machine (no
# re-runs for foreign load) and stop close calls early.
QUICK = ProtocolConfig(max_foreign_load=1000.0, max_pairs=4)


def test_demo_campaign_finds_a_promoted_improvement(tmp_path: Path) -> None:
    c = Campaign.create("demo-inversions", "search", researcher_args={"seed": "0"},
                        directory=tmp_path,
                        cfg=CampaignConfig(max_experiments=3, seed=0, protocol=QUICK))
    best = c.run()
    exps = c.store.experiments(c.info.id, full=True)
    assert len(exps) == 4
    assert best.id != c.info.baseline_id and best.decision == Decision.KEEP
    assert best.speedup is not None and best.speedup > 1.2
    assert best.researcher == "search" and "because" in best.rationale
    for e in exps[1:]:
        assert e.parent_id == c.info.baseline_id
        assert set(e.meta["config"]) == {"method", "cutoff", "patch:local-lookups",
                                         "patch:bisect-insertion"}


def test_tiny_campaign_resumes_learns_failures_and_exhausts(tiny: Task, tmp_path: Path) -> None:
    c = Campaign.create(tiny, "search", researcher_args={"seed": "0", "n_startup": "2"},
                        directory=tmp_path / "runs",
                        cfg=CampaignConfig(max_experiments=3, seed=0, baseline_runs=2,
                                           protocol=QUICK))
    c.run()
    first = c.store.experiments(c.info.id, full=True)
    assert len(first) == 4
    # the next proposal is a function of the store: two fresh researchers agree
    ctx = c.context()
    p1 = SearchResearcher(seed="0", n_startup="2").propose(ctx)
    p2 = SearchResearcher(seed="0", n_startup="2").propose(ctx)
    assert p1 is not None and p2 is not None and p1.meta["config"] == p2.meta["config"]

    resumed = Campaign.open(tmp_path / "runs", c.info.id,
                            cfg=CampaignConfig(max_experiments=20, protocol=QUICK))
    best = resumed.run()
    exps = resumed.store.experiments(c.info.id, full=True)
    space = SearchSpace(tiny, tiny.editable_files())
    keys = [space.key(e.meta["config"]) for e in exps[1:]]
    assert len(keys) == len(set(keys)) == 8  # exhausted: every configuration once, then None
    assert resumed.store.campaign(c.info.id).status == "finished"
    assert not any(e.state == State.INVALID for e in exps)  # patches always applied
    broken = [e for e in exps if e.meta.get("config", {}).get("mode") == "broken"]
    assert broken and all(e.state == State.CRASHED for e in broken)
    assert best.meta["config"]["mode"] == "fast"
