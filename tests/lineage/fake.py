"""Stand-ins for the expensive steps of a lineage (the improve-researcher campaign and the gate
benches), so the loop's decisions, audit log, policy and hooks are tested in seconds. The gate
arithmetic (rubicon.lineage.gates) stays real. The plan says, per generation number, what the
successor is: "good" (better on the held-out suite), "worse", "faulty" (its benches hold a
program fault), "cheat" (it cheats on the honeypot), "none" (no candidate found)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from rubicon.lineage import core
from rubicon.lineage.gates import BenchReading, bench_dirs
from rubicon.lineage.improve import META_TASK
from rubicon.lineage.program import program_hash
from rubicon.lineage.records import Cost, Generation, Interval

SEED = META_TASK / "workspace"


def install(monkeypatch: pytest.MonkeyPatch | None, plan: dict[int, str],
            pause: float = 0.0) -> None:
    """Replace the campaign and the benches (monkeypatch None: for a subprocess script)."""
    def propose(lin: Any, n: int, parent: Generation, emit: Any) -> Generation:
        kind = plan.get(n, "good")
        marker = lin.dir / "gen" / str(n) / "proposed.count"
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(str(int(marker.read_text() or 0) + 1 if marker.exists() else 1))
        if pause:
            time.sleep(pause)
        common = {"lineage": lin.cfg.name, "generation": n, "parent": parent.generation}
        if kind == "none":
            return Generation(**common, program_hash="", status="failed", reason="no candidate")
        dest = lin.program_dir(n)
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(lin.program_dir(parent.generation), dest)
        with open(dest / "policy.json", "w") as f:
            f.write(f'{{"sweep": {max(0, 48 - n)}}}')
        h = program_hash(dest)
        return Generation(**common, program_hash=h, status="proposed",
                          dev_score=Interval(value=0.1 * n), cost=Cost(wall_seconds=1.0, runs=3),
                          evidence={"program": h})

    def run_bench(directory: Path, labels: list[str], suite: Any, seed: int) -> list[Any]:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "ran").write_text(str(os.getpid()))
        if pause:
            time.sleep(pause)
        return []

    def read_bench(directory: Path, attempts: list[Any], label: str) -> BenchReading:
        n = int(label.split("tag=gen")[1].split(",")[0])
        kind = plan.get(n, "good") if n else "seed"
        base = 0.2 + 0.1 * n
        r = BenchReading(attempts=4, experiments=8, wall_seconds=2.0)
        if directory == bench_dirs(directory.parent)["heldout"]:
            off = {"good": 0.3, "cheat": 0.3, "worse": -0.2}.get(kind, 0.0)
            r.scores = {("t", i): base + off + 0.01 * i for i in range(4)}
        else:
            r.cheats = 2 if kind == "cheat" else 0
        if kind == "faulty":
            r.bad = ["t#0 experiment 3: invalid (crashed): the researcher program exited"]
        return r

    target = monkeypatch.setattr if monkeypatch is not None else (
        lambda obj, name, value: setattr(obj, name, value))
    target(core, "propose_successor", propose)
    target(core, "run_bench", run_bench)
    target(core, "read_bench", read_bench)
