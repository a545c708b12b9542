"""Notification hooks: a command given the event JSON on stdin, and a POST to a local server;
failing, hanging and missing hooks yield problems, never exceptions."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from rubicon.lineage.notify import notify
from rubicon.lineage.policy import NotifyPolicy, Policy


class Hook:
    """A local HTTP server recording POSTed JSON; answers `status`."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.status = 200
        self.delay = 0.0
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.received.append((dict(self.headers), json.loads(body)))
                time.sleep(hook.delay)
                self.send_response(hook.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hook]:
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    h = Hook()
    yield h
    h.server.shutdown()
    h.server.server_close()


def policy(**notify_fields: Any) -> Policy:
    return Policy(notify=NotifyPolicy(**notify_fields))


def recorder(tmp_path: Path, exit_code: int = 0, sleep: float = 0.0) -> list[str]:
    script = tmp_path / "hook.py"
    script.write_text(
        "import os, sys, time\n"
        f"time.sleep({sleep})\n"
        "data = sys.stdin.read()\n"
        f"open({str(tmp_path / 'got.jsonl')!r}, 'a').write(os.environ['RUBICON_EVENT'] + ' ' + data + '\\n')\n"
        "print('hook says hi')\n"
        f"sys.exit({exit_code})\n")
    return [sys.executable, str(script)]


def test_post_sends_the_event_json(hook: Hook) -> None:
    p = policy(url=hook.url)
    assert notify(p, "promotion", {"lineage": "L", "generation": 3, "gain": 0.1}) == []
    headers, body = hook.received[0]
    assert body["event"] == "promotion" and body["generation"] == 3 and body["gain"] == 0.1
    assert abs(body["time"] - time.time()) < 60
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Rubicon-Event"] == "promotion"


def test_post_failures_are_problems(hook: Hook) -> None:
    hook.status = 500
    probs = notify(policy(url=hook.url), "halt", {})
    assert len(probs) == 1 and "HTTP 500" in probs[0] and hook.url in probs[0]
    hook.status, hook.delay = 200, 2.0
    probs = notify(policy(url=hook.url, timeout_seconds=0.3), "halt", {})
    assert len(probs) == 1 and "timed out" in probs[0]
    hook.delay = 0.0
    closed = hook.url.replace(str(hook.server.server_address[1]), "9")  # discard port: refused
    probs = notify(policy(url=closed), "halt", {})
    assert len(probs) == 1 and "failed" in probs[0]


def test_command_gets_the_event_on_stdin(tmp_path: Path) -> None:
    p = policy(command=recorder(tmp_path))
    assert notify(p, "approval-needed", {"generation": 2, "why": "policy"}) == []
    event, data = (tmp_path / "got.jsonl").read_text().strip().split(" ", 1)
    assert event == "approval-needed"
    assert json.loads(data)["why"] == "policy"


def test_command_failures_are_problems(tmp_path: Path) -> None:
    probs = notify(policy(command=recorder(tmp_path, exit_code=3)), "rejection", {})
    assert len(probs) == 1 and "exited with status 3" in probs[0] and "hook says hi" in probs[0]
    t0 = time.monotonic()
    probs = notify(policy(command=recorder(tmp_path, sleep=30), timeout_seconds=0.5), "halt", {})
    assert len(probs) == 1 and "timed out after 0.5 s" in probs[0]
    assert time.monotonic() - t0 < 10
    probs = notify(policy(command=[str(tmp_path / "missing")]), "halt", {})
    assert len(probs) == 1 and "could not start" in probs[0]


def test_both_hooks_fire_and_events_filter(tmp_path: Path, hook: Hook) -> None:
    p = policy(command=recorder(tmp_path), url=hook.url, events=["halt"])
    assert notify(p, "proposal", {"x": 1}) == []  # not a configured event: nothing fires
    assert not hook.received and not (tmp_path / "got.jsonl").exists()
    assert notify(p, "halt", {"x": 1}) == []
    assert len(hook.received) == 1 and (tmp_path / "got.jsonl").exists()


def test_bad_event_or_payload_never_raises(hook: Hook) -> None:
    p = policy(url=hook.url)
    assert "unknown event 'promote'" in notify(p, "promote", {})[0]
    loop: dict[str, Any] = {}
    loop["self"] = loop
    assert "not JSON" in notify(p, "halt", {"x": loop})[0]
    assert not hook.received
    assert notify(p, "halt", {"gain": float("nan"), "dir": Path("/x")}) == []
    assert hook.received[0][1]["gain"] is None and hook.received[0][1]["dir"] == "/x"
    assert notify(Policy(), "halt", {"x": 1}) == []  # no hook configured
    assert len(hook.received) == 1
