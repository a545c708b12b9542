"""Compare `rubicon horizon` of two source trees on METR's run file, to the printed digits.

Usage: python bench/compare_horizon_metr.py OLD_SRC NEW_SRC [RUNS.jsonl] [--dates release_dates.yaml]

Runs `python -m rubicon.cli.main horizon RUNS --json` with PYTHONPATH=OLD_SRC and =NEW_SRC for
the presets metr-2025, metr-low-reg and equal, and prints per agent the 50%/80% horizons as the
table prints them (format_minutes: 3 significant digits), the weighted success (4 decimals),
and the doubling time (whole days), marking every difference. The new tree is also run with
--horizon-ci censored --trend-ci resample-models (the old tree's rules), so the intervals can
be compared like with like (they differ by bootstrap noise only: the run level is drawn
differently). Exit code 1 if any point estimate differs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

DATA = next((p / "shared" / "data" / "metr" for p in Path(__file__).resolve().parents
             if (p / "shared" / "data" / "metr").is_dir()), Path("shared/data/metr"))


def run(src: str, runs: str, dates: str, preset: str, extra: list[str]) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": src}
    cmd = [sys.executable, "-m", "rubicon.cli.main", "horizon", runs, "--json",
           "--preset", preset, "--release-dates", dates, "--bootstrap", "1000", *extra]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout))


def fmt(m: float | None) -> str:
    if m is None:
        return "-"
    if m < 1:
        return f"{m * 60:.0f} s" if m * 60 >= 1 else f"{m * 60:.2g} s"
    return f"{m:.3g} min" if m < 60 else f"{m / 60:.3g} h"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("runs", nargs="?", default=str(DATA / "all_runs_2025-02-27.jsonl"))
    ap.add_argument("--dates", default=str(DATA / "release_dates.yaml"))
    args = ap.parse_args()
    legacy = ["--horizon-ci", "censored", "--trend-ci", "resample-models"]
    differ = 0
    for preset in ("metr-2025", "metr-low-reg", "equal"):
        old = run(args.old, args.runs, args.dates, preset, [])
        new = run(args.new, args.runs, args.dates, preset, [])
        leg = run(args.new, args.runs, args.dates, preset, legacy)
        print(f"\n== {preset}")
        print(f"{'agent':26} {'w.succ old/new':16} {'p50 old':>9} {'p50 new':>9} "
              f"{'p80 old':>9} {'p80 new':>9}  p50 CI old | new-legacy | new-metr")
        for a, b, c in zip(old["agents"], new["agents"], leg["agents"], strict=True):
            assert a["agent"] == b["agent"]
            cells = [fmt(h["minutes"]) for h in (*a["horizons"], *b["horizons"])]
            ws = (f"{a['weighted_success']:.4f}", f"{b['weighted_success']:.4f}")
            same = cells[0] == cells[2] and cells[1] == cells[3] and ws[0] == ws[1]
            differ += not same
            ci = [f"{fmt(x['horizons'][0]['ci_low'])}-{fmt(x['horizons'][0]['ci_high'])}"
                  for x in (a, c, b)]
            print(f"{a['agent'][:26]:26} {ws[0]}/{ws[1]}   {cells[0]:>9} {cells[2]:>9} "
                  f"{cells[1]:>9} {cells[3]:>9}  {' | '.join(ci)}{'' if same else '  DIFFERS'}")
        to, tn, tl = old.get("trend"), new.get("trend"), leg.get("trend")
        if to and tn and tl:
            d = [f"{t['doubling_days']:.0f}" for t in (to, tn)]
            differ += d[0] != d[1]
            rng = [f"{t['doubling_days_low']:.0f}-{t['doubling_days_high']:.0f}"
                   if t["doubling_days_low"] and t["doubling_days_high"] else "not bounded"
                   for t in (to, tl, tn)]
            print(f"doubling time: old {d[0]} days, new {d[1]} days"
                  f"{'' if d[0] == d[1] else '  DIFFERS'}; 95% interval old {rng[0]}, "
                  f"new with old rules {rng[1]}, new (METR's rule) {rng[2]}")
    print(f"\npoint estimates differing at the printed digits: {differ}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
