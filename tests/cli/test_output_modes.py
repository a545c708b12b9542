"""`rubicon run` as a user meets it through a pipe (`| tee log`) and in a terminal (a pty):
plain non-repeating lines without escape codes in the first, the live panel in the second."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

ANSI = re.compile(r"\x1b\[")


def demo_args(tmp_path: Path) -> list[str]:
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"knobs": {"method": "mergesort"}, "rationale": "merge count"}]))
    return [sys.executable, "-m", "rubicon.cli.main", "run", "demo-inversions", "--researcher",
            "scripted", "-R", f"script={script}", "--budget", "90s", "--max-pairs", "2",
            "--dir", str(tmp_path / "runs")]


def env(**extra: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "TERM")}
    return {**out, "RUBICON_MAX_FOREIGN_LOAD": "1e9", **extra}


def test_through_a_pipe_every_line_is_plain_and_printed_once(tmp_path: Path) -> None:
    r = subprocess.run(demo_args(tmp_path), env=env(TERM="xterm-256color"), capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not ANSI.search(r.stdout), r.stdout
    lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
    assert len(lines) == len(set(lines)), r.stdout  # no re-rendered panel
    assert len(lines) < 15, r.stdout
    assert "measuring the baseline (2 timed runs)" in r.stdout
    assert any(ln.startswith("#2 vs incumbent #1: merge count") for ln in lines), r.stdout
    # one line per experiment with its whole verdict, never wrapped at 80 columns
    done = [ln for ln in lines if ln.startswith("#2 ") and " ok " in ln]
    # confirmed over pairs, or at the quick look against the baseline's recorded runs
    assert len(done) == 1 and "merge count" in done[0], r.stdout
    assert "pairs" in done[0] or "baseline's 2 recorded runs" in done[0], r.stdout
    assert "time left" not in r.stdout  # no panel


def read_pty(proc: subprocess.Popen[bytes], fd: int, timeout: float) -> bytes:
    out = b""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    return out


def test_in_a_terminal_the_live_panel_is_drawn(tmp_path: Path) -> None:
    master, slave = pty.openpty()
    proc = subprocess.Popen(demo_args(tmp_path), stdin=slave, stdout=slave, stderr=slave,
                            env=env(TERM="xterm-256color", COLUMNS="120", LINES="40"),
                            close_fds=True)
    os.close(slave)
    try:
        out = read_pty(proc, master, 300).decode("utf-8", "replace")
        assert proc.wait(timeout=60) == 0, out
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    assert ANSI.search(out), out  # styled, with cursor control
    for row in ("time left", "done", "best"):  # the panel's rows
        assert row in out, out
    assert "finished" in out and "merge count" in out


def test_plain_flag_forces_plain_output_on_a_terminal(tmp_path: Path) -> None:
    master, slave = pty.openpty()  # the baseline only: enough to see the output mode
    proc = subprocess.Popen([*demo_args(tmp_path), "--max-experiments", "0", "--plain"],
                            stdin=slave, stdout=slave, stderr=slave,
                            env=env(TERM="xterm-256color", COLUMNS="120"), close_fds=True)
    os.close(slave)
    try:
        out = read_pty(proc, master, 200).decode("utf-8", "replace")
        proc.wait(timeout=60)
    finally:
        os.close(master)
    assert not ANSI.search(out), out
    assert "time left" not in out and "measuring the baseline" in out


def fake_campaign() -> Any:
    info = SimpleNamespace(id="c1", researcher="search", baseline_id=None)
    return SimpleNamespace(info=info, task=SimpleNamespace(name="demo"), on_event=None)


def test_panel_draws_the_run_progress_bar_with_elapsed_and_eta(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    from rubicon.cli import _progress

    p = _progress.Progress(fake_campaign(), 600, plain=False)
    p.event("progress", {"what": "candidate", "experiment": 7, "step": 30, "total": 120,
                         "elapsed": 15.0})
    out = Console(file=io.StringIO(), width=100, force_terminal=True, color_system=None)
    out.print(p._status())
    text = out.file.getvalue()  # type: ignore[attr-defined]
    assert "candidate #7: 30/120 (25%), 15.0s elapsed, ETA 45.0s" in text, text
    assert "━" in text  # the bar


def test_plain_progress_is_a_line_per_quarter_of_long_runs_only(
        capsys: pytest.CaptureFixture[str]) -> None:
    from rubicon.cli import _progress

    p = _progress.Progress(fake_campaign(), None, plain=True)
    for step, elapsed in ((1, 2.0), (2, 4.0), (3, 6.0), (4, 8.0)):  # a short run: no lines
        p.event("progress", {"what": "baseline", "experiment": None, "step": step, "total": 4,
                             "elapsed": elapsed})
    for step in range(1, 41):  # a long run, reported every step: 4 lines
        p.event("progress", {"what": "incumbent", "experiment": 1, "step": step, "total": 40,
                             "elapsed": 10.0 + step})
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split(":")[0].strip() for ln in lines] == ["incumbent #1 run"] * 4, lines
    assert "40/40 (100%)" in lines[-1]


def test_plain_progress_of_overlapping_runs_is_not_repeated(
        capsys: pytest.CaptureFixture[str]) -> None:
    from rubicon.cli import _progress

    p = _progress.Progress(fake_campaign(), None, plain=True)
    for step in range(1, 21):  # two workers' runs, their lines interleaved
        for what, eid in (("candidate", 5), ("incumbent", 1)):
            p.event("progress", {"what": what, "experiment": eid, "step": step, "total": 20,
                                 "elapsed": 10.0 + step})
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(set(lines)) == 8, lines


def test_a_campaign_warning_is_printed_in_full(capsys: pytest.CaptureFixture[str]) -> None:
    from rubicon.cli import _progress

    p = _progress.Progress(fake_campaign(), None, plain=True)
    msg = "the baseline took 700 s, 3.2x its calibration (220 s); load average 9.1: " + "x" * 150
    p.event("warning", {"message": msg})
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and f"warning: {msg}" in out
