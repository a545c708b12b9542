"""Store at scale: fill a store with N experiments, then time the CLI's list and show, and what
one proposal costs the campaign (`Campaign.context()`) and a researcher reading its history.

    python bench/bench_store.py --n 100000 --reps 7
    python bench/bench_store.py --n 1000 --reps 7 --no-cli

Each CLI timing is a whole `rubicon show` process (interpreter start + imports + query + print),
which is what a user waits for; the in-process query time is reported next to it. "context()" is
one `Campaign.context()` call (what every ask pays); "llm-style reads" is what the llm
researcher reads of it before calling its model (tokens and cost spent so far, invalid proposals
in a row, the plan, the prompt's history); "full load" is what context() did before the history
became lazy (every experiment with its files).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rubicon.campaign import Campaign
from rubicon.researcher._prompt import choose_plan, history_text, invalid_in_row, spent
from rubicon.store import open_store
from rubicon.task import resolve_task
from rubicon.types import CampaignInfo, Decision, Experiment, Proposal, State, TimedRun

DIFF = "--- a/solution.py\n+++ b/solution.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n"
STATES = (State.OK, State.OK, State.CRASHED, State.INVALID, State.GATE_FAILED)


def fill(path: Path, n: int) -> str:
    """A demo-inversions campaign of n measured experiments (3 timed runs each), written through
    the store API; returns its id."""
    s = open_store(path)
    task = resolve_task("demo-inversions")
    s.create_campaign(CampaignInfo(id="big", task_name=task.name, task_dir=str(task.dir),
                                   task_hash=task.hash(), researcher="scripted",
                                   created_at=time.time()))
    body = "x = 2\n" * 40
    base = None
    for i in range(n):
        files = {"solution.py": f"# {i}\n{body}"}
        e = Experiment(id=0, campaign_id="big", seq=0, parent_id=base,
                       researcher="baseline" if i == 0 else "scripted", rationale=f"try {i}",
                       proposal=Proposal(rationale=f"try {i}").model_dump(mode="json"),
                       diff=DIFF, files=files, meta={"tokens_in": 10})
        eid = s.add_pending(e, f"h{i}")
        state = State.OK if i == 0 else STATES[i % len(STATES)]
        s.finish(e.model_copy(update={
            "id": eid, "state": state, "decision": Decision.DISCARD, "reason": "not better",
            "objective": 1.0, "speedup": 1.0, "metrics": {"wall_seconds": 1.0},
            "log_tail": "Traceback ...\n" if state != State.OK else ""}),
            [TimedRun(role="candidate", pair=p, wall_seconds=1, cpu_seconds=1, peak_memory_mb=1,
                      foreign_load=0, exit_code=0, scored=True, objective=1.0, cores=[0])
             for p in range(3)], {})
        base = base or eid
    s.update_campaign("big", baseline_id=base, incumbent_id=base)
    s.close()
    return "big"


def timed(cmd: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True,
                   env={**os.environ, "COLUMNS": "200"})
    return time.perf_counter() - t0


def clock(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def llm_reads(c: Campaign, spending: bool) -> None:
    """What the llm researcher reads to propose (`LLMResearcher.propose` up to the model call)."""
    ctx = c.context()
    if spending:
        spent(ctx, "scripted")
    invalid_in_row(ctx, "scripted")
    choose_plan(ctx, "scripted")
    history_text(ctx, 40)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--no-cli", action="store_true", help="skip the `rubicon show` processes")
    ap.add_argument("--no-full-load", action="store_true",
                    help="skip timing the old full load (slow at 100k)")
    ap.add_argument("--dir", help="keep the filled store here and reuse it on the next run")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        root = Path(args.dir or d)
        t0 = time.perf_counter()
        if (root / "rubicon-runs" / "rubicon.db").exists():
            cid = "big"
        else:
            cid = fill(root / "rubicon-runs", args.n)
        fill_s = time.perf_counter() - t0
        size_mb = (root / "rubicon-runs" / "rubicon.db").stat().st_size / 1e6
        cli = [sys.executable, "-m", "rubicon.cli.main"]
        base = [sys.executable, "-c", "import rubicon.cli.main"]
        out: dict[str, list[float]] = {}
        c = Campaign.open(root / "rubicon-runs", cid)
        s = c.store
        for _ in range(args.reps):  # interleaved so machine noise hits all alike
            if not args.no_cli:
                out.setdefault("python+import only", []).append(timed(base, root))
                out.setdefault("show (campaign list)", []).append(timed(cli + ["show"], root))
                out.setdefault(f"show {args.n // 2}", []).append(
                    timed(cli + ["show", str(args.n // 2)], root))
            out.setdefault("query list (in process)", []).append(
                clock(lambda: (s.experiments(cid, last=50), s.count(cid))))
            out.setdefault("context()", []).append(clock(c.context))
            out.setdefault("context() + llm-style reads", []).append(
                clock(lambda: llm_reads(c, True)))
            out.setdefault("  of which all but spent()", []).append(
                clock(lambda: llm_reads(c, False)))
            if not args.no_full_load:
                out.setdefault("full load (old context())", []).append(
                    clock(lambda: s.experiments(cid, full=True)))
        print(f"store: {args.n} experiments, {3 * args.n} runs, {size_mb:.0f} MB "
              f"(filled through the store API in {fill_s:.0f} s); load {os.getloadavg()[0]:.1f}")
        for k, v in out.items():
            print(f"{k:30s} min {min(v) * 1000:8.2f} ms  median {statistics.median(v) * 1000:8.2f} ms"
                  f"  max {max(v) * 1000:8.2f} ms")


if __name__ == "__main__":
    main()
