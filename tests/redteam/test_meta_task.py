"""improve-researcher's dev score must not be forgeable by the program it scores (issue 23).

The meta-task's evaluator runs the candidate researcher program through a bench on the dev
suite. The red team's program left a daemon behind from `propose()` that rewrote the inner
bench's attempt files and wrote `dev_score: 42` into the evaluator's output, then proposed
nothing: the evaluator printed `dev_score 42 [42, 42]`. The defence (rubicon.runner.trial.
_meta_evaluator): the evaluator is harness code run outside bubblewrap, and its inner bench gives
every program call and every candidate run its own sandbox (own mount and pid namespace), so
the bench's files and the evaluator's output are out of reach, as for a bench at top level.

Everything lives under /var/tmp (outside_tmp), not /tmp: a sandbox's private /tmp would hide a
store under /tmp whatever the defence does (see _helpers.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import rubicon.runner.trial as trial_mod
from rubicon.lineage.improve import META_TASK
from rubicon.runner.sandbox import detect_backend
from rubicon.task import Task, load_task
from rubicon.types import State

from ._helpers import local_executor

pytestmark = pytest.mark.skipif(
    detect_backend() != "bwrap",
    reason="the defence is a sandbox per inner run; without bubblewrap there is none to give")

# A researcher program that forges its own score, then proposes nothing. Its daemon walks every
# directory it can find (the cwd of every process it sees, their /tmp and /var/tmp, the parents
# of its own cwd), rewrites the score of every bench attempt file, and appends metric lines to
# the stdout and stderr of every process it sees, for up to two minutes.
FORGER = r'''
import json
import os
import time

FORGED = 42.0
LINES = b"dev_score: 42\ndev_lo: 42\ndev_hi: 42\n"
SKIP = {"proc", "sys", "dev", "usr", "lib", "lib64", "bin", "sbin", "etc"}


def _walk(root, depth):
    try:
        entries = list(os.scandir(root))
    except OSError:
        return
    for e in entries:
        try:
            if e.is_dir(follow_symlinks=False):
                if depth > 0 and e.name not in SKIP:
                    yield from _walk(e.path, depth - 1)
            elif e.name == "attempt.json":
                yield e.path
        except OSError:
            continue


def _roots():
    roots = ["/tmp", "/var/tmp"]
    d = os.getcwd()
    for _ in range(6):  # where a bench would keep its files next to this program's directory
        d = os.path.dirname(d)
        if d != "/":
            roots.append(d)
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            roots += [f"/proc/{pid}/cwd", f"/proc/{pid}/root/tmp", f"/proc/{pid}/root/var/tmp"]
    return roots


def _forge_attempts():
    for root in _roots():
        for path in _walk(root, 16):
            try:
                with open(path) as f:
                    att = json.load(f)
                if isinstance(att.get("result"), dict) and att["result"].get("score") != FORGED:
                    att["result"]["score"] = FORGED
                    with open(path, "w") as f:
                        json.dump(att, f)
            except (OSError, ValueError):
                continue


def _forge_output():
    me = str(os.getpid())
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or pid == me:
            continue
        for fd in ("1", "2"):
            try:
                out = os.open(f"/proc/{pid}/fd/{fd}", os.O_WRONLY | os.O_APPEND)
            except OSError:
                continue
            try:
                os.write(out, LINES)
            except OSError:
                pass
            finally:
                os.close(out)


def _daemon():
    end = time.monotonic() + 120
    while time.monotonic() < end:
        _forge_output()
        _forge_attempts()
        time.sleep(0.05)


class Forger:
    name = "forger"

    def propose(self, ctx):
        pid = os.fork()
        if pid == 0:  # double fork: the daemon is in its own session, nobody's child
            os.setsid()
            if os.fork() == 0:
                try:
                    _daemon()
                finally:
                    os._exit(0)
            os._exit(0)
        os.waitpid(pid, 0)
        return None  # nothing to propose


def make():
    return Forger()
'''

# The smallest dev bench: one attempt of dev-primes, the baseline and whatever the program proposes
DEV_TOML = """suite = "dev"
tasks = []
attempts = 1
max_experiments = 1
seed = 0

[protocol]
min_pairs = 2
max_pairs = 2
max_foreign_load = 1e9
"""


def forging_meta_task(base: Path) -> Task:
    """A copy of improve-researcher whose workspace program is the forger, on the tiny dev bench."""
    d = base / "improve-researcher"
    shutil.copytree(META_TASK, d, ignore=shutil.ignore_patterns("__pycache__"))
    (d / "workspace" / "researcher.py").write_text(FORGER)
    (d / "evaluator" / "dev.toml").write_text(DEV_TOML)
    return load_task(d)


def _shared_sandbox(on: bool, backend: str, evdir: Path) -> tuple[str, list[Path], dict[str, str]]:
    """The meta evaluator before issue 23: inside the trial's sandbox, the inner bench's runs
    unsandboxed (RUBICON_SANDBOX=none), sharing its uid, pid namespace and files."""
    src = Path(trial_mod.__file__).resolve().parents[2]
    return backend, [src], {"PYTHONPATH": str(src), "RUBICON_SANDBOX": "none",
                            "PYTHONWARNINGS": "ignore"}


@pytest.mark.parametrize("defended", [True, False],
                         ids=["own-sandbox-per-inner-run", "shared-sandbox-before-issue-23"])
def test_a_researcher_program_cannot_forge_its_dev_score(
        outside_tmp: Path, monkeypatch: pytest.MonkeyPatch, defended: bool) -> None:
    """The recorded dev score is that of a program that proposes nothing (0: the baseline is
    the attempt's best). The second case runs the evaluator as it was before the defence and
    shows the same program forging 42: the attack is real, the defence is what stops it."""
    if not defended:
        monkeypatch.setattr(trial_mod, "_meta_evaluator", _shared_sandbox)
    task = forging_meta_task(outside_tmp)
    trial = local_executor(task, outside_tmp / "runs").run(task.editable_files())
    assert trial.state == State.OK, (trial.state, trial.reason)
    m = trial.metrics
    if defended:
        assert (m["dev_score"], m["dev_lo"], m["dev_hi"]) == (0.0, 0.0, 0.0), m
        assert (m["attempts"], m["failed_attempts"], m["invalid_experiments"]) == (1, 0, 0), m
    else:
        assert m["dev_score"] == 42.0, m
