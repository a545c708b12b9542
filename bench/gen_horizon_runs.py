"""Write a large synthetic runs file in METR's runs.jsonl layout, for horizon benchmarks.

Usage: python bench/gen_horizon_runs.py OUT.jsonl [--agents 20] [--tasks 2000] [--runs 50]
       [--families 250] [--seed 0]

Defaults give 2,000,000 runs (20 agents x 2,000 tasks x 50 runs), about 1.3 GB, with every
column of METR's all_runs.jsonl (so the file is as wide as a real one), and a release-dates
file OUT.dates.yaml beside it. Agent k has a true 50% horizon of 2**(k/2) minutes and
success probability sigmoid(-0.7 * (log2 minutes - log2 horizon)). The file is data for
benchmarks only: write it under /tmp, never commit it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import numpy as np


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--agents", type=int, default=20)
    ap.add_argument("--tasks", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--families", type=int, default=250)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    minutes = np.round(np.geomspace(0.5, 2000, args.tasks), 3)
    rng.shuffle(minutes)
    fam_of = rng.integers(0, args.families, size=args.tasks)
    fam_of[: args.families] = np.arange(min(args.families, args.tasks))  # no empty family
    out = Path(args.out)
    dates = {}
    run = 0
    with out.open("w", encoding="utf-8") as fh:
        for k in range(args.agents):
            alias = f"agent-{k:02d}"
            dates[alias] = dt.date(2021, 1, 1) + dt.timedelta(days=60 * k)
            h = 2.0 ** (k / 2)
            p = 1 / (1 + np.exp(0.7 * (np.log2(minutes) - np.log2(h))))
            wins = rng.random((args.tasks, args.runs)) < p[:, None]
            for t in range(args.tasks):
                fam = f"family_{fam_of[t]:04d}"
                head = (
                    f'"task_id":"{fam}/task_{t:05d}","task_family":"{fam}","alias":"{alias}",'
                    f'"model":"model-{k:02d}","human_minutes":{minutes[t]},'
                )
                for r in range(args.runs):
                    s = int(wins[t, r])
                    run += 1
                    fh.write(
                        f'{{"run_id":"synthetic-server_{run:09d}",{head}"score":{s}.0,'
                        f'"time_limit":28800,"started_at":1734070031112,'
                        f'"completed_at":1734071923976,"fatal_error_from":null,'
                        f'"human_score":1.0,"human_source":"baseline",'
                        f'"dollar_equivalent":null,"total_tokens":null,'
                        f'"score_binarized":{s},"equal_task_weight":0.0005,'
                        f'"invsqrt_task_weight":0.0005,"task_source":"HCAST",'
                        f'"task_version":"1.0.3","scaffold":"modular-public-flock",'
                        f'"generation_cost":0.0123,"human_cost":null,"score_cont":{s}.0,'
                        f'"notes":"synthetic run for rubicon horizon benchmarks"}}\n'
                    )
    dates_path = out.with_suffix(".dates.yaml")
    dates_path.write_text(
        "date:\n" + "".join(f"  {a}: {d.isoformat()}\n" for a, d in dates.items()),
        encoding="utf-8",
    )
    print(json.dumps({"runs": run, "bytes": out.stat().st_size, "dates": str(dates_path)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
