"""Calibrate a task's [score]: measure candidates against the baseline with rubicon's own paired
protocol (interleaved baseline/candidate pairs, a t-interval on the log ratio).

    python bench/calibrate_reference.py demo-inversions --pairs 8
    python bench/calibrate_reference.py demo-inversions --pairs 8 --knobs '{"method": "mergesort"}'
    python bench/calibrate_reference.py demo-inversions --no-reference --patch bisect-insertion \
        --patch-knobs '{"method": "insertion"}'

Candidates: the task's reference/ (its files overlaid on the workspace's editable files), and
each --knobs JSON (knob values) or --patch NAME (a playbook patch, with the knob values of
--patch-knobs) given. Each is measured in a
fresh campaign against a freshly measured baseline, with exactly --pairs pairs (no early stop).
Prints the speedup and its 95% interval and appends a JSON line to
bench/results/calibrate_reference.jsonl; for log-speedup tasks the reference's speedup is the
`reference` of [score].
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from rubicon import Campaign, CampaignConfig, ProtocolConfig, resolve_task

RESULTS = Path(__file__).resolve().parent / "results" / "calibrate_reference.jsonl"


def reference_proposal(task: Any) -> dict[str, Any]:
    ref = task.reference
    if ref is None:
        raise SystemExit(f"task {task.name} has no reference/ directory")
    edits = []
    for p in sorted(ref.rglob("*")):
        rel = p.relative_to(ref).as_posix()
        if p.is_file() and task.is_editable(rel):
            edits.append({"file": rel, "search": "", "replace": p.read_text()})
    return {"edits": edits, "rationale": "the reference solution"}


def measure(task: Any, name: str, proposal: dict[str, Any], pairs: int) -> dict[str, Any]:
    cfg = CampaignConfig(max_experiments=1, baseline_runs=2, protocol=ProtocolConfig(
        min_pairs=pairs, max_pairs=pairs, quick_share=0.0, futility_power=0.0, loser_margin=10.0,
        max_foreign_load=1e9, screen_cap_min_seconds=1e9))
    with tempfile.TemporaryDirectory(prefix="rubicon-calibrate-") as d:
        c = Campaign.create(task, "scripted", {"proposals": [proposal]}, directory=d, cfg=cfg)
        c.run()
        exp = [e for e in c.history() if e.seq > 0][0]
        base = c.baseline
        c.store.close()
    low = 1 / exp.ratio_high if exp.ratio_high else None
    high = 1 / exp.ratio_low if exp.ratio_low else None
    return {"candidate": name, "state": exp.state.value, "speedup": exp.speedup,
            "speedup_low": low, "speedup_high": high, "pairs": pairs,
            "baseline_seconds": base.objective, "candidate_seconds": exp.objective,
            "reason": exp.reason}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("task")
    ap.add_argument("--pairs", type=int, default=8)
    ap.add_argument("--knobs", action="append", default=[], help="knob values as JSON")
    ap.add_argument("--patch", action="append", default=[], help="a playbook patch by name")
    ap.add_argument("--patch-knobs", default="{}", help="knob values (JSON) to go with --patch")
    ap.add_argument("--no-reference", action="store_true")
    args = ap.parse_args()
    task = resolve_task(args.task)
    todo: list[tuple[str, dict[str, Any]]] = []
    if not args.no_reference:
        todo.append(("reference", reference_proposal(task)))
    todo += [(f"knobs {k}", {"knobs": json.loads(k), "rationale": k}) for k in args.knobs]
    for name in args.patch:
        patch = next((p for p in task.playbook if p.name == name), None)
        if patch is None:
            raise SystemExit(f"no playbook patch {name!r}: {[p.name for p in task.playbook]}")
        knobs = json.loads(args.patch_knobs)
        todo.append((f"patch {name}" + (f" + knobs {args.patch_knobs}" if knobs else ""),
                     {"edits": [e.model_dump() for e in patch.edits], "knobs": knobs,
                      "rationale": name}))
    RESULTS.parent.mkdir(exist_ok=True)
    for name, proposal in todo:
        load = os.getloadavg()[0]
        row = {"task": task.name, "task_hash": task.hash()[:16], **measure(task, name, proposal,
                                                                           args.pairs),
               "load_before": round(load, 2), "load_after": round(os.getloadavg()[0], 2),
               "machine": platform.node(), "cpus": os.cpu_count(), "when": time.time()}
        with RESULTS.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        sp, lo, hi = row["speedup"], row["speedup_low"], row["speedup_high"]
        print(f"{task.name} {name}: {row['state']}, speedup {sp:.3f}x "
              f"[{lo:.3f}, {hi:.3f}] over {args.pairs} pairs (baseline "
              f"{row['baseline_seconds']:.3f} s; load {row['load_before']}->{row['load_after']})"
              if sp and lo and hi else f"{task.name} {name}: {row['state']}: {row['reason']}")


if __name__ == "__main__":
    main()
