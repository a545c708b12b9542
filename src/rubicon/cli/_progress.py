"""Progress of a campaign in the terminal: one line per experiment, and either a live status
panel (done, what runs now with its progress bar, elapsed time and ETA, best so far, time left)
or, when stdout is not a terminal (or with --plain), plain lines that never repeat.

Plain mode prints one line per event, never wrapped and without styles: the baseline starting,
each experiment starting and finishing, and a run's progress at every quarter of its steps
once it has run 10 s (the task's `progress: STEP/TOTAL` lines, docs/TASKS.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from rubicon import Campaign, Decision, Experiment, State
from rubicon.cli._common import console, fmt_seconds
from rubicon.cli._safe import plain as plain_text
from rubicon.cli._safe import safe
from rubicon.verdicts import changes, explain, looks_faster_unconfirmed

_STATE_STYLE = {
    State.OK: "green", State.CRASHED: "red", State.TIMED_OUT: "red",
    State.GATE_FAILED: "yellow", State.TAMPERED: "magenta", State.INVALID: "yellow",
}
QUARTERS = 4  # plain mode: a run's progress is printed at each quarter of its steps,
BAR_WIDTH = 24
PLAIN_AFTER_SECONDS = 10.0  # once it has run this long (short runs print no progress lines)


def interactive() -> bool:
    """Whether stdout is a terminal that can show a live panel."""
    return console.is_terminal and not console.is_dumb_terminal


@dataclass
class RunProgress:
    """The newest `progress: STEP/TOTAL` of the timed run going on now."""

    what: str  # "baseline", "candidate", "incumbent"
    experiment: int | None
    step: int
    total: int
    elapsed: float  # seconds since the run started, when the line was read
    seen: float  # monotonic time it was read

    def label(self) -> str:
        return self.what if self.experiment is None else f"{self.what} #{self.experiment}"

    def now_elapsed(self) -> float:
        return self.elapsed + (time.monotonic() - self.seen)

    def eta(self) -> float | None:
        """Seconds left at the run's mean pace so far (None before its first step)."""
        if self.step <= 0:
            return None
        left = self.elapsed / self.step * (self.total - self.step)
        return max(0.0, left - (time.monotonic() - self.seen))

    def summary(self) -> str:
        eta = self.eta()
        return (f"{self.step}/{self.total} ({self.step / self.total:.0%}), "
                f"{fmt_seconds(self.now_elapsed())} elapsed"
                + (f", ETA {fmt_seconds(eta)}" if eta is not None else ""))


class Progress:
    """Attach to a campaign's events; prints one line per experiment, under a live status panel
    (`plain=False`) or as plain non-repeating lines (`plain=True`; default: plain unless stdout
    is an interactive terminal)."""

    def __init__(self, campaign: Campaign, budget_seconds: float | None,
                 plain: bool | None = None) -> None:
        self.c = campaign
        self.budget = budget_seconds
        self.plain = (not interactive()) if plain is None else plain
        self.start = time.monotonic()
        self.now = "starting"
        self.done = 0
        self.run: RunProgress | None = None
        # per subject (what, experiment): its newest progress, and (plain mode) the last quarter
        # of its current run printed
        self._runs: dict[tuple[str, int | None], RunProgress] = {}
        self._quarters: dict[tuple[str, int | None], int] = {}
        # read here, on the main thread; the live refresh thread only reads these attributes
        self.best: Experiment | None = (
            campaign.incumbent if campaign.info.baseline_id is not None else None
        )
        self.live: Live | None = None
        if not self.plain:
            self.live = Live(self._status(), console=console, refresh_per_second=2,
                             transient=True, get_renderable=self._status)
        campaign.on_event = self.event

    def __enter__(self) -> Progress:
        if self.live is not None:
            self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)

    def event(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "baseline":
            self._now(f"measuring the baseline ({data['runs']} timed runs)")
        elif kind == "asking":
            self.now = "researcher is proposing"
        elif kind == "running":
            e: Experiment = data["experiment"]
            self.run = None
            self._now(f"#{e.id} vs incumbent #{data['incumbent']}: {changes(e, limit=8)}")
        elif kind == "progress":
            self._progress(data)
        elif kind == "finished":
            self.done += 1
            self.run = None
            e = data["experiment"]
            if e.decision == Decision.KEEP:
                self.best = e
            self._line(e)
        elif kind == "exhausted":
            self._now("researcher has nothing left to try")
        elif kind == "warning":  # e.g. a baseline far slower than the task's calibration
            self._print(f"warning: {data['message']}", style="yellow")

    def _now(self, text: str) -> None:
        self.now = text
        if self.plain:
            self._print(text)

    def _print(self, text: str, style: str = "") -> None:
        """One line: in plain mode never wrapped (newlines in recorded text become ' | ')."""
        if self.plain:
            console.print(Text(" | ".join(plain_text(text).splitlines()), style=style),
                          soft_wrap=True, markup=False, highlight=False)
        else:
            console.print(Text(plain_text(text), style=style))

    def _progress(self, data: dict[str, Any]) -> None:
        run = RunProgress(what=str(data["what"]), experiment=data.get("experiment"),
                          step=int(data["step"]), total=int(data["total"]),
                          elapsed=float(data["elapsed"]), seen=time.monotonic())
        key = (run.what, run.experiment)
        prev = self._runs.get(key)  # the same subject's last line (runs may overlap with workers)
        if prev is None or run.step < prev.step or run.elapsed < prev.elapsed:
            self._quarters[key] = 0  # a new run of that subject
        self._runs[key] = self.run = run
        if self.plain and run.elapsed >= PLAIN_AFTER_SECONDS:
            quarter = run.step * QUARTERS // run.total
            if quarter > self._quarters[key]:
                self._quarters[key] = quarter
                self._print(f"  {run.label()} run: {run.summary()}")

    def _line(self, e: Experiment) -> None:
        kept = "KEEP" if e.decision == Decision.KEEP else "discard"
        sp = "-"
        if e.speedup:
            sp = f"{e.speedup:.2f}x" + (" (not confirmed)" if looks_faster_unconfirmed(e) else "")
        obj = f"{e.objective:.4g}" if e.objective is not None else "-"
        what = changes(e, limit=8)
        head = f"#{e.id:<4} {e.state.value:<11} {kept:<7} obj {obj:<9} speedup {sp:<7}"
        tail = (f" {what} -- " if what else " ") + explain(e)
        if self.plain:
            self._print(head + tail)
            return
        line = Text()
        line.append(f"#{e.id:<4} ")
        line.append(f"{e.state.value:<11}", style=_STATE_STYLE.get(e.state, "white"))
        line.append(f" {kept:<7}", style="bold green" if e.decision == Decision.KEEP else "")
        line.append(f" obj {obj:<9} speedup {sp:<7}")
        line.append(plain_text(f" {what}" if what else ""))
        line.append(plain_text(f"  {explain(e)}"), style="dim")
        console.print(line)  # wrapped at word boundaries, never cut

    def _status(self) -> Table:
        t = Table.grid(padding=(0, 2))
        elapsed = time.monotonic() - self.start
        left = None if self.budget is None else max(0.0, self.budget - elapsed)
        best = "-"
        inc = self.best
        if inc is not None and inc.objective is not None:
            sp = f"{inc.speedup:.2f}x" if inc.speedup else "-"
            best = f"#{inc.id} objective {inc.objective:.4g}, speedup {sp} vs baseline"
        t.add_row("[bold]rubicon[/]",
                  safe(f"{self.c.info.id}  ({self.c.task.name}, {self.c.info.researcher})"))
        t.add_row("done", f"{self.done} experiments in {fmt_seconds(elapsed)}")
        t.add_row("now", Text(plain_text(self.now)))
        run = self.run
        if run is not None:
            line = Table.grid(padding=(0, 1))
            line.add_column(width=BAR_WIDTH, no_wrap=True)
            line.add_column()
            line.add_row(ProgressBar(total=run.total, completed=run.step, width=BAR_WIDTH),
                         Text(f"{run.label()}: {run.summary()}"))
            t.add_row("run", line)
        t.add_row("best", best)
        t.add_row("time left", fmt_seconds(left) if left is not None else "no time budget")
        return t
