"""`rubicon doctor` and a failing baseline name the real cause of a sandbox that does not work
(issue 18, class 8: a virtualenv under /tmp made every run fail with "bwrap: execvp ...", and
doctor said "network blocked FAIL" and "own pid namespace warn" instead)."""

from __future__ import annotations

import resource
from collections.abc import Callable
from pathlib import Path

import pytest

import rubicon.runner._diagnose as diag
from rubicon.campaign import Campaign, CampaignConfig
from rubicon.errors import RubiconError
from rubicon.researcher.scripted import ScriptedResearcher
from rubicon.runner import SandboxSpec, detect_backend, run_sandboxed
from rubicon.runner.sandbox import MAX_OPEN_FILES
from rubicon.task import Task, load_task
from rubicon.types import KillReason, RunFacts

EXECVP = "bwrap: execvp /tmp/venv/bin/python3: No such file or directory\n"


def facts(**kw: object) -> RunFacts:
    base: dict[str, object] = {"exit_code": 0, "wall_seconds": 0.1, "cpu_seconds": 0.05,
                               "peak_memory_mb": 10.0, "foreign_load": 0.0, "sandbox": "bwrap"}
    return RunFacts(**{**base, **kw})  # type: ignore[arg-type]


def test_a_sandbox_that_cannot_exec_python_is_named() -> None:
    row = diag.python_row(facts(exit_code=1, output_tail=EXECVP))
    assert row[1] == "FAIL"
    assert "bwrap sandbox failed before the command ran: bwrap: execvp" in row[2]
    assert "not visible inside the sandbox" in row[2]
    start = facts(exit_code=None, kill_reason=KillReason.START_FAILED,
                  killed_reason="could not start: the program /opt/py is outside what ...")
    assert diag.python_row(start) == (
        "python in the sandbox", "FAIL",
        f"{diag.sys.executable} does not start: could not start: the program /opt/py is "
        "outside what ...")
    assert diag.python_row(facts(output_tail="alive\n"))[1] == "ok"


def test_a_candidates_own_crash_is_not_the_environment() -> None:
    assert diag.environment_problem(facts(exit_code=1, output_tail="Traceback ...\nKeyError\n")) == ""
    # a program's own line that looks like bwrap's, but not as the sandbox's first word
    assert diag.environment_problem(facts(exit_code=1, output_tail="ok\nbwrap: x\n")) == ""


def test_checks_that_depend_on_python_are_skipped_not_failed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(spec: SandboxSpec, backend: str | None = None) -> RunFacts:
        return facts(exit_code=1, output_tail=EXECVP)

    monkeypatch.setattr(diag, "run_sandboxed", broken)
    rows = {name: (status, detail) for name, status, detail in diag.sandbox_rows()}
    assert rows["python in the sandbox"][0] == "FAIL"
    for name in ("network blocked", "own pid namespace", "memory limit"):
        assert rows[name] == ("skip", "not checked: python does not start in the sandbox "
                                      "(see above)")


def test_user_namespace_settings_are_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    knob = tmp_path / "max_user_namespaces"
    knob.write_text("0\n")
    monkeypatch.setattr(diag, "_USERNS_KNOBS", ((str(knob), "0", "user namespaces are off"),))
    assert diag.userns_problem() == "user namespaces are off"
    knob.write_text("15000\n")
    assert diag.userns_problem() == ""


def test_weaker_backends_are_loud_about_what_they_cannot_hide(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUBICON_SANDBOX", "unshare")
    rows = diag.backend_rows("unshare")
    assert rows[1][1] == "FAIL" and "can read every file the harness can" in rows[1][2]
    assert "forced by RUBICON_SANDBOX=unshare" in rows[0][2]
    assert diag.backend_rows("none")[0][1] == "FAIL"


@pytest.mark.skipif(detect_backend() != "bwrap", reason="needs the bwrap sandbox backend")
def test_a_baseline_failing_for_the_machine_says_so(
        make_task: Callable[..., Task], tmp_path: Path) -> None:
    """A program outside what the sandbox shows: the baseline's error names the cause."""
    task = make_task()
    toml = task.dir / "task.toml"
    toml.write_text(toml.read_text().replace('command = ["python", "run.py"]',
                                             'command = ["/opt/no-such-python/bin/python", "run.py"]'))
    task = load_task(task.dir)
    c = Campaign.create(task, "scripted", directory=tmp_path / "runs",
                        researcher_obj=ScriptedResearcher([]), cfg=CampaignConfig(baseline_runs=1))
    with pytest.raises(RubiconError) as err:
        c.ensure_baseline()
    text = str(err.value)
    assert "this is the machine, not the task: could not start: the program " \
           "/opt/no-such-python/bin/python is outside what the sandbox shows" in text
    assert "rubicon doctor" in text


def test_open_files_are_bounded_inside(tmp_path: Path) -> None:
    """RLIMIT_NOFILE bounds what one process can hold in deleted files between two polls."""
    ws = tmp_path / "ws"
    ws.mkdir()
    f = run_sandboxed(SandboxSpec(
        argv=["python", "-c", "import resource as r; print('nofile', r.getrlimit(r.RLIMIT_NOFILE))"],
        cwd=ws, log_path=tmp_path / "log"))
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    n = MAX_OPEN_FILES if hard == resource.RLIM_INFINITY else min(MAX_OPEN_FILES, hard)
    assert f"nofile ({n}, {n})" in f.output_tail
