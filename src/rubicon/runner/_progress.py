"""Progress lines of a running program: `progress: STEP/TOTAL` on its output (docs/TASKS.md).

A task's program may print lines of that form (flushed) while it works; `LogProgress` follows
the run's log file from a thread and reports the newest (step, total) to a callback, at most
once per poll and only when it changed. What a candidate prints is untrusted: only whole lines
of exactly that form count, numbers are bounded, and a flood of output is skipped (only the
newest `READ_BYTES` of each poll are read).
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

PROGRESS_LINE = re.compile(rb"^progress:[ \t]*(\d{1,9})[ \t]*/[ \t]*(\d{1,9})[ \t]*\r?$", re.M)
READ_BYTES = 64 * 1024  # at most this much of the log per poll (the newest bytes)
POLL_SECONDS = 0.5

# (step, total, seconds since the run started)
StepCallback = Callable[[int, int, float], None]


def last_progress(text: bytes) -> tuple[int, int] | None:
    """The last well-formed `progress: STEP/TOTAL` line of `text` (0 <= STEP, 0 < TOTAL), with
    STEP capped at TOTAL; None when there is none."""
    found = None
    for m in PROGRESS_LINE.finditer(text):
        step, total = int(m.group(1)), int(m.group(2))
        if total > 0:
            found = (min(step, total), total)
    return found


class LogProgress:
    """Follow `log` from a daemon thread while a run writes it (a context manager)."""

    def __init__(self, log: Path, callback: StepCallback, poll: float = POLL_SECONDS) -> None:
        self.log = log
        self.callback = callback
        self.poll = poll
        self.last: tuple[int, int] | None = None
        self._offset = 0
        self._partial = b""
        self._stop = threading.Event()
        self._start = time.monotonic()
        self._thread = threading.Thread(target=self._follow, name="rubicon-progress", daemon=True)

    def __enter__(self) -> LogProgress:
        self._start = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self.check()  # the lines written since the last poll (the run's last step)

    def _follow(self) -> None:
        while not self._stop.wait(self.poll):
            self.check()

    def check(self) -> None:
        """Read what the run wrote since the last check; report a changed progress."""
        try:
            with open(self.log, "rb") as f:
                size = f.seek(0, 2)
                if size < self._offset:  # truncated: start again
                    self._offset, self._partial = 0, b""
                start = max(self._offset, size - READ_BYTES)
                if start > self._offset:
                    self._partial = b""  # skipped a flood: the partial line is gone
                f.seek(start)
                chunk = f.read(size - start)
        except OSError:
            return
        self._offset = start + len(chunk)
        text = self._partial + chunk
        cut = text.rfind(b"\n") + 1
        self._partial = text[cut:][-1024:]
        found = last_progress(text[:cut])
        if found is not None and found != self.last:
            self.last = found
            # a listener's failure never touches the run
            with contextlib.suppress(Exception):
                self.callback(found[0], found[1], time.monotonic() - self._start)
