"""Candidate output is data: markup, terminal control sequences and HTML in anything a
candidate shapes (its output, hence the reason; the rationale) never break or steer a display.

Red-team (issue 18, class 6): a reason holding `[/dim]` crashed `rubicon run` (MarkupError in
the progress line), `--resume` and `rubicon show`; an ESC in a log tail reached the terminal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

NASTY = "[/dim] [bold red]x[/] \x1b[2J\x1b]52;c;aGk=\x07 <img src=x onerror=alert(1)>"
CRASH = "import sys\nprint(" + repr(NASTY) + ")\nsys.exit(1)\n"


def rubicon(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "rubicon.cli.main", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_markup_and_control_sequences_are_shown_as_text(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps([
        {"edits": [{"file": "solution.py", "search": "", "replace": CRASH}],
         "rationale": "crash loudly " + NASTY},
        {"knobs": {"method": "mergesort", "cutoff": 8}, "rationale": "merge " + NASTY},
    ]))
    runs = tmp_path / "runs"
    done = rubicon(["run", "demo-inversions", "--researcher", "scripted", "-R",
                    f"script={script}", "--budget", "5m", "--baseline-runs", "1",
                    "--dir", str(runs)], tmp_path)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    assert "Traceback" not in done.stderr and "MarkupError" not in done.stderr
    assert "[/dim]" in done.stdout  # shown literally
    for cmd in (["show"], ["show", "2"], ["show", "3"]):
        out = rubicon([*cmd, "--dir", str(runs)], tmp_path)
        assert out.returncode == 0, (cmd, out.stderr[-2000:])
        assert "Traceback" not in out.stderr
        assert "\x1b]52" not in out.stdout and "\x1b[2J" not in out.stdout, cmd
    shown = rubicon(["show", "2", "--dir", str(runs)], tmp_path).stdout
    assert "[/dim]" in shown and "\\x1b" in shown  # the ESC made visible, not sent
    report = rubicon(["report", "--dir", str(runs), "--out", str(tmp_path / "r" / "index.html")],
                     tmp_path)
    assert report.returncode == 0, report.stderr[-2000:]
    html = (tmp_path / "r" / "index.html").read_text()
    assert "<img src=x" not in html and "&lt;img src=x" in html
