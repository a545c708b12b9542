"""Notification hooks of a lineage (docs/LINEAGE.md, "Notification hooks").

`notify(policy, event, payload)` sends one event to the policy's command (argv, the event JSON on
stdin, RUBICON_EVENT in its environment) and/or URL (HTTP POST, Content-Type application/json).
It never raises: a hook that fails, hangs past its timeout or is missing yields a one-line
problem in the returned list, for the caller to record in the audit log. The lineage goes on.

The event JSON is the payload with two keys set by rubicon: `event` (proposal, promotion,
rejection, halt, approval-needed) and `time` (unix seconds); NaN and infinities become null,
objects JSON cannot spell (paths, ...) their str().
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from typing import Any

from rubicon.lineage.policy import EVENTS, NotifyPolicy, Policy

_TAIL = 300  # characters of a failing hook's output kept in the problem line


def event_body(event: str, payload: dict[str, Any]) -> bytes:
    """The bytes every hook receives for this event."""
    doc = {**payload, "event": event, "time": time.time()}
    return json.dumps(_finite(doc), sort_keys=True, default=str, allow_nan=False).encode()


def _finite(x: Any) -> Any:
    """NaN and infinities become null (JSON has no spelling for them)."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_finite(v) for v in x]
    return x


def notify(policy: Policy, event: str, payload: dict[str, Any]) -> list[str]:
    """Fire the hooks the policy configures for `event`; the problems met (empty when all went
    well or no hook is configured for it)."""
    hooks = policy.notify
    if event not in EVENTS:
        return [f"notify: unknown event {event!r} (allowed: {', '.join(EVENTS)}); nothing sent"]
    if event not in hooks.events or (hooks.command is None and hooks.url is None):
        return []
    try:
        body = event_body(event, payload)
    except (TypeError, ValueError, RecursionError) as e:
        return [f"notify {event}: payload is not JSON ({e}); nothing sent"]
    problems = []
    if hooks.command is not None:
        problems += _run_command(hooks, event, body)
    if hooks.url is not None:
        problems += _post(hooks, event, body)
    return problems


def _run_command(hooks: NotifyPolicy, event: str, body: bytes) -> list[str]:
    argv = hooks.command or []
    what = f"notify {event}: command {argv[0]!r}"
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                env={**os.environ, "RUBICON_EVENT": event})
    except OSError as e:
        return [f"{what} could not start ({e.__class__.__name__}: {e})"]
    try:
        out, _ = proc.communicate(body, timeout=hooks.timeout_seconds)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        return [f"{what} timed out after {hooks.timeout_seconds:g} s (killed)"]
    except OSError as e:  # e.g. the command closed stdin early and the write failed
        _kill_group(proc)
        return [f"{what} failed while reading the event ({e.__class__.__name__}: {e})"]
    if proc.returncode != 0:
        tail = out.decode(errors="replace").strip()[-_TAIL:]
        return [f"{what} exited with status {proc.returncode}" + (f": {tail}" if tail else "")]
    return []


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired, OSError):
        proc.communicate(timeout=5)


def _post(hooks: NotifyPolicy, event: str, body: bytes) -> list[str]:
    url = hooks.url or ""
    what = f"notify {event}: POST {url}"
    req = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "rubicon-lineage",
        "X-Rubicon-Event": event})
    try:
        with urllib.request.urlopen(req, timeout=hooks.timeout_seconds) as resp:
            status = int(resp.status)
    except urllib.error.HTTPError as e:
        return [f"{what} answered HTTP {e.code} {e.reason}"]
    except urllib.error.URLError as e:
        return [f"{what} failed ({e.reason})"]
    except TimeoutError:
        return [f"{what} timed out after {hooks.timeout_seconds:g} s"]
    except Exception as e:  # noqa: BLE001 - a hook must never stop the lineage
        return [f"{what} failed ({e.__class__.__name__}: {e})"]
    if not 200 <= status < 300:
        return [f"{what} answered HTTP {status}"]
    return []
