"""Benchmark: 1,000-sample hierarchical bootstrap of horizons over METR's all_runs file.

Usage: python bench/bench_horizon_bootstrap.py [--repeats 5] [--samples 1000] [RUNS.jsonl]
Default RUNS: ../shared/data/metr/all_runs_2025-02-27.jsonl next to the repository.
Prints min/median/max wall seconds of estimate_horizons (loading excluded, reported apart).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

from rubicon.analytics import estimate_horizons, load_runs

DEFAULT = next((p / "shared" / "data" / "metr" for p in Path(__file__).resolve().parents
                if (p / "shared" / "data" / "metr").is_dir()), Path("shared/data/metr"))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="?", default=str(DEFAULT / "all_runs_2025-02-27.jsonl"))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--samples", type=int, default=1000)
    args = ap.parse_args()
    if not Path(args.runs).is_file():
        print(f"skip: {args.runs} not found", file=sys.stderr)
        return 1
    t0 = time.perf_counter()
    recs = load_runs(args.runs)
    load_s = time.perf_counter() - t0
    times, cpu = [], []
    for i in range(args.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        estimate_horizons(recs, "metr-2025", n_bootstrap=args.samples, seed=i)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    print(f"runs: {len(recs)} rows, {len(recs.agents)} agents; load {load_s:.2f} s")
    print(
        f"bootstrap {args.samples} samples x {args.repeats} repeats: min {min(times):.2f} s, "
        f"median {statistics.median(times):.2f} s, max {max(times):.2f} s; CPU median "
        f"{statistics.median(cpu):.2f} s; load average {os.getloadavg()[0]:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
