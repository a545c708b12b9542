"""The returns meter (`rubicon returns`): per generation of a lineage, or per promotion of a
campaign, what was gained and what it cost, and whether gains grow or shrink
(docs/LINEAGE.md, "Returns meter"; the statistics are in rubicon.analytics.returns).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from rubicon.analytics.returns import (
    Estimate,
    Step,
    Trend,
    campaign_steps,
    cumulative,
    promotions,
    trend,
)
from rubicon.errors import RubiconError
from rubicon.lineage.audit import AUDIT_FILE, AuditLog
from rubicon.lineage.records import Generation, Interval


@dataclass
class ReturnsRow:
    """One generation of a lineage, or the baseline / one promotion of a campaign."""

    label: str
    index: int
    status: str
    value: Estimate | None = None  # capability (lineage) / incumbent objective (campaign)
    gain: Estimate | None = None
    hours: float | None = None  # wall hours spent finding it (rejected siblings included)
    runs: int | None = None
    tokens: int | None = None
    gain_per_hour: float | None = None
    pass_rate: float | None = None  # honeypot pass rate (lineage)
    alignment: float | None = None  # product of the pass rates of the promotions so far


@dataclass
class Returns:
    kind: Literal["lineage", "campaign"]
    name: str
    rows: list[ReturnsRow]
    steps: list[Step]
    gain: Trend
    per_hour: Trend
    alignment: float | None = None
    value_label: str = "capability"
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        def tr(t: Trend) -> dict[str, Any]:
            return {"n": t.n, "verdict": t.verdict, "method": t.method, "ratios": t.ratios,
                    "ratio": asdict(t.ratio) if t.ratio else None,
                    "slope_log_gain": asdict(t.slope) if t.slope else None}
        return {"kind": self.kind, "name": self.name, "value": self.value_label,
                "rows": [asdict(r) for r in self.rows], "gain_trend": tr(self.gain),
                "gain_per_hour_trend": tr(self.per_hour),
                "cumulative_alignment": self.alignment, "notes": self.notes}

    def chart(self) -> bytes:
        """The returns chart as PNG bytes."""
        from rubicon.analytics.returns_plot import returns_png

        values = [(float(r.index), r.value) for r in self.rows if r.value is not None]
        align = [(float(r.index), r.alignment) for r in self.rows] if self.kind == "lineage" else []
        x = "generation" if self.kind == "lineage" else "promotion"
        return returns_png(f"{self.kind} {self.name}", self.steps, self.gain, values, align,
                           self.value_label, x)


def _est(i: Interval | None) -> Estimate | None:
    return None if i is None else Estimate(i.value, i.lo, i.hi)


def lineage_returns(gens: list[Generation], *, level: float = 0.95, bootstrap: int = 2000,
                    ci: float = 0.95, seed: int = 0) -> Returns:
    """The returns of a lineage from its generation records (latest record per generation).
    `level`: the coverage of the records' gain intervals (the lineage's bootstrap, 95%)."""
    gens = sorted(gens, key=lambda g: g.generation)
    promoted_parents = {g.parent for g in gens if g.status == "promoted"}
    rows: list[ReturnsRow] = []
    steps: list[Step] = []
    for g in gens:
        siblings = [s for s in gens if s.parent == g.parent and s.generation != g.generation
                    and s.status != "promoted" and g.parent in promoted_parents]
        spent = [g, *siblings] if g.status == "promoted" and g.generation > 0 else [g]
        wall = sum(s.cost.wall_seconds for s in spent)
        hours = wall / 3600 if wall > 0 else None
        row = ReturnsRow(f"gen {g.generation}", g.generation, g.status, _est(g.capability),
                         _est(g.gain), hours, sum(s.cost.runs for s in spent),
                         sum(s.cost.tokens for s in spent), pass_rate=g.honeypot_pass_rate)
        if g.status == "promoted" and g.generation > 0 and g.gain is not None:
            step = Step(row.label, g.generation, g.gain.value, g.gain.lo, g.gain.hi, level, hours,
                        g.capability.value if g.capability else None)
            steps.append(step)
            ph = step.per_hour()
            row.gain_per_hour = ph.gain if ph else None
        rows.append(row)
    promoted = [r for r in rows if r.status == "promoted" and r.index > 0]
    for r, acc in zip(promoted, cumulative([r.pass_rate for r in promoted]), strict=True):
        r.alignment = acc
    notes = []
    missing = sum(1 for r in promoted if r.pass_rate is None)
    if missing:
        notes.append(f"{missing} promoted generation(s) without a honeypot pass rate: left out "
                     "of the cumulative alignment")
    name = gens[0].lineage if gens else "(empty)"
    return Returns("lineage", name, rows, steps, trend(steps, bootstrap=bootstrap, ci=ci, seed=seed),
                   _per_hour(steps, bootstrap, ci, seed),
                   promoted[-1].alignment if promoted else None, notes=notes)


def _per_hour(steps: list[Step], bootstrap: int, ci: float, seed: int) -> Trend:
    ph = [p for s in steps if (p := s.per_hour()) is not None]
    return trend(ph, bootstrap=bootstrap, ci=ci, seed=seed)


def load_generations(path: Path) -> tuple[str, list[Generation]]:
    """(where, generations) from a lineage directory (its audit log) or an audit log file."""
    p = Path(path)
    log_path = p / AUDIT_FILE if p.is_dir() else p
    if not log_path.is_file():
        raise RubiconError(f"{p}: no lineage audit log ({AUDIT_FILE}) there")
    log = AuditLog(log_path)
    verdict = log.verify()
    if verdict.tampered:
        raise RubiconError(f"lineage audit log {log_path} fails verification: "
                           f"{verdict.problems[0]} (see `rubicon lineage verify`)")
    return str(log_path), log.generations()


def campaign_returns(directory: str | Path, campaign: str | None = None, *,
                     bootstrap: int = 2000, ci: float = 0.95, seed: int = 0) -> Returns:
    """The returns of a campaign in the store under `directory` (None: its latest campaign):
    one step per promotion, gains relative to the incumbent it replaced."""
    from rubicon.report import campaign_view, open_read_only

    store = open_read_only(directory)
    try:
        view = campaign_view(store, campaign)
    finally:
        store.close()
    maximize = view.direction == "maximize"
    steps = campaign_steps(view.rows, maximize, view.confidence or 0.9)
    by_label = {s.label: s for s in steps}
    rows: list[ReturnsRow] = []
    prev_t = None
    for r in promotions(view.rows):
        t = r.finished_min or 0.0
        window = [x for x in view.rows if x.finished_min is not None and x.finished_min <= t
                  and (prev_t is None or prev_t < x.finished_min)]
        s = by_label.get(f"#{r.id}")
        ph = s.per_hour() if s else None
        band = (Estimate(r.objective, r.ci_low, r.ci_high) if r.objective is not None else None)
        rows.append(ReturnsRow(
            "baseline" if r.seq == 0 else f"#{r.id}", len(rows), "baseline" if r.seq == 0 else "promoted",
            band, Estimate(s.gain, s.lo, s.hi) if s else None, s.hours if s else None,
            len(window), int(sum(x.tokens for x in window)), ph.gain if ph else None))
        prev_t = t
    notes = [f"gain = relative improvement of {view.metric} ({view.direction}) over the incumbent "
             f"replaced; intervals from the paired runs at {view.confidence:.0%}"]
    return Returns("campaign", f"{view.info.id} ({view.info.task_name})", rows, steps,
                   trend(steps, bootstrap=bootstrap, ci=ci, seed=seed),
                   _per_hour(steps, bootstrap, ci, seed),
                   value_label=view.metric, notes=notes)
