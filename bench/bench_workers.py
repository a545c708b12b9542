"""Workers and Ray: experiments per hour and the same candidate's measured speedup.

Runs one fixed scripted campaign on the demo task (`demo-inversions`) in each mode -- 1 local
worker, 2 local workers, 2 workers through Ray (a local Ray started here with num_cpus = cores) --
`--repeats` times, with the default measurement protocol (foreign-load re-runs on; pass
`--max-foreign-load 1e9` to turn them off). Reports, per mode, min/median/max of: experiments
per hour, the speedup measured for the same candidate (`method = mergesort`, cutoff 1) vs the
baseline, the baseline's run-to-run spread, per-core
foreign load of timed runs, and how many timed runs were re-run for foreign load. The machine's
load average is recorded before and after each campaign.

    python bench/bench_workers.py --repeats 3 --out bench/results/workers.json
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
from typing import Any

from rubicon.campaign import Campaign, CampaignConfig
from rubicon.measure.protocol import ProtocolConfig
from rubicon.researcher.scripted import ScriptedResearcher
from rubicon.types import Proposal

SAME = "mergesort cutoff 1"  # the candidate whose speedup is compared across modes


def proposals() -> list[Proposal]:
    out = [Proposal(knobs={"method": "mergesort", "cutoff": 1}, rationale=SAME)]
    out += [Proposal(knobs={"method": "mergesort", "cutoff": c}, rationale=f"mergesort cutoff {c}")
            for c in (2, 4, 8, 16)]
    out.append(Proposal(knobs={"method": "insertion"}, rationale="insertion (crashes)"))
    return out


def one_campaign(mode: str, directory: Path, max_foreign_load: float) -> dict[str, Any]:
    workers = 1 if mode == "local-1" else 2
    executor = "ray" if mode == "ray-2" else "local"
    cfg = CampaignConfig(workers=workers, executor=executor, baseline_runs=3,
                         protocol=ProtocolConfig(max_foreign_load=max_foreign_load))
    load0 = os.getloadavg()
    t0 = time.monotonic()
    c = Campaign.create("demo-inversions", "scripted", directory=directory,
                        researcher_obj=ScriptedResearcher(proposals()), cfg=cfg)
    c.run()
    wall = time.monotonic() - t0
    load1 = os.getloadavg()
    exps = c.store.experiments(c.info.id, full=True)
    n = sum(1 for e in exps if e.seq > 0)
    same = next(e for e in exps if e.rationale == SAME)
    base_runs = [r.wall_seconds for r in c.store.runs(c.info.baseline_id or 0) if r.scored]
    runs = [r for e in exps for r in c.store.runs(e.id)]
    return {
        "mode": mode,
        "wall_seconds": wall,
        "experiments": n,
        "experiments_per_hour": 3600 * n / wall,
        "same_candidate_speedup": same.speedup,
        "same_candidate_state": same.state.value,
        "same_candidate_decision": same.decision.value if same.decision else None,
        "baseline_runs": base_runs,
        "baseline_cv": (statistics.pstdev(base_runs) / statistics.mean(base_runs)
                        if len(base_runs) > 1 else None),
        "timed_runs": len(runs),
        "rerun_for_foreign_load": sum(1 for r in runs if not r.scored and r.exit_code == 0),
        "foreign_load_median": statistics.median(r.foreign_load for r in runs) if runs else None,
        "cores_used": sorted({c for r in runs for c in r.cores}),
        "loadavg_before": load0,
        "loadavg_after": load1,
    }


def interference(pairs: int) -> dict[str, Any]:
    """Wall time of the same candidate run timed on the last core, alone vs while untimed work
    (Python processes starting and exiting, like evaluators and workspace preparation) runs on
    the first core -- what a second worker does to a timed run on a 2-core machine. Interleaved."""
    import subprocess
    import threading

    from rubicon.measure.judge import TrialJudge
    from rubicon.runner.trial import LocalExecutor
    from rubicon.task import resolve_task
    from rubicon.workspace import apply_proposal

    cores = sorted(os.sched_getaffinity(0))
    timed_core, other = cores[-1], cores[0]
    task = resolve_task("demo-inversions")
    files = apply_proposal(task, task.editable_files(), proposals()[0])
    out: dict[str, list[float]] = {"alone": [], "busy_other_core": []}
    foreign: dict[str, list[float]] = {"alone": [], "busy_other_core": []}
    with tempfile.TemporaryDirectory(prefix="bench-interference-") as tmp:
        runner = LocalExecutor(task, Path(tmp), TrialJudge.for_task(task), cores=[timed_core])
        stop = threading.Event()

        def untimed() -> None:
            while not stop.is_set():
                subprocess.run([sys.executable, "-c", "import json, random, hashlib"],
                               preexec_fn=lambda: os.sched_setaffinity(0, [other]), check=False)

        for i in range(2 * pairs):
            busy = i % 4 in (1, 2)  # ABBA order cancels drift
            key = "busy_other_core" if busy else "alone"
            t = None
            if busy:
                stop.clear()
                t = threading.Thread(target=untimed, daemon=True)
                t.start()
                time.sleep(0.1)
            trial = runner.run(files, evaluate=False, label="interference")
            if t is not None:
                stop.set()
                t.join()
            out[key].append(trial.facts.wall_seconds)
            foreign[key].append(trial.facts.foreign_load)
    return {"timed_core": timed_core, "other_core": other, "wall": out, "foreign": foreign}


def spread(xs: list[float]) -> str:
    xs = [x for x in xs if x is not None]
    if not xs:
        return "-"
    return f"{min(xs):.3g} / {statistics.median(xs):.3g} / {max(xs):.3g}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--modes", default="local-1,local-2,ray-2")
    ap.add_argument("--out", default=None, help="write all results as JSON here")
    ap.add_argument("--max-foreign-load", type=float, default=ProtocolConfig().max_foreign_load,
                    help="re-run threshold (default: the protocol's); 1e9 turns re-runs off")
    ap.add_argument("--interference", type=int, default=0, metavar="PAIRS",
                    help="only measure a timed run alone vs with untimed work on the other core")
    args = ap.parse_args()
    if args.interference:
        res = interference(args.interference)
        res["loadavg"] = os.getloadavg()
        for key in ("alone", "busy_other_core"):
            w = res["wall"][key]
            print(f"{key}: wall s {spread(w)}, foreign load {spread(res['foreign'][key])}")
        ratio = statistics.median(res["wall"]["busy_other_core"]) / statistics.median(
            res["wall"]["alone"])
        print(f"median busy/alone = {ratio:.3f}; load avg {res['loadavg']}")
        if args.out:
            Path(args.out).write_text(json.dumps(res, indent=1))
        return 0
    modes = args.modes.split(",")
    results: list[dict[str, Any]] = []
    ray_started = False
    if "ray-2" in modes:
        import ray

        ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, log_to_driver=False,
                 object_store_memory=100 * 1024 * 1024)
        ray_started = True
    try:
        with tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp:
            for rep in range(args.repeats):
                for mode in modes:  # interleaved, so drift in the machine's load hits all modes
                    r = one_campaign(mode, Path(tmp) / f"{mode}-{rep}", args.max_foreign_load)
                    r["repeat"] = rep
                    results.append(r)
                    print(json.dumps({k: r[k] for k in (
                        "mode", "repeat", "wall_seconds", "experiments_per_hour",
                        "same_candidate_speedup", "rerun_for_foreign_load", "loadavg_before")}),
                        file=sys.stderr, flush=True)
    finally:
        if ray_started:
            import ray

            ray.shutdown()
    print(f"cpus {os.cpu_count()}, affinity {sorted(os.sched_getaffinity(0))}, "
          f"repeats {args.repeats}, max_foreign_load {args.max_foreign_load:g}; "
          "columns are min / median / max")
    print("| mode | experiments/hour | speedup of the same candidate | baseline run CV | "
          "median foreign load (own cores) | re-runs for load | load avg 1-min (before) |")
    print("|---|---|---|---|---|---|---|")
    for mode in modes:
        rs = [r for r in results if r["mode"] == mode]
        print(f"| {mode} | {spread([r['experiments_per_hour'] for r in rs])} "
              f"| {spread([r['same_candidate_speedup'] for r in rs])} "
              f"| {spread([r['baseline_cv'] for r in rs])} "
              f"| {spread([r['foreign_load_median'] for r in rs])} "
              f"| {spread([r['rerun_for_foreign_load'] for r in rs])} "
              f"| {spread([r['loadavg_before'][0] for r in rs])} |")
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
