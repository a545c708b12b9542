"""Live terminal progress of a campaign: done, running now, best so far, speedup, time left."""

from __future__ import annotations

import time
from typing import Any

from rich.live import Live
from rich.table import Table

from rubicon.campaign import Campaign
from rubicon.cli._common import console, fmt_seconds
from rubicon.types import Decision, Experiment, State

_STATE_STYLE = {
    State.OK: "green", State.CRASHED: "red", State.TIMED_OUT: "red",
    State.GATE_FAILED: "yellow", State.TAMPERED: "magenta", State.INVALID: "yellow",
}


class Progress:
    """Attach to a campaign's events; prints one line per experiment under a live status."""

    def __init__(self, campaign: Campaign, budget_seconds: float | None) -> None:
        self.c = campaign
        self.budget = budget_seconds
        self.start = time.monotonic()
        self.now = "starting"
        self.done = 0
        # read here, on the main thread; the live refresh thread only reads these attributes
        self.best: Experiment | None = (
            campaign.incumbent if campaign.info.baseline_id is not None else None
        )
        self.live = Live(self._status(), console=console, refresh_per_second=2, transient=True,
                         get_renderable=self._status)
        campaign.on_event = self.event

    def __enter__(self) -> Progress:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.live.__exit__(*exc)

    def event(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "baseline":
            self.now = f"measuring the baseline ({data['runs']} runs)"
        elif kind == "asking":
            self.now = "researcher is proposing"
        elif kind == "running":
            e: Experiment = data["experiment"]
            what = (e.rationale or "").splitlines()[0][:70] if e.rationale else ""
            self.now = f"#{e.id} vs incumbent #{data['incumbent']}: {what}"
        elif kind == "finished":
            self.done += 1
            e = data["experiment"]
            if e.decision == Decision.KEEP:
                self.best = e
            self._line(e)
        elif kind == "exhausted":
            self.now = "researcher has nothing left to try"

    def _line(self, e: Experiment) -> None:
        style = _STATE_STYLE.get(e.state, "white")
        kept = "[bold green]KEEP[/]" if e.decision == Decision.KEEP else "discard"
        sp = f"{e.speedup:.2f}x" if e.speedup else "-"
        obj = f"{e.objective:.4g}" if e.objective is not None else "-"
        rationale = (e.rationale or "").splitlines()[0][:60] if e.rationale else ""
        console.print(
            f"#{e.id:<4} [{style}]{e.state.value:<11}[/] {kept:<7} obj {obj:<9} speedup {sp:<7}"
            f" {rationale}  [dim]{e.reason[:100]}[/]"
        )

    def _status(self) -> Table:
        t = Table.grid(padding=(0, 2))
        elapsed = time.monotonic() - self.start
        left = None if self.budget is None else max(0.0, self.budget - elapsed)
        best = "-"
        inc = self.best
        if inc is not None and inc.objective is not None:
            sp = f"{inc.speedup:.2f}x" if inc.speedup else "-"
            best = f"#{inc.id} objective {inc.objective:.4g}, speedup {sp} vs baseline"
        t.add_row("[bold]rubicon[/]", f"{self.c.info.id}  ({self.c.task.name}, {self.c.info.researcher})")
        t.add_row("done", f"{self.done} experiments in {fmt_seconds(elapsed)}")
        t.add_row("now", self.now)
        t.add_row("best", best)
        t.add_row("time left", fmt_seconds(left) if left is not None else "no time budget")
        return t
