"""Best confirmed speedup versus wall time for `search` campaigns, read from the store.

Two steps (the second only reads the store, like every report):

    # 1. run the campaigns, one after another (timed runs must never share cores)
    python bench/search_curve.py run --task lm-speedrun --seeds 0 1 2 --budget 60m \
        --dir bench-runs/search-lm
    # 2. curves, a markdown table for docs/BENCHMARKS.md and a PNG
    python bench/search_curve.py curve --dir bench-runs/search-lm [more stores...] \
        --png docs/img/search_curve.png

`run --stop-at 10` interrupts a campaign (Ctrl-C, so it is recorded as interrupted) once 10x is
confirmed: the curve is a running best, so the issue's marks are decided by then.

`run` calls the real CLI, `rubicon run TASK --researcher search --budget B --seed S --dir D`, so
the command in docs/BENCHMARKS.md is exactly what a user types.

A point of the curve is (minutes since the campaign was created, best speedup over the baseline
among *promoted* experiments finished by then). Promotion means the paired protocol confirmed the
candidate beat the incumbent, so every point is a confirmed, gate-passing speedup; the baseline is
1.0x. Wall time includes the baseline's runs and every screening and paired run.
"""

from __future__ import annotations

import argparse
import csv
import signal
import subprocess
import sys
import time
from pathlib import Path

from rubicon.store import Store, open_store
from rubicon.types import CampaignInfo, Decision, State

CHECKPOINTS_MIN = (1, 2, 3, 5, 10, 15, 30, 45, 60)


def curve(store: Store, campaign_id: str) -> list[tuple[float, float, int]]:
    """(minutes, best confirmed speedup, experiment id) at each promotion, baseline first."""
    info = store.campaign(campaign_id)
    points: list[tuple[float, float, int]] = []
    best = 0.0
    for e in store.experiments(campaign_id, include_pending=False):
        if e.finished_at is None or e.state != State.OK or e.decision != Decision.KEEP:
            continue
        sp = e.speedup if e.speedup is not None else (1.0 if e.seq == 0 else None)
        if sp is None or sp <= best:
            continue
        best = sp
        points.append(((e.finished_at - info.created_at) / 60.0, sp, e.id))
    return points


def best_at(points: list[tuple[float, float, int]], minute: float) -> float | None:
    """Best confirmed speedup reached by `minute` (None before the baseline finished)."""
    got = [sp for m, sp, _ in points if m <= minute]
    return max(got) if got else None


def first_reach(points: list[tuple[float, float, int]], target: float) -> float | None:
    """Minutes until the best confirmed speedup first reached `target`."""
    return next((m for m, sp, _ in points if sp >= target), None)


def _cmd_run(args: argparse.Namespace) -> int:
    for seed in args.seeds:
        cmd = ["rubicon", "run", args.task, "--researcher", "search", "--budget", args.budget,
               "--seed", str(seed), "--dir", args.dir, *args.extra]
        print("$", " ".join(cmd), flush=True)
        launched = time.time()
        # SIGINT back to its default in the child: a shell without job control starts background
        # jobs with SIGINT ignored, and Python keeps it ignored, so --stop-at's Ctrl-C was lost
        proc = subprocess.Popen(cmd, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        stopped = False
        while proc.poll() is None:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                if args.stop_at is not None and _reached(args.dir, seed, launched, args.stop_at):
                    # the curve is a running best, so nothing after this point can lower it
                    print(f"# {args.stop_at}x confirmed: interrupting the campaign", flush=True)
                    proc.send_signal(signal.SIGINT)
                    proc.wait()
                    stopped = True
        if not stopped and proc.returncode not in (0, 1):
            return proc.returncode
    return 0


def _reached(directory: str, seed: int, since: float, target: float) -> bool:
    """Whether the campaign of `seed` launched after `since` has a confirmed `target` speedup."""
    if not (Path(directory) / "rubicon.db").exists():
        return False
    store = open_store(directory, create=False, read_only=True)
    try:
        return any(c.created_at >= since - 1 and c.config.get("seed") == seed
                   and any(sp >= target for _, sp, _ in curve(store, c.id))
                   for c in store.campaigns())
    finally:
        store.close()


def _fmt(x: float | None, unit: str = "") -> str:
    return "-" if x is None else f"{x:.2f}{unit}"


def _cmd_curve(args: argparse.Namespace) -> int:
    # several stores may be given (seeds run in different sessions live in different stores)
    infos: list[tuple[Store, CampaignInfo]] = []
    for d in args.dir:
        store = open_store(d, create=False)
        infos += [(store, c) for c in store.campaigns() if c.researcher == "search"
                  and (not args.campaign or c.id in args.campaign)
                  and (args.task is None or c.task_name == args.task)]
    if not infos:
        print(f"no search campaigns in {' '.join(args.dir)}", file=sys.stderr)
        return 1
    curves = {c.id: curve(store, c.id) for store, c in infos}
    head = ["campaign", "seed", "ran (min)", "experiments", "first win (min)", "5x at (min)",
            "10x at (min)"] + [f"best @{m}m" for m in CHECKPOINTS_MIN]
    rows = []
    for store, c in infos:
        pts = curves[c.id]
        ran = _elapsed(store, c.id)
        first = next((m for m, sp, _ in pts if sp > 1.0), None)
        n = sum(1 for e in store.experiments(c.id) if e.seq > 0)
        rows.append([c.id, str(c.config.get("seed", "")), f"{ran:.1f}", str(n), _fmt(first),
                     _fmt(first_reach(pts, 5.0)), _fmt(first_reach(pts, 10.0))]
                    + [_fmt(best_at(pts, m), "x") if m <= ran else "n/a"
                       for m in CHECKPOINTS_MIN])
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        print("| " + " | ".join(r) + " |")
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["campaign", "minutes", "best_speedup", "experiment"])
            for cid, pts in curves.items():
                for m, sp, eid in pts:
                    w.writerow([cid, f"{m:.3f}", f"{sp:.4f}", eid])
    if args.png:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4))
        for _, c in infos:
            pts = curves[c.id]
            if not pts:
                continue
            end = max([m for m, _, _ in pts] + [_elapsed(store, c.id)])
            xs = [m for m, _, _ in pts] + [end]
            ys = [sp for _, sp, _ in pts] + [pts[-1][1]]
            ax.step(xs, ys, where="post", label=f"seed {c.config.get('seed', '?')}")
        for target in (5.0, 10.0):
            ax.axhline(target, color="grey", lw=0.8, ls="--")
        ax.set_xlabel("wall time since start (min)")
        ax.set_ylabel("best confirmed speedup vs baseline")
        ax.set_yscale("log")
        ax.set_title(f"search on {infos[0][1].task_name}")
        ax.legend()
        fig.tight_layout()
        Path(args.png).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.png, dpi=120)
        print(f"wrote {args.png}")
    return 0


def _elapsed(store: Store, campaign_id: str) -> float:
    info = store.campaign(campaign_id)
    ends = [e.finished_at for e in store.experiments(campaign_id) if e.finished_at]
    return (max(ends) - info.created_at) / 60.0 if ends else 0.0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run one search campaign per seed via `rubicon run`")
    r.add_argument("--task", default="lm-speedrun")
    r.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    r.add_argument("--budget", default="60m")
    r.add_argument("--dir", default="bench-runs/search")
    r.add_argument("--stop-at", type=float, default=None,
                   help="interrupt a campaign once this speedup is confirmed (its curve ends there)")
    r.add_argument("extra", nargs="*", help="more `rubicon run` flags after --")
    r.set_defaults(func=_cmd_run)
    c = sub.add_parser("curve", help="best confirmed speedup vs wall time, from the store")
    c.add_argument("--dir", nargs="+", default=["bench-runs/search"])
    c.add_argument("--task", default=None)
    c.add_argument("--campaign", nargs="*", default=None)
    c.add_argument("--csv", default=None)
    c.add_argument("--png", default=None)
    c.set_defaults(func=_cmd_curve)
    args = p.parse_args(argv)
    rc: int = args.func(args)
    return rc


if __name__ == "__main__":
    sys.exit(main())
