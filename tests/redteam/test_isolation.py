"""Red-team: what a run can see of the host (the minimal root, class 7 of issue 18), the
interpreter wherever it lives (class 8), and an outside agent's workspace read as data only --
never a symlink or a special file followed (class 6, the harness side)."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

import rubicon
from rubicon.task import Task

from ._helpers import FAST_COUNT, local_executor

REPO = Path(__file__).resolve().parents[2]
# what the minimal root may show at its top (rubicon.runner._root), plus the directories bwrap
# creates as mount points for the interpreter, the workspace and the inputs
SYSTEM_TOP = {"usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "nix", "etc", "sys", "dev",
              "proc", "tmp"}


def files(task: Task, code: str) -> dict[str, str]:
    return {**task.editable_files(), "solution.py": code}


def _mount_tops(*paths: Path) -> set[str]:
    return {p.parts[1] for p in paths if len(p.parts) > 1}


def test_home_and_other_checkouts_are_not_readable(
        demo_copy: Callable[..., Task], outside_tmp: Path) -> None:
    """A secret in the harness user's home, a checkout-like directory (its .git, an evaluator, a
    store) elsewhere on the host, this very checkout, and /etc/shadow: none is visible to a run.
    Defence: the minimal root (only system dirs, a few /etc files, the interpreter's own
    directories, the workspace and declared inputs), rubicon.runner._root."""
    home = Path(tempfile.mkdtemp(prefix=".rubicon-rt-", dir=Path.home()))
    checkout = outside_tmp / "other-checkout"
    try:
        (home / "credentials").write_text("HOME-SECRET")
        (checkout / ".git").mkdir(parents=True)
        (checkout / ".git" / "config").write_text("[remote] CHECKOUT-SECRET-GIT")
        (checkout / "evaluator").mkdir()
        (checkout / "evaluator" / "check.py").write_text("CHECKOUT-SECRET-EVAL")
        targets = [home / "credentials", checkout / ".git" / "config",
                   checkout / "evaluator" / "check.py", REPO / "README.md",
                   REPO / "src" / "rubicon" / "campaign.py", Path("/etc/shadow")]
        task = demo_copy()
        runner = local_executor(task, outside_tmp / "runs")
        t = runner.run(files(task, FAST_COUNT + f'''
import os
for path in {[str(p) for p in targets]!r}:
    try:
        print("LEAKED", path, open(path).read()[:60])
    except OSError as e:
        print("hidden", path, type(e).__name__)
print("TOP", sorted(os.listdir("/")))
print("HOME", os.path.exists({str(home)!r}), os.path.exists({str(REPO)!r}))
'''))
    finally:
        shutil.rmtree(home, ignore_errors=True)
    out = t.facts.output_tail
    assert "TOP" in out, out[-500:]  # the probe ran to the end
    assert "LEAKED" not in out and "SECRET" not in out, out[-800:]
    assert out.count("hidden ") == len(targets)
    assert "HOME False False" in out
    top = ast.literal_eval(out.split("TOP ", 1)[1].splitlines()[0])
    from rubicon.runner._root import interpreter_paths

    allowed = SYSTEM_TOP | _mount_tops(*interpreter_paths(), runner.work)
    assert set(top) <= allowed, set(top) - allowed


def test_a_virtualenv_under_tmp_runs_a_trial(tmp_path: Path, outside_tmp: Path) -> None:
    """The harness runs from a virtualenv under /tmp, which is a private tmpfs in the sandbox:
    every run failed with "bwrap: execvp .../python3: No such file". Defence: the interpreter's
    directories (sys.prefix, base_prefix, site-packages, ...) are bound wherever they live, after
    the private /tmp is made (rubicon.runner._root.interpreter_args).

    rubicon is installed into the venv's site-packages (as `pip install` would), so its
    built-in tasks -- evaluators, a reference solution -- lie inside a directory the run must
    see; the candidate tries to read them and to write there. Defence: the hidden paths (the
    built-in tasks among them) are still hidden, read-only, where they lie under a visible
    path."""
    venv = tmp_path / "venv"
    assert str(venv).startswith("/tmp/")
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip",
                    str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    where = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site = Path(subprocess.run([str(py), "-c", where], capture_output=True, text=True,
                               check=True).stdout.strip())
    shutil.copytree(Path(rubicon.__file__).parent, site / "rubicon",  # the code under test
                    ignore=shutil.ignore_patterns("__pycache__"))
    builtin = site / "rubicon" / "task" / "builtin"
    secrets = [builtin / "lm-speedrun" / "reference", builtin / "demo-inversions" / "evaluator"]
    probe = FAST_COUNT + f'''
import os
for d in {[str(p) for p in secrets]!r}:
    try:
        print("LEAKED" if os.listdir(d) else "hidden", d)
    except OSError:
        print("hidden", d)
try:
    open({str(builtin / "planted.py")!r}, "w").write("x")  # a throwaway tmpfs would take it
    print("WROTE into the hidden dir")
except OSError as e:
    print("read-only", e.strerror)
'''
    script = f'''
import sys
from pathlib import Path
import rubicon
assert sys.prefix == {str(venv)!r}, sys.prefix
assert rubicon.__file__.startswith({str(site)!r}), rubicon.__file__
from rubicon.measure.judge import TrialJudge
from rubicon.runner.trial import LocalExecutor
from rubicon.task import load_task
task = load_task(Path({str(outside_tmp / "task")!r}))
runner = LocalExecutor(task, Path({str(outside_tmp / "runs")!r}), TrialJudge.for_task(task))
t = runner.run({{**task.editable_files(), "solution.py": {probe!r}}})
print("STATE", t.state.value, t.reason)
print("TAIL", t.facts.output_tail[-600:])
'''
    from ._helpers import DEMO_DIR

    shutil.copytree(DEMO_DIR, outside_tmp / "task", ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([str(py), "-c", script], capture_output=True, text=True, env=env,
                       timeout=600, cwd=outside_tmp)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "STATE ok" in r.stdout, r.stdout[-2000:]
    assert "LEAKED" not in r.stdout and r.stdout.count("hidden ") == 2, r.stdout[-2000:]
    assert "read-only Read-only file system" in r.stdout, r.stdout[-2000:]


# ------------------------------------------------------------------------------------------------
# `rubicon tell`: the workspace an outside agent left is data, never a path to follow


def _rubicon(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "RUBICON_MAX_FOREIGN_LOAD": "1e9"}
    return subprocess.run([sys.executable, "-m", "rubicon.cli.main", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def asked(demo_copy: Callable[..., Task], outside_tmp: Path) -> Callable[[], tuple[Task, Path]]:
    """`rubicon ask` on a demo copy: returns the task and a fresh workspace each call."""
    task = demo_copy()

    def ask() -> tuple[Task, Path]:
        ws = outside_tmp / f"ws-{uuid.uuid4().hex[:6]}"
        r = _rubicon("ask", str(task.dir), "--dir", str(outside_tmp / "runs"),
                     "--workspace", str(ws), cwd=outside_tmp)
        assert r.returncode == 0, r.stdout[-1000:] + r.stderr[-1000:]
        assert (ws / "solution.py").is_file()
        return task, ws

    return ask


def test_tell_refuses_a_symlink_to_a_hidden_file(
        asked: Callable[[], tuple[Task, Path]], outside_tmp: Path) -> None:
    """The agent replaces the editable solution.py by a symlink to the task's evaluator (hidden
    from every run): `tell` read it, stored it as the candidate's code and printed it. Defence:
    rubicon.workspace.scan_workspace opens nothing through a symlink; the experiment is invalid
    with the reason, and the target's text is nowhere."""
    task, ws = asked()
    secret = task.dir / "evaluator" / "check.py"
    (ws / "solution.py").unlink()
    (ws / "solution.py").symlink_to(secret)
    r = _rubicon("tell", "--dir", str(outside_tmp / "runs"), cwd=outside_tmp)
    assert r.returncode == 1, r.stdout[-1000:] + r.stderr[-1000:]
    assert "invalid" in r.stdout and "'solution.py' is a symbolic link" in r.stdout, r.stdout
    first_line = secret.read_text().splitlines()[0]
    store = (outside_tmp / "runs" / "rubicon.db").read_bytes()
    assert first_line.encode() not in store and first_line not in r.stdout


def test_tell_refuses_a_fifo_without_hanging(
        asked: Callable[[], tuple[Task, Path]], outside_tmp: Path) -> None:
    """The agent leaves a fifo as solution.py: reading it would block the harness forever.
    Defence: entries are opened O_NONBLOCK and checked with fstat; a fifo is refused."""
    _, ws = asked()
    (ws / "solution.py").unlink()
    os.mkfifo(ws / "solution.py")
    # reading the fifo would block forever: the test fails at the timeout without the defence
    r = _rubicon("tell", "--dir", str(outside_tmp / "runs"), cwd=outside_tmp, timeout=60)
    assert r.returncode == 1
    assert "'solution.py' is a fifo" in r.stdout, r.stdout[-1000:] + r.stderr[-1000:]


def test_tell_refuses_a_symlinked_directory_and_workspace(
        asked: Callable[[], tuple[Task, Path]], outside_tmp: Path) -> None:
    """A directory in the workspace that is a symlink to a host directory, and the whole
    workspace swapped for a symlink to the task's evaluator directory: neither is followed."""
    task, ws = asked()
    (ws / "lib").symlink_to(task.dir / "evaluator")
    r = _rubicon("tell", "--dir", str(outside_tmp / "runs"), cwd=outside_tmp)
    assert "'lib' is a symbolic link" in r.stdout, r.stdout[-1000:] + r.stderr[-1000:]
    _, ws2 = asked()
    shutil.rmtree(ws2)
    ws2.symlink_to(task.dir / "evaluator")
    r = _rubicon("tell", "--dir", str(outside_tmp / "runs"), cwd=outside_tmp)
    assert r.returncode != 0 and "symbolic link" in r.stdout + r.stderr
    assert "Traceback" not in r.stderr
