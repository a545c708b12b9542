"""A campaign's events: queued under its lock, delivered to the user's callback after it.

A campaign reports progress through one callback, `Campaign.on_event(kind, data)`; the kinds are
"baseline", "asking", "running", "progress" (a timed run's `progress: STEP/TOTAL` line, state.py
`_run_progress`), "finished", "exhausted" and "warning" (`message`: complete text for people,
e.g. a baseline much slower than its calibration: rubicon.campaign.slow; it is also logged). The
callback is never called while the calling thread holds the campaign's lock: `Events.emit` queues
the event, and the thread delivers the queue when it releases the lock for the last time (at once
when it holds none). One thread at a time drains the queue, in the order the events were emitted,
so a callback needs no locking of its own and may call back into the campaign (read its history,
open its store). A callback that raises is logged and recorded in `Events.errors`; the campaign
goes on.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger("rubicon.campaign")

Event = Callable[[str, dict[str, Any]], None]
MAX_ERRORS = 100  # callback failures kept in `Events.errors` (later ones are counted only)


def _ignore(kind: str, data: dict[str, Any]) -> None:
    """The callback of a campaign nobody listens to."""


class CampaignLock:
    """The campaign's re-entrant lock and the condition its threads wait on.

    When a thread releases it for the last time (its outermost `with`), `on_release` runs in
    that thread, outside the lock: the campaign delivers the events queued meanwhile.
    """

    def __init__(self, on_release: Callable[[], None]) -> None:
        self._rlock = threading.RLock()
        self._cond = threading.Condition(self._rlock)
        self._depth = threading.local()
        self._on_release = on_release

    def depth(self) -> int:
        """How many times the calling thread holds the lock (0: it does not)."""
        n: int = getattr(self._depth, "n", 0)
        return n

    def held(self) -> bool:
        return self.depth() > 0

    def __enter__(self) -> CampaignLock:
        self._rlock.acquire()
        self._depth.n = self.depth() + 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth.n -= 1
        last = self._depth.n == 0
        self._rlock.release()
        if last:
            self._on_release()

    def wait(self, timeout: float) -> None:
        """Release the lock until notified or `timeout` seconds passed (the caller holds it)."""
        self._cond.wait(timeout)

    def notify_all(self) -> None:
        self._cond.notify_all()


class Events:
    """The event queue of one campaign and its delivery to `callback`."""

    def __init__(self) -> None:
        self.callback: Event = _ignore
        self.errors: list[str] = []  # "kind: ExceptionType: message" of callbacks that raised
        self.failures = 0  # every callback that raised, also past MAX_ERRORS
        self.lock = CampaignLock(self.deliver)
        self._queue: deque[tuple[str, dict[str, Any]]] = deque()
        self._guard = threading.Lock()  # guards the queue and `_delivering` only
        self._delivering = False

    def emit(self, kind: str, data: dict[str, Any]) -> None:
        """Queue an event; deliver it now unless this thread holds the campaign's lock (then it
        is delivered when the lock is released)."""
        with self._guard:
            self._queue.append((kind, data))
        if not self.lock.held():
            self.deliver()

    def deliver(self) -> None:
        """Deliver queued events in order, unless another thread (or an outer frame of this
        one: a callback that emits) is delivering already; that one delivers them too."""
        with self._guard:
            if self._delivering:
                return
            self._delivering = True
        try:
            while True:
                with self._guard:
                    if not self._queue:
                        self._delivering = False
                        return
                    kind, data = self._queue.popleft()
                self._call(kind, data)
        except BaseException:  # KeyboardInterrupt in a callback: the next emit delivers the rest
            with self._guard:
                self._delivering = False
            raise

    def _call(self, kind: str, data: dict[str, Any]) -> None:
        try:
            self.callback(kind, data)
        except Exception as e:  # noqa: BLE001 - a listener's bug must not stop the campaign
            self.failures += 1
            if len(self.errors) < MAX_ERRORS:
                self.errors.append(f"{kind}: {type(e).__name__}: {e}")
            if self.failures == 1:
                log.warning("the campaign's on_event callback raised on a %r event; the campaign "
                            "goes on (later failures are logged at debug level)", kind,
                            exc_info=True)
            else:
                log.debug("on_event callback raised on a %r event", kind, exc_info=True)
