"""Telling the user at once when the baseline runs much slower than its calibration.

A task may record `baseline_seconds`: one baseline run's wall time on an idle machine, as
calibrated. When a baseline run is still running at `SLOW_FACTOR` times that, or ends that slow,
the campaign emits a "warning" event whose `message` is complete text for people: how slow,
the likely cause with its figures (the load average, and the other processes' use of the run's
cores as the runner measured it) and what to do.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from rubicon.campaign.scheduler import resume_command
from rubicon.types import RunFacts

SLOW_FACTOR = 2.0  # a baseline run this many times its calibrated time is reported


def _running_cause(threads: int) -> str:
    """The likely cause while the run is still going: other processes when the 1-minute load
    average exceeds what the run itself puts on the machine, else the machine itself."""
    try:
        one = os.getloadavg()[0]
    except OSError:
        return "other processes may share the cores"
    if one <= threads + 0.5:  # the run's own threads, and the harness's little
        return ("the load average is about this run's own, so this machine itself may be slower "
                "than the calibration machine (a slower CPU, a power-saving mode, or a "
                "throttled virtual machine); the run's end will tell")
    return "other processes share the cores"


def _load() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "load average unknown"
    return (f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min) on "
            f"{os.cpu_count() or '?'} cores")


class SlowBaseline:
    """Watches the baseline's runs of one campaign; `warn(message)` gets each warning."""

    def __init__(self, task: str, calibrated: float | None, campaign_id: str, directory: Path,
                 max_foreign_load: float, warn: Callable[[str], None], threads: int = 1) -> None:
        self.task, self.calibrated, self.threads = task, calibrated, threads
        self.campaign_id, self.directory = campaign_id, directory
        self.max_foreign_load = max_foreign_load
        self._warn = warn
        self._timer: threading.Timer | None = None
        self.warned_running = self.warned_done = False

    def _advice(self) -> str:
        return (f"What to do: stop other heavy jobs on this machine, or stop this campaign "
                f"(Ctrl-C) and continue it later with `{resume_command(self.campaign_id, self.directory)}`"
                f" (finished runs are kept; the budget counts what was spent), or give a larger "
                f"--budget; on a machine that is always this busy, --max-foreign-load 2 scores "
                f"loaded runs instead of re-running them (noisier comparisons).")

    def start(self, index: int) -> None:
        """Baseline run `index` (0-based) starts now."""
        if self.calibrated is None or self.warned_running:
            return
        after = SLOW_FACTOR * self.calibrated

        def fire() -> None:
            self.warned_running = True
            self._warn(
                f"slow machine: baseline run {index + 1} of task {self.task} has taken {after:.0f} s"
                f" so far, {SLOW_FACTOR:g}x the {self.calibrated:.0f} s it takes on an idle "
                f"2-core machine (calibrated). Likely cause: {_running_cause(self.threads)}; "
                f"{_load()}. A loaded run is re-run, not scored, so this campaign will need far "
                f"more time than its budget assumes. " + self._advice())

        self._timer = threading.Timer(after, fire)
        self._timer.daemon = True
        self._timer.start()

    def done(self, index: int, facts: RunFacts) -> None:
        """Baseline run `index` ended with `facts`."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.calibrated is None or self.warned_done:
            return
        factor = facts.wall_seconds / self.calibrated
        if factor < SLOW_FACTOR:
            return
        self.warned_done = True
        used = facts.foreign_load
        if used > self.max_foreign_load:
            cause = (f"other processes used {used:.2f} of the run's {len(facts.cores) or '?'} "
                     f"cores during it (measured by the runner; more than max_foreign_load "
                     f"{self.max_foreign_load:g}, so it is re-run); {_load()}")
        else:
            cause = (f"other processes used only {used:.2f} cores during it (measured by the "
                     f"runner), so this machine itself is slower than the calibration machine "
                     f"(a slower CPU, a power-saving mode, or a throttled virtual machine); "
                     f"{_load()}")
        self._warn(
            f"slow machine: baseline run {index + 1} of task {self.task} took "
            f"{facts.wall_seconds:.0f} s, {factor:.1f}x the {self.calibrated:.0f} s it takes on "
            f"an idle 2-core machine (calibrated). Likely cause: {cause}. Every run will take "
            f"about {factor:.1f}x longer than the documented times. " + self._advice())
