"""Per researcher x task statistics of a bench: the normalized score with a bootstrap interval
over attempts (a failed attempt scores 0), best, median, levels reached, wall time and cost."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

from rubicon.analytics.scores import bootstrap_mean
from rubicon.bench._manifest import Attempt, BenchPlan

CI = 0.95
N_BOOTSTRAP = 2000


@dataclass
class Cell:
    """One researcher on one task, over its attempts that are done (finished or failed)."""

    researcher: str
    task: str
    planned: int
    finished: int = 0
    failed: int = 0
    scores: list[float] = field(default_factory=list)
    mean: float | None = None
    low: float | None = None
    high: float | None = None
    median: float | None = None
    best: float | None = None
    best_speedup: float | None = None
    levels: dict[str, int] = field(default_factory=dict)  # level -> attempts that reached it
    wall_seconds: float | None = None  # mean per done attempt
    experiments: float | None = None  # mean per finished attempt
    tokens: float | None = None  # mean per done attempt
    cost_usd: float | None = None  # mean per done attempt

    @property
    def done(self) -> int:
        return self.finished + self.failed

    @property
    def pending(self) -> int:
        return self.planned - self.done


def summarize(plan: BenchPlan, attempts: list[Attempt], seed: int = 0) -> list[Cell]:
    """One `Cell` per researcher x task, in plan order."""
    cells: list[Cell] = []
    for r in plan.researchers:
        for t in plan.tasks:
            mine = [a for a in attempts if a.researcher == r.label and a.task == t.name]
            done = [a for a in mine if a.done]
            c = Cell(researcher=r.label, task=t.name, planned=plan.attempts)
            c.finished = sum(1 for a in done if a.status == "finished")
            c.failed = len(done) - c.finished
            cells.append(c)
            if not done:
                continue
            c.scores = [a.score for a in done]
            c.mean, c.low, c.high = bootstrap_mean(c.scores, N_BOOTSTRAP, CI, seed)
            c.median = statistics.median(c.scores)
            c.best = max(c.scores)
            speedups = [a.result.speedup for a in done if a.result and a.result.speedup]
            c.best_speedup = max(speedups) if speedups else None
            names = list(dict.fromkeys(n for a in done if a.result for n in a.result.milestones))
            c.levels = {n: sum(1 for a in done if a.result and a.result.milestones.get(n))
                        for n in names}
            c.wall_seconds = statistics.fmean(a.wall_seconds for a in done)
            fin = [a.result for a in done if a.result]
            c.experiments = statistics.fmean(x.experiments for x in fin) if fin else None
            c.tokens = statistics.fmean(a.result.tokens if a.result else 0.0 for a in done)
            c.cost_usd = statistics.fmean(a.result.cost_usd if a.result else 0.0 for a in done)
    return cells


def summary_dict(plan: BenchPlan, attempts: list[Attempt]) -> dict[str, Any]:
    """The summary as written to summary.json."""
    cells = summarize(plan, attempts)
    return {
        "bench": plan.id, "hints": plan.hints, "ci": CI, "n_bootstrap": N_BOOTSTRAP,
        "budget_seconds": plan.config.get("budget_seconds"),
        "cells": [{**asdict(c), "done": c.done, "pending": c.pending} for c in cells],
        "attempts": [
            {"key": a.key, "status": a.status, "score": a.score, "reason": a.reason,
             "wall_seconds": round(a.wall_seconds, 3), "restarts": a.restarts,
             "campaign_id": a.campaign_id,
             "result": a.result.model_dump(mode="json") if a.result else None}
            for a in attempts],
    }


def fmt_score(c: Cell) -> str:
    """`0.62 [0.41, 0.80]` (n=3), or `-` before the first attempt is done."""
    if c.mean is None:
        return "-"
    return f"{c.mean:.2f} [{c.low:.2f}, {c.high:.2f}]"


__all__ = ["CI", "Cell", "fmt_score", "summarize", "summary_dict"]
