"""Read-only views of a campaign: what the report and the dashboard show, as plain data.

Everything here reads the store through the `rubicon.store.Store` protocol (opened read-only by
`open_read_only`) and never writes.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rubicon.errors import StoreError
from rubicon.store import Store, open_store
from rubicon.store.live import read_run_progress
from rubicon.types import TOKEN_KEYS, CampaignInfo, Decision, Experiment, State
from rubicon.verdicts import compared_with, explain
from rubicon.workspace import diff_files

FAILED = (State.CRASHED, State.TIMED_OUT, State.GATE_FAILED, State.TAMPERED, State.INVALID)
COST_KEYS = (*TOKEN_KEYS, "cost_usd")


def open_read_only(directory: str | Path) -> Store:
    """Open the store under `directory` (or a .db file) read-only: every write fails, nothing
    is created or upgraded (a store written by an older rubicon is read as it is)."""
    return open_store(directory, create=False, read_only=True)


def fingerprint(store: Store, cid: str) -> tuple[str, int]:
    """(token, finished experiments): the token changes whenever an experiment of the campaign
    is added or recorded or the campaign's status changes. Two small queries: cheap to poll."""
    info = store.campaign(cid)
    done, last = store.progress(info.id)
    return f"{info.status}|{info.incumbent_id}|{done}|{last:.6f}", done


@dataclass
class Row:
    """One experiment as the views show it (no files, no diff)."""

    id: int
    seq: int
    parent_id: int | None
    researcher: str
    state: str
    decision: str
    objective: float | None
    speedup: float | None
    ci_low: float | None  # the incumbent's objective times the paired ratio interval
    ci_high: float | None
    sp_low: float | None  # the same band expressed as speedup vs baseline
    sp_high: float | None
    ratio_low: float | None
    ratio_high: float | None
    started_min: float  # minutes since the campaign started
    finished_min: float | None
    took_s: float | None
    rationale: str
    reason: str
    tokens: float
    cost_usd: float
    depth: int = 0
    vs: int | None = None  # the incumbent it was measured against (rubicon.verdicts.compared_with)

    @property
    def kept(self) -> bool:
        return self.decision == Decision.KEEP.value

    @property
    def failed(self) -> bool:
        return self.state in {s.value for s in FAILED}

    def to_json(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in d.items()}


@dataclass
class CampaignView:
    """All a report or dashboard page needs about one campaign."""

    info: CampaignInfo
    rows: list[Row]
    counts: dict[str, int]
    decisions: dict[str, int]
    failures: dict[str, list[tuple[int, str]]]  # state -> up to 3 (experiment id, reason)
    cost: dict[str, dict[str, float]]  # researcher -> {tokens, cost_usd, ...}
    baseline: Row | None
    best: Row | None
    winning_diff: str
    direction: str  # "minimize" | "maximize"
    metric: str
    confidence: float  # of the ratio intervals (1 - 2 alpha)
    generated_at: float = field(default_factory=time.time)

    @property
    def done(self) -> int:
        return sum(n for s, n in self.counts.items() if s != State.PENDING.value)

    def row(self, eid: int | None) -> Row | None:
        return next((r for r in self.rows if r.id == eid), None)

    def summary_json(self) -> dict[str, Any]:
        return {
            "campaign": self.info.id, "task": self.info.task_name, "status": self.info.status,
            "researcher": self.info.researcher, "done": self.done, "counts": self.counts,
            "incumbent_id": self.info.incumbent_id, "baseline_id": self.info.baseline_id,
            "best_speedup": self.best.speedup if self.best else None,
            "best_objective": self.best.objective if self.best else None,
            "cost": self.cost, "experiments": [r.to_json() for r in self.rows],
        }


def _num(x: Any) -> float:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else 0.0


def _task_objective(info: CampaignInfo) -> tuple[str, str]:
    """(metric, direction) of the campaign's task; falls back to wall_seconds/minimize."""
    try:
        from rubicon.task import load_task
        from rubicon.task._spec import BUILTIN_DIR

        d = Path(info.task_dir)
        if not d.is_dir():
            d = BUILTIN_DIR / info.task_name
        spec = load_task(d).spec.objective
        return spec.metric, spec.direction
    except Exception:  # the task may be gone or changed: the view still works
        return "wall_seconds", "minimize"


def band(incumbent: float | None, low: float | None,
         high: float | None) -> tuple[float, float] | None:
    """Where the paired runs place a candidate: the incumbent's value times the confidence
    interval [low, high] of the candidate/incumbent ratio (sorted; None when unknown).

    The promotion rule compares with the incumbent run in the same interleaved pairs, so a
    band wholly on the better side of the incumbent's line is exactly a promotion, while the
    candidate's own median may drift with the machine's load.
    """
    if incumbent is None or low is None or high is None or low <= 0 or high <= 0:
        return None
    a, b = incumbent * low, incumbent * high
    return (a, b) if a <= b else (b, a)


def campaign_view(store: Store, cid: str | None = None) -> CampaignView:
    """Build the view of campaign `cid` (None: the latest)."""
    info = store.campaign(cid)
    exps: list[Experiment] = store.experiments(info.id)
    metric, direction = _task_objective(info)
    alpha = _num(info.config.get("protocol", {}).get("alpha", 0.05)) or 0.05
    t0 = info.created_at
    depth: dict[int, int] = {}
    rows: list[Row] = []
    cost: dict[str, dict[str, float]] = {}
    # the incumbent each experiment was measured against: the last one kept before it ended
    incumbent_at: dict[int, Experiment] = {}
    current: Experiment | None = None
    for e in sorted(exps, key=lambda x: (x.finished_at or float("inf"), x.seq)):
        if current is not None:
            incumbent_at[e.id] = current
        if e.decision == Decision.KEEP and e.objective is not None:
            current = e
    maximize = direction == "maximize"
    for e in exps:
        depth[e.id] = depth.get(e.parent_id, -1) + 1 if e.parent_id is not None else 0
        inc = incumbent_at.get(e.id)
        # the stored ratio is worse/better (< 1: the candidate is better) in both directions
        # (measure.protocol): candidate/incumbent when minimizing, incumbent/candidate when
        # maximizing; speedup improves as the inverse of the ratio either way
        inverse = (1 / e.ratio_high, 1 / e.ratio_low) if e.ratio_low and e.ratio_high else None
        if maximize:
            b = band(inc.objective if inc else None, *(inverse or (None, None)))
        else:
            b = band(inc.objective if inc else None, e.ratio_low, e.ratio_high)
        sb = None
        if inc is not None and inc.speedup is not None and inverse is not None:
            sb = band(inc.speedup, *inverse)
        tokens = sum(_num(e.meta.get(k)) for k in TOKEN_KEYS)
        usd = _num(e.meta.get("cost_usd"))
        if any(k in e.meta for k in COST_KEYS):
            c = cost.setdefault(e.researcher, {"experiments": 0.0, "tokens": 0.0, "cost_usd": 0.0})
            c["experiments"] += 1
            c["tokens"] += tokens
            c["cost_usd"] += usd
        rows.append(Row(
            id=e.id, seq=e.seq, parent_id=e.parent_id, researcher=e.researcher,
            state=e.state.value, decision=e.decision.value if e.decision else "",
            objective=e.objective, speedup=e.speedup,
            ci_low=b[0] if b else None, ci_high=b[1] if b else None,
            sp_low=sb[0] if sb else None, sp_high=sb[1] if sb else None,
            ratio_low=e.ratio_low, ratio_high=e.ratio_high,
            started_min=(e.created_at - t0) / 60,
            finished_min=(e.finished_at - t0) / 60 if e.finished_at else None,
            took_s=(e.finished_at - e.created_at) if e.finished_at else None,
            rationale=e.rationale, reason=explain(e), tokens=tokens, cost_usd=usd,
            depth=depth[e.id], vs=compared_with(e) if e.seq > 0 else None,
        ))
    counts = dict(Counter(r.state for r in rows))
    decisions = dict(Counter(r.decision or "pending" for r in rows))
    failures: dict[str, list[tuple[int, str]]] = {}
    for r in rows:
        if r.failed:
            ex = failures.setdefault(r.state, [])
            if len(ex) < 3 and all(reason != r.reason for _, reason in ex):
                ex.append((r.id, r.reason))
    by_id = {r.id: r for r in rows}
    baseline = by_id.get(info.baseline_id) if info.baseline_id is not None else None
    best = by_id.get(info.incumbent_id or -1) or baseline
    winning = ""
    if best is not None and baseline is not None and best.id != baseline.id:
        b_exp = store.experiment(baseline.id, runs=False)
        w_exp = store.experiment(best.id, runs=False)
        winning = diff_files(b_exp.files, w_exp.files, "baseline", f"#{best.id}")
    return CampaignView(
        info=info, rows=rows, counts=counts, decisions=decisions, failures=failures, cost=cost,
        baseline=baseline, best=best, winning_diff=winning, direction=direction, metric=metric,
        confidence=max(0.0, 1 - 2 * alpha),
    )


def live_run(store: Store, directory: str | Path, info: CampaignInfo) -> dict[str, Any] | None:
    """The progress of the timed run going on now in campaign `info` (rubicon.store.live), or
    None: the campaign is not running, no run printed progress, or that run's experiment is
    recorded already. Adds `seconds` (elapsed now) and `eta` (seconds left, or None)."""
    if info.status != "running":
        return None
    data = read_run_progress(directory, info.id)
    if data is None:
        return None
    eid = data.get("experiment")
    if isinstance(eid, int):
        try:
            if store.experiment(eid, runs=False).state != State.PENDING:
                return None
        except StoreError:
            return None
    elif info.baseline_id is not None:
        return None  # the baseline is measured
    at, elapsed = _num(data.get("at")) or time.time(), _num(data.get("elapsed")) or 0.0
    since = max(0.0, time.time() - at)
    step, total = min(int(data["step"]), int(data["total"])), int(data["total"])
    eta = max(0.0, elapsed / step * (total - step) - since) if step > 0 else None
    return {**data, "step": step, "seconds": elapsed + since, "eta": eta}
