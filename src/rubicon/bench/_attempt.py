"""One attempt: a campaign of one researcher on one task in its own directory, resumable; its
time (segments of bench wall time) and its result (the normalized score of the best confirmed
experiment, the levels it reached, the best-score-versus-time curve, the researcher's cost)."""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rubicon.bench._manifest import (
    ATTEMPT_FILE,
    Attempt,
    AttemptResult,
    BenchError,
    BenchPlan,
    BenchTask,
    Segment,
    slug,
    write_model,
)
from rubicon.errors import RubiconError
from rubicon.types import TOKEN_KEYS

if TYPE_CHECKING:
    from rubicon.task import Task
    from rubicon.types import Experiment

Emit = Callable[[str, dict[str, Any]], None]
REFERENCE_LEVEL = "reference"  # the task's own level: score 1, the task's human_minutes


def attempt_dir(directory: Path, att: Attempt) -> Path:
    if att.dir_name:  # a neutral bench: a name that says nothing about researcher or task
        return directory / "attempts" / att.dir_name
    return directory / "attempts" / slug(att.researcher) / slug(att.task) / str(att.index)


def save(directory: Path, att: Attempt) -> None:
    write_model(attempt_dir(directory, att) / ATTEMPT_FILE, att)


def levels(task: Task) -> list[tuple[str, float, float]]:
    """The task's levels in horizon terms: (name, score threshold, human minutes) for each
    milestone, then the task itself (score 1) when it declares human_minutes."""
    out = [(m.name, s, m.human_minutes) for m, s in task.milestone_scores()]
    if task.spec.human_minutes is not None and all(n != REFERENCE_LEVEL for n, _, _ in out):
        out.append((REFERENCE_LEVEL, 1.0, float(task.spec.human_minutes)))
    return out


def score_of(task: Task, exp: Experiment) -> float | None:
    """The normalized score of an experiment: the task's [score] mapping on its speedup
    (log-speedup tasks) or its objective (linear tasks)."""
    sc = task.spec.score
    if sc is None:
        return None
    return sc.normalize(objective=exp.objective, speedup=exp.speedup)


def active_seconds(t: float, segments: Iterable[Segment]) -> float:
    """Bench seconds spent on the attempt up to wall-clock time `t`."""
    total = 0.0
    for s in segments:
        end = s.end if s.end is not None else t
        total += max(0.0, min(end, t) - s.start)
    return total


def last_activity(path: Path, since: float) -> float:
    """When a dead process last wrote to the attempt directory (its store, its manifest): the
    end of a segment whose process was killed."""
    latest = since
    if path.is_dir():
        for p in path.iterdir():
            try:
                if p.is_file():
                    latest = max(latest, p.stat().st_mtime)
            except OSError:
                continue
    return min(latest, time.time())


def _num(v: Any) -> float:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else 0.0


def attempt_result(task: Task, experiments: list[Experiment],
                   segments: list[Segment]) -> AttemptResult:
    """The result of an attempt from its campaign's experiments: the best confirmed (kept)
    experiment's normalized score, levels reached, the curve, counts and cost."""
    from rubicon.types import Decision, State

    best_score: float | None = None
    best = None
    curve: list[tuple[float, float]] = []
    states: dict[str, int] = {}
    tokens = cost = 0.0
    for e in sorted(experiments, key=lambda e: (e.finished_at or e.created_at, e.id)):
        if e.seq > 0:
            states[e.state.value] = states.get(e.state.value, 0) + 1
        tokens += sum(_num(e.meta.get(k)) for k in TOKEN_KEYS)
        cost += _num(e.meta.get("cost_usd"))
        if e.state != State.OK or e.decision != Decision.KEEP:
            continue
        s = score_of(task, e)
        if s is None or (best_score is not None and s <= best_score):
            continue
        best_score, best = s, e
        curve.append((round(active_seconds(e.finished_at or e.created_at, segments), 3), s))
    score = best_score if best_score is not None else 0.0
    return AttemptResult(
        score=score, best_id=best.id if best else None,
        speedup=best.speedup if best else None, objective=best.objective if best else None,
        milestones={name: score >= thr - 1e-12 for name, thr, _ in levels(task)},
        experiments=sum(states.values()), states=states, tokens=tokens, cost_usd=round(cost, 6),
        curve=curve)


def close_dead_segment(directory: Path, att: Attempt) -> None:
    """An attempt left `running` by a process that died: end its open segment at the last
    write into its directory and count the restart."""
    open_seg = [s for s in att.segments if s.end is None]
    for s in open_seg:
        s.end = last_activity(attempt_dir(directory, att), s.start)
    if open_seg:
        att.restarts += 1
    att.status = "pending"


def _config(plan: BenchPlan, att: Attempt, overrides: dict[str, Any], remaining: float | None) -> Any:
    from rubicon.config import CampaignConfig

    cfg = CampaignConfig.from_dict(plan.config)
    return CampaignConfig(**{**cfg.model_dump(), **overrides, "seed": att.seed,
                             "hints": plan.hints, "budget_seconds": remaining})


def _campaign(path: Path, plan: BenchPlan, att: Attempt, entry: BenchTask, spec: Any,
              overrides: dict[str, Any], remaining: float | None) -> Any:
    """The attempt's campaign: reopened when it exists, else created."""
    from rubicon.campaign import Campaign

    if (path / "rubicon.db").exists():
        try:
            c = Campaign.open(path, att.campaign_id,
                              overrides={**overrides, "budget_seconds": remaining})
            if remaining is not None and c.info.spent_seconds > 0:
                # the campaign's budget counts what its earlier runs spent: give it that back,
                # so the attempt's own accounting (remaining) is what limits it
                c.cfg.budget_seconds = remaining + c.info.spent_seconds
            return c
        except RubiconError:
            if att.campaign_id is not None:
                raise
            # killed before the campaign was recorded: start it now
    return Campaign.create(entry.dir, spec.name, dict(spec.args), directory=path,
                           cfg=_config(plan, att, overrides, remaining))


def run_attempt(directory: Path, plan: BenchPlan, att: Attempt, overrides: dict[str, Any],
                emit: Emit) -> Attempt:
    """Run (or continue) one attempt to its end and record it: `finished` with its result, or
    `failed` with the reason (and error.txt with the traceback). Ctrl-C leaves it `pending`,
    to be continued by `--resume`.

    Raises:
        BenchError: the task changed since the bench started (every attempt of it would measure
            something else).
        KeyboardInterrupt: passed on after recording the interruption.
    """
    from rubicon.task import load_task

    entry = next(t for t in plan.tasks if t.name == att.task)
    spec = next(r for r in plan.researchers if r.label == att.researcher)
    path = attempt_dir(directory, att)
    task = load_task(entry.dir) if Path(entry.dir).is_dir() else None
    if task is None or task.hash() != entry.hash:
        raise BenchError(f"task {entry.name!r} at {entry.dir} changed (or is gone) since the "
                         "bench started; its attempts would measure another task. Start a new "
                         "bench directory")
    budget = plan.config.get("budget_seconds")
    remaining = None if budget is None else float(budget) - att.wall_seconds
    now = time.time()
    att.status = "running"
    att.started_at = att.started_at or now
    att.segments.append(Segment(start=now, pid=os.getpid()))
    save(directory, att)
    emit("attempt-start", {"attempt": att})
    best: list[float] = [0.0]
    done = [0]

    def on_event(kind: str, data: dict[str, Any]) -> None:
        if kind != "finished":
            return
        e = data["experiment"]
        done[0] += 1
        s = score_of(task, e) if e.decision is not None and e.decision.value == "keep" else None
        if s is not None and s > best[0]:
            best[0] = s
        emit("experiment", {"attempt": att, "experiment": e, "done": done[0], "best": best[0]})

    c = None
    try:
        c = _campaign(path, plan, att, entry, spec, overrides,
                      None if remaining is None else max(remaining, 1e-3))
        if att.campaign_id != c.info.id:
            att.campaign_id = c.info.id
            save(directory, att)
        if remaining is None or remaining > 0:
            c.on_event = on_event
            c.run()
        experiments = c.history()
    except KeyboardInterrupt:
        att.segments[-1].end = time.time()
        att.status = "pending"
        save(directory, att)
        raise
    except Exception as e:  # noqa: BLE001 - any failure of an attempt is recorded, never dropped
        att.segments[-1].end = time.time()
        att.status = "failed"
        att.reason = f"{type(e).__name__}: {e}".strip()[:2000]
        att.completed_at = time.time()
        att.result = None
        (path / "error.txt").write_text(traceback.format_exc(), encoding="utf-8")
        save(directory, att)
        emit("attempt-end", {"attempt": att})
        return att
    finally:
        if c is not None:
            c.store.close()
    att.segments[-1].end = time.time()
    att.result = attempt_result(task, experiments, att.segments)
    att.status = "finished"
    att.completed_at = time.time()
    save(directory, att)
    emit("attempt-end", {"attempt": att})
    return att


__all__ = ["REFERENCE_LEVEL", "active_seconds", "attempt_dir", "attempt_result",
           "close_dead_segment", "levels", "run_attempt", "save", "score_of"]
