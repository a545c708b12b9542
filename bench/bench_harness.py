"""Harness figures for docs/BENCHMARKS.md ("Engine"): overhead per experiment, noise floor,
detection power of the promotion rule within 6 pairs, and the A/A false-promotion rate.

    python bench/bench_harness.py --aa 100 --detect 40 --out bench/results/harness.json

Every figure comes from real sandboxed runs of a pure-Python loop task on this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _synthetic_task import knobs, make_loop_task  # noqa: E402

from rubicon.measure.judge import TrialJudge  # noqa: E402
from rubicon.measure.protocol import ProtocolConfig, compare  # noqa: E402
from rubicon.measure.stats import coefficient_of_variation  # noqa: E402
from rubicon.runner.trial import LocalExecutor  # noqa: E402
from rubicon.store import open_store  # noqa: E402
from rubicon.types import CampaignInfo, Decision, Experiment, State, TimedRun  # noqa: E402


def mmm(xs: list[float]) -> dict[str, float]:
    return {"min": min(xs), "median": statistics.median(xs), "max": max(xs), "n": len(xs)}


def overhead(root: Path, reps: int) -> dict[str, object]:
    """Trial wall time minus the candidate's own run, plus the store write of one experiment."""
    task = make_loop_task(root, 1000)
    runner = LocalExecutor(task, root / "runs-overhead", TrialJudge.for_task(task))
    store = open_store(root / "runs-overhead")
    store.create_campaign(CampaignInfo(id="o", task_name="t", task_dir="/", task_hash="h",
                                       researcher="r", created_at=time.time()))
    files = knobs(1000)
    total, run_only, store_w = [], [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        t = runner.run(files)
        total.append(time.perf_counter() - t0)
        run_only.append(t.facts.wall_seconds)
        assert t.ok, t.reason
        t1 = time.perf_counter()
        eid = store.add_pending(Experiment(id=0, campaign_id="o", seq=0, parent_id=None,
                                           researcher="r", files=files), "h")
        e = store.experiment(eid)
        e.state, e.decision = State.OK, Decision.KEEP
        store.finish(e, [TimedRun(role="candidate", pair=0, wall_seconds=1, cpu_seconds=1,
                                  peak_memory_mb=1, foreign_load=0, exit_code=0, scored=True)], {})
        store_w.append(time.perf_counter() - t1)
    over = [a - b + s for a, b, s in zip(total, run_only, store_w, strict=True)]
    return {"overhead_s": mmm(over), "candidate_run_s": mmm(run_only), "store_write_s": mmm(store_w)}


def sandbox_start(root: Path, reps: int) -> dict[str, object]:
    """Sandbox start cost: `true` and `python -c pass` through run_sandboxed, `reps` each,
    interleaved; the timed wall (what a run's wall_seconds includes) and the whole call."""
    from rubicon.runner import SandboxSpec, run_sandboxed

    ws = root / "ws-start"
    ws.mkdir(exist_ok=True)
    out: dict[str, object] = {}
    samples: dict[str, tuple[list[float], list[float]]] = {"true": ([], []), "python": ([], [])}
    for _ in range(reps):
        for name, argv in (("true", ["true"]), ("python", ["python", "-c", "pass"])):
            t0 = time.perf_counter()
            f = run_sandboxed(SandboxSpec(argv=argv, cwd=ws, log_path=root / "start.log"))
            samples[name][1].append(time.perf_counter() - t0)
            samples[name][0].append(f.wall_seconds)
            assert f.exit_code == 0, f.output_tail
    for name, (timed, whole) in samples.items():
        out[name] = {"timed_wall_s": mmm(timed), "whole_call_s": mmm(whole)}
    return out


def noise(root: Path, n: int, reps: int) -> dict[str, object]:
    task = make_loop_task(root, n)
    runner = LocalExecutor(task, root / "runs-noise", TrialJudge.for_task(task))
    walls, loads = [], []
    for _ in range(reps):
        t = runner.run(knobs(n), evaluate=False)
        walls.append(t.facts.wall_seconds)
        loads.append(t.facts.foreign_load)
    return {"wall_s": mmm(walls), "cv": coefficient_of_variation(walls),
            "foreign_load": mmm(loads), "cores": runner.cores}


def protocol_rate(root: Path, n: int, speedup: float, trials: int,
                  cfg: ProtocolConfig) -> dict[str, object]:
    """Fraction of comparisons promoted when the candidate does n/speedup iterations."""
    task = make_loop_task(root, n)
    runner = LocalExecutor(task, root / f"runs-{speedup}", TrialJudge.for_task(task))
    inc, cand = knobs(n), knobs(int(n / speedup))
    inc_values = [runner.run(inc, evaluate=False).facts.wall_seconds for _ in range(3)]
    promoted, runs, pairs = 0, [], []
    for _ in range(trials):
        v = compare(lambda: runner.run(cand), lambda: runner.run(inc, evaluate=False),
                    inc_values, "wall_seconds", cfg=cfg)
        promoted += v.promote
        runs.append(len(v.runs))
        pairs.append(max(r.pair for r in v.runs))
    return {"speedup": speedup, "trials": trials, "promoted": promoted,
            "rate": promoted / trials, "runs": mmm([float(r) for r in runs]),
            "pairs": mmm([float(p) for p in pairs])}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=4_000_000, help="loop length of the incumbent")
    ap.add_argument("--overhead-reps", type=int, default=20)
    ap.add_argument("--noise-reps", type=int, default=20)
    ap.add_argument("--aa", type=int, default=100, help="A/A comparisons")
    ap.add_argument("--detect", type=int, default=40, help="comparisons per true speedup")
    ap.add_argument("--speedups", default="1.02,1.05,1.10")
    ap.add_argument("--out", default="bench/results/harness.json")
    ap.add_argument("--sandbox-start", type=int, default=0, metavar="N",
                    help="only measure the sandbox's start cost, N runs each; print JSON")
    args = ap.parse_args()
    if args.sandbox_start:
        with tempfile.TemporaryDirectory() as d:
            res = sandbox_start(Path(d), args.sandbox_start)
        print(json.dumps({"load": os.getloadavg(), **res}))
        return
    cfg = ProtocolConfig()
    out: dict[str, object] = {"machine": {"cpus": os.cpu_count(), "load_before": os.getloadavg()},
                              "protocol": cfg.__dict__}
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        out["overhead"] = overhead(root, args.overhead_reps)
        print("overhead", json.dumps(out["overhead"]), flush=True)
        out["noise"] = noise(root, args.n, args.noise_reps)
        print("noise", json.dumps(out["noise"]), flush=True)
        out["aa"] = protocol_rate(root, args.n, 1.0, args.aa, cfg)
        print("aa", json.dumps(out["aa"]), flush=True)
        out["detect"] = []
        for s in (float(x) for x in args.speedups.split(",")):
            r = protocol_rate(root, args.n, s, args.detect, cfg)
            out["detect"].append(r)  # type: ignore[union-attr]
            print("detect", json.dumps(r), flush=True)
    out["machine"]["load_after"] = os.getloadavg()  # type: ignore[index]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
