"""Store at scale: fill a store with N experiments, then time the CLI's list and show.

    python bench/bench_store.py --n 100000 --reps 7

Each timing is a whole `rubicon show` process (interpreter start + imports + query + print),
which is what a user waits for; the in-process query time is reported next to it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rubicon.store import Store
from rubicon.types import CampaignInfo, State

DIFF = "--- a/solution.py\n+++ b/solution.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n"


def fill(path: Path, n: int) -> None:
    s = Store(path)
    s.create_campaign(CampaignInfo(id="big", task_name="demo-inversions", task_dir="/x",
                                   task_hash="h", researcher="search", created_at=time.time()))
    files = json.dumps({"solution.py": "x = 2\n" * 40})
    rows = [("big", i, i or None, "search", "{}", f"try {i}", "{}", DIFF, files, f"h{i}",
             State.OK.value, "discard", "not better", json.dumps({"wall_seconds": 1.0}), 1.0, 1.0,
             0, "{}", "", "{}", time.time(), time.time()) for i in range(n)]
    with s.transaction() as db:
        db.executemany(
            "INSERT INTO experiments (campaign_id, seq, parent_id, researcher, researcher_args,"
            " rationale, proposal, diff, files, code_hash, state, decision, reason, metrics,"
            " objective, speedup, seed, provenance, log_tail, meta, created_at, finished_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        db.executemany(
            "INSERT INTO runs (experiment_id, subject_id, role, pair, wall_seconds, cpu_seconds,"
            " peak_memory_mb, foreign_load, exit_code, scored, objective, cores, threads,"
            " started_at) VALUES (?,?,?,?,1,1,1,0,0,1,1,'[0]',1,0)",
            [(i + 1, i + 1, "candidate", p) for i in range(n) for p in range(3)])
    s.close()


def timed(cmd: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True,
                   env={**os.environ, "COLUMNS": "200"})
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--reps", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        fill(root / "rubicon-runs", args.n)
        size_mb = (root / "rubicon-runs" / "rubicon.db").stat().st_size / 1e6
        cli = [sys.executable, "-m", "rubicon.cli.main"]
        base = [sys.executable, "-c", "import rubicon.cli.main"]
        out: dict[str, list[float]] = {"python+import only": [], "show (campaign list)": [],
                                        f"show {args.n // 2}": [], "query list (in process)": []}
        s = Store(root / "rubicon-runs")
        for _ in range(args.reps):  # interleaved so machine noise hits all alike
            out["python+import only"].append(timed(base, root))
            out["show (campaign list)"].append(timed(cli + ["show"], root))
            out[f"show {args.n // 2}"].append(timed(cli + ["show", str(args.n // 2)], root))
            t0 = time.perf_counter()
            s.experiments("big", last=50)
            s.count("big")
            out["query list (in process)"].append(time.perf_counter() - t0)
        print(f"store: {args.n} experiments, {3 * args.n} runs, {size_mb:.0f} MB; "
              f"load {os.getloadavg()[0]:.1f}")
        for k, v in out.items():
            print(f"{k:28s} min {min(v) * 1000:7.1f} ms  median {statistics.median(v) * 1000:7.1f} ms"
                  f"  max {max(v) * 1000:7.1f} ms")


if __name__ == "__main__":
    main()
