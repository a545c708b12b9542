"""A bench's records in the formats the field reads: a METR-style runs.jsonl, per researcher x
task summary.json, and (with the `inspect` extra) Inspect eval logs written through
inspect_ai's own API.

runs.jsonl has one row per done attempt and level of its task: each milestone, and the task
itself at score 1 (`<task>/reference`) with the task's human_minutes. In horizon terms a level
is a task (`task_id` "<task>/<level>") of the task's family (`task_family` = the task's name;
the suite family of task.toml is `suite_family`). `score_binarized` says whether the attempt's
normalized score reached the level; a failed attempt reaches none (`fatal_error_from` holds
its reason). Unfinished attempts have no rows.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, Protocol

from rubicon.bench._manifest import RUNS_FILE, SUMMARY_FILE, Attempt, BenchPlan, atomic_write, slug


class BenchDir(Protocol):
    """What the records need of a bench (rubicon.bench.Bench): its plan, directory, attempts."""

    plan: BenchPlan
    dir: Path

    def attempts(self) -> list[Attempt]: ...

INSPECT_DIR = "inspect"
INSPECT_INSTALL = "pip install 'rubicon[inspect]'"


def _ms(t: float | None) -> int | None:
    return None if t is None else int(round(t * 1000))


def run_rows(plan: BenchPlan, attempts: list[Attempt]) -> list[dict[str, Any]]:
    """The METR-style rows of every done attempt (see the module docstring)."""
    rows: list[dict[str, Any]] = []
    for att in attempts:
        if not att.done:
            continue
        task = next(t for t in plan.tasks if t.name == att.task)
        spec = next(r for r in plan.researchers if r.label == att.researcher)
        res = att.result if att.status == "finished" else None
        score = att.score
        for lv in task.levels:
            reached = bool(res and res.milestones.get(lv.name, score >= lv.score))
            rows.append({
                "run_id": f"{plan.id}/{att.key}/{lv.name}",
                "attempt_id": f"{plan.id}/{att.key}",
                "task_id": f"{task.name}/{lv.name}",
                "task_family": task.name,
                "suite_family": task.family,
                "alias": plan.alias(att.researcher),
                "model": str(spec.args.get("model") or spec.name),
                "score_binarized": int(reached),
                "score_cont": min(1.0, max(0.0, score)),
                "normalized_score": score,
                "level_score": lv.score,
                "human_minutes": lv.human_minutes,
                "started_at": _ms(att.started_at),
                "completed_at": _ms(att.completed_at),
                "fatal_error_from": (att.reason or "failed") if att.status == "failed" else None,
                "hints": plan.hints,
                "total_tokens": res.tokens if res else 0.0,
                "dollar_equivalent": res.cost_usd if res else 0.0,
                "wall_seconds": round(att.wall_seconds, 3),
                "budget_seconds": plan.config.get("budget_seconds"),
                "attempt": att.index,
                "bench": plan.id,
            })
    return rows


def write_records(bench: BenchDir, inspect: bool = False) -> dict[str, Path]:
    """Rewrite runs.jsonl and summary.json from the manifests (and the Inspect logs when
    `inspect` and inspect_ai is installed). Returns what was written."""
    from rubicon.bench.summary import summary_dict

    attempts = bench.attempts()
    rows = run_rows(bench.plan, attempts)
    out: dict[str, Path] = {}
    runs = bench.dir / RUNS_FILE
    atomic_write(runs, "".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    out["runs"] = runs
    summary = bench.dir / SUMMARY_FILE
    atomic_write(summary, json.dumps(summary_dict(bench.plan, attempts), indent=1) + "\n")
    out["summary"] = summary
    if inspect and rows and inspect_available():
        for i, p in enumerate(write_inspect_logs(bench.plan, rows, bench.dir / INSPECT_DIR)):
            out[f"inspect{i}"] = p
    return out


def inspect_available() -> bool:
    try:
        import inspect_ai.log  # noqa: F401
    except ImportError:
        return False
    return True


def _iso(ms: int | None) -> str:
    when = dt.datetime.now(dt.UTC) if ms is None else dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    return when.isoformat()


def write_inspect_logs(plan: BenchPlan, rows: list[dict[str, Any]], directory: Path) -> list[Path]:
    """One Inspect eval log per researcher (an Inspect log has one model): a sample per level
    of each task, an epoch per attempt, the level's 0/1 as the score; the METR fields are in
    the samples' metadata, so `rubicon horizon` reads the log like runs.jsonl.

    Raises:
        ImportError: inspect_ai is not installed (INSPECT_INSTALL).
    """
    from inspect_ai.log import (
        EvalConfig,
        EvalDataset,
        EvalLog,
        EvalMetric,
        EvalResults,
        EvalSample,
        EvalScore,
        EvalSpec,
        EvalStats,
        write_eval_log,
    )
    from inspect_ai.scorer import Score

    directory.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for alias in dict.fromkeys(r["alias"] for r in rows):
        mine = [r for r in rows if r["alias"] == alias]
        samples = [
            EvalSample(
                id=r["task_id"], epoch=int(r["attempt"]) + 1,
                input=f"{r['task_family']}: reach normalized score {r['level_score']:.3g}",
                target=f">= {r['level_score']:.6g}",
                scores={"level": Score(
                    value=float(r["score_binarized"]), answer=f"{r['normalized_score']:.6g}",
                    explanation=r["fatal_error_from"] or "")},
                metadata=r,
            )
            for r in mine
        ]
        starts = [r["started_at"] for r in mine if r["started_at"] is not None]
        ends = [r["completed_at"] for r in mine if r["completed_at"] is not None]
        mean = sum(r["score_binarized"] for r in mine) / len(mine)
        log = EvalLog(
            status="success",
            eval=EvalSpec(
                created=_iso(min(starts) if starts else None), task="rubicon-bench",
                dataset=EvalDataset(name=plan.suite or "rubicon-bench",
                                    samples=len({r["task_id"] for r in mine})),
                model=f"rubicon/{alias}", config=EvalConfig(epochs=plan.attempts),
                metadata={"bench": plan.id, "hints": plan.hints, "alias": alias,
                          "budget_seconds": plan.config.get("budget_seconds")},
            ),
            results=EvalResults(
                total_samples=len(mine), completed_samples=len(mine),
                scores=[EvalScore(name="level", scorer="level", metrics={
                    "accuracy": EvalMetric(name="accuracy", value=mean)})]),
            stats=EvalStats(started_at=_iso(min(starts) if starts else None),
                            completed_at=_iso(max(ends) if ends else None)),
            samples=samples,
        )
        path = directory / f"{slug(alias)}.eval"
        write_eval_log(log, str(path), format="eval")
        paths.append(path)
    return paths


__all__ = ["INSPECT_DIR", "INSPECT_INSTALL", "inspect_available", "run_rows", "write_inspect_logs",
           "write_records"]
