"""The command line as a user meets it: real subprocesses, no tracebacks for user errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def rubicon(*args: str, cwd: Path, env: dict[str, str] | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "COLUMNS": "200", "RUBICON_MAX_FOREIGN_LOAD": "1e9", **(env or {})}
    return subprocess.run([sys.executable, "-m", "rubicon.cli.main", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def test_run_show_export_on_demo(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"knobs": {"method": "mergesort"}, "rationale": "merge count"}]))
    r = rubicon("run", "demo-inversions", "--researcher", "scripted", "-R", f"script={script}",
                "--budget", "2m", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "best: experiment #2" in r.stdout and "vs baseline" in r.stdout
    assert (tmp_path / "rubicon-runs" / "rubicon.db").exists()
    r = rubicon("show", "2", cwd=tmp_path)
    assert r.returncode == 0
    for text in ("verdict: ok, keep", "diff against parent", '"method": "mergesort"', "timed runs"):
        assert text in r.stdout
    r = rubicon("show", cwd=tmp_path)
    assert "merge count" in r.stdout and "incumbent: #2" in r.stdout
    r = rubicon("export", "2", str(tmp_path / "out"), cwd=tmp_path)
    assert r.returncode == 0 and (tmp_path / "out" / "solution.py").exists()
    # resume of a finished campaign with nothing left to try ends cleanly
    r = rubicon("run", "--resume", cwd=tmp_path)
    assert r.returncode == 0 and "resuming campaign" in r.stdout


def test_ask_then_tell(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    r = rubicon("ask", "demo-inversions", "--workspace", str(ws), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert str(ws) in r.stdout and "count_inversions" in r.stdout  # path and instructions
    knobs = ws / "knobs.json"
    knobs.write_text(knobs.read_text().replace('"naive"', '"mergesort"'))
    r = rubicon("tell", "--rationale", "use mergesort", cwd=tmp_path)
    assert "ok, keep" in r.stdout or "ok, discard" in r.stdout, r.stdout + r.stderr
    r = rubicon("tell", cwd=tmp_path)
    assert r.returncode == 2 and "no experiment waiting" in r.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "no-such-task"], "unknown task 'no-such-task'"),
        (["run", "demo-inversions", "--researcher", "oracle"], "unknown researcher 'oracle'"),
        (["run", "demo-inversions", "--researcher", "scripted", "-R", "nokv"], "expected KEY=VALUE"),
        (["show", "3"], "no rubicon store"),
        (["run", "--budget", "soon"], "is not a duration"),
    ],
)
def test_user_errors_are_messages_not_tracebacks(tmp_path: Path, args: list[str], message: str) -> None:
    r = rubicon(*args, cwd=tmp_path)
    assert r.returncode == 2
    assert message in r.stderr
    assert "Traceback" not in r.stderr


def test_broken_task_toml_message(tmp_path: Path) -> None:
    d = tmp_path / "mytask"
    (d / "workspace").mkdir(parents=True)
    (d / "task.toml").write_text('name = "x"\neditable = ["a.py"]\n[run]\ncommand = "python a.py"\n')
    r = rubicon("run", str(d), "--researcher", "scripted", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "key 'run.command'" in r.stderr and "found 'python a.py'" in r.stderr


def test_env_twin_of_a_flag(tmp_path: Path) -> None:
    r = rubicon("show", cwd=tmp_path, env={"RUBICON_DIR": str(tmp_path / "elsewhere")})
    assert "elsewhere" in r.stderr


def test_tasks_researchers_doctor(tmp_path: Path) -> None:
    r = rubicon("tasks", cwd=tmp_path)
    assert "demo-inversions" in r.stdout
    r = rubicon("researchers", cwd=tmp_path)
    assert "scripted" in r.stdout and "search" in r.stdout
    r = rubicon("doctor", cwd=tmp_path)
    assert r.returncode == 0, r.stdout
    assert "network blocked" in r.stdout and "bwrap" in r.stdout
