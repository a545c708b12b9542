"""Benchmark: `rubicon horizon` on a large runs file, two source trees side by side.

Usage:
  python bench/gen_horizon_runs.py /tmp/horizon-bench/runs2m.jsonl     # 2M runs, ~1.3 GB
  python bench/bench_horizon_scale.py OLD_SRC NEW_SRC /tmp/horizon-bench/runs2m.jsonl \
      [--repeats 3] [--bootstrap 0 1000] [--mem-cap-gb 12] [--out results.jsonl]

For each repeat, runs every (tree, --bootstrap) combination once, interleaved (old then new
for each setting, so load from other jobs hits both alike), each as a fresh process under
/usr/bin/time -v: wall time, user+sys CPU, peak RSS, exit code and the last line of stderr,
with `uptime`'s load average before the run. Processes run under `ulimit -v` of
--mem-cap-gb so a tree that needs more memory fails with MemoryError instead of pushing a
shared machine into swap or the OOM killer. Prints min/median/max per combination.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any


def _load() -> str:
    return Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"


def run_once(src: str, runs: str, dates: str | None, boot: int, cap_gb: float) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "rubicon.cli.main", "horizon", runs, "--bootstrap", str(boot),
           "--json"]
    if dates:
        cmd += ["--release-dates", dates]
    with tempfile.TemporaryDirectory() as tmp:
        tv = Path(tmp) / "time.txt"
        out = Path(tmp) / "out.json"
        shell = (f"ulimit -v {int(cap_gb * 1024 * 1024)}; exec /usr/bin/time -v -o {tv} "
                 + " ".join(f"'{c}'" for c in cmd) + f" > {out}")
        load = _load()
        proc = subprocess.run(["bash", "-c", shell], env={**os.environ, "PYTHONPATH": src},
                              capture_output=True, text=True)
        t = tv.read_text()
        wall = t.split("Elapsed (wall clock) time (h:mm:ss or m:ss): ")[1].splitlines()[0]
        parts = [float(x) for x in wall.split(":")]
        secs = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
        user = float(re.search(r"User time \(seconds\): ([\d.]+)", t).group(1))  # type: ignore[union-attr]
        sys_ = float(re.search(r"System time \(seconds\): ([\d.]+)", t).group(1))  # type: ignore[union-attr]
        rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1))  # type: ignore[union-attr]
        result: dict[str, Any] = {}
        if proc.returncode == 0:
            data = json.loads(out.read_text())
            result = {a["agent"]: [h["minutes"] for h in a["horizons"]] for a in data["agents"]}
        err = proc.stderr.strip().splitlines()
        return {"src": src, "bootstrap": boot, "wall_s": round(secs, 2),
                "cpu_s": round(user + sys_, 2), "peak_rss_mb": round(rss / 1024),
                "exit": proc.returncode, "load_before": load,
                "stderr_tail": err[-1][:200] if err else "", "p50_p80": result}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("runs")
    ap.add_argument("--dates", default=None)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--bootstrap", type=int, nargs="+", default=[0, 1000])
    ap.add_argument("--mem-cap-gb", type=float, default=12.0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}; file {args.runs} "
          f"({Path(args.runs).stat().st_size / 1e9:.2f} GB)", flush=True)
    rows = []
    for rep in range(args.repeats):
        for boot in args.bootstrap:
            for name, src in (("old", args.old), ("new", args.new)):
                r = run_once(src, args.runs, args.dates, boot, args.mem_cap_gb)
                r.update(tree=name, repeat=rep)
                rows.append(r)
                print(json.dumps({k: v for k, v in r.items() if k != "p50_p80"}), flush=True)
                if args.out:
                    with open(args.out, "a") as fh:
                        fh.write(json.dumps(r) + "\n")
    print("\ntree  bootstrap  ok/runs  wall min/median/max (s)  cpu median (s)  peak RSS max (MB)")
    for boot in args.bootstrap:
        for name in ("old", "new"):
            rs = [r for r in rows if r["tree"] == name and r["bootstrap"] == boot]
            ok = [r for r in rs if r["exit"] == 0]
            w = [r["wall_s"] for r in rs]
            print(f"{name:5} {boot:9}  {len(ok)}/{len(rs)}      {min(w):.1f} / "
                  f"{statistics.median(w):.1f} / {max(w):.1f}            "
                  f"{statistics.median(r['cpu_s'] for r in rs):.1f}          "
                  f"{max(r['peak_rss_mb'] for r in rs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
