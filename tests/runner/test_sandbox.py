"""The sandbox contains each misbehaviour and reports facts about it.

Tests that need a particular defence skip, with the reason shown, on machines that lack it:
bubblewrap (file hiding, private /tmp), a network namespace (bwrap or unshare), or writable
cgroups (memory, pids).
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from rubicon.runner import SandboxSpec, detect_backend, run_sandboxed
from rubicon.runner._cgroup import writable_controllers
from rubicon.types import KillReason, RunFacts

BACKEND = detect_backend()
needs_bwrap = pytest.mark.skipif(
    BACKEND != "bwrap", reason=f"needs the bwrap sandbox backend (this machine: {BACKEND})")
needs_netns = pytest.mark.skipif(
    BACKEND == "none", reason="needs a network namespace (bwrap or unshare; this machine: none)")
needs_memcg = pytest.mark.skipif(
    "memory" not in writable_controllers(), reason="needs a writable memory cgroup")
# A setsid daemon leaves the process group: only a pid namespace or a pids cgroup catches it.
needs_containment = pytest.mark.skipif(
    BACKEND == "none" and "pids" not in writable_controllers(),
    reason="needs a pid namespace (bwrap/unshare) or a writable pids cgroup")


def _run(tmp_path: Path, code: str, **kw: object) -> RunFacts:
    ws = tmp_path / "ws"
    ws.mkdir(exist_ok=True)
    spec = SandboxSpec(argv=["python", "-c", code], cwd=ws, log_path=tmp_path / "log",
                       **kw)  # type: ignore[arg-type]
    return run_sandboxed(spec)


def marked_processes(marker: str) -> list[int]:
    """Live processes whose command line holds `marker`."""
    found = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if marker.encode() in (p / "cmdline").read_bytes():
                    found.append(int(p.name))
            except OSError:
                pass
    return found


def wait_until_gone(marker: str, seconds: float = 10.0) -> list[int]:
    """Poll until no process holds `marker` (a killed process may take a moment to be reaped);
    returns those still alive at the deadline."""
    deadline = time.monotonic() + seconds
    left = marked_processes(marker)
    while left and time.monotonic() < deadline:
        time.sleep(0.02)
        left = marked_processes(marker)
    return left


def test_bwrap_is_used_wherever_it_works() -> None:
    # a weaker backend where bubblewrap works must be a visible failure, not a silent downgrade
    if os.environ.get("RUBICON_SANDBOX"):
        pytest.skip(f"RUBICON_SANDBOX={os.environ['RUBICON_SANDBOX']} forces the backend")
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed here (apt-get install bubblewrap)")
    probe = subprocess.run(["bwrap", "--ro-bind", "/", "/", "--unshare-all", "true"],
                           capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        pytest.skip(f"bubblewrap cannot create namespaces here: {probe.stderr.strip()[:200]}")
    assert BACKEND == "bwrap"


def test_facts_of_a_normal_run(tmp_path: Path) -> None:
    f = _run(tmp_path, "s = sum(i * i for i in range(3_000_000)); print('done', s > 0)")
    assert f.exit_code == 0 and not f.timed_out and f.kill_reason == KillReason.NONE
    assert "done True" in f.output_tail
    assert f.cpu_seconds > 0.05  # accounted through the sandbox, not just the launcher
    assert f.wall_seconds >= f.cpu_seconds * 0.5
    assert f.peak_memory_mb > 5


def test_limits_and_threads_are_set_inside(tmp_path: Path) -> None:
    """The launcher applies the rlimits before the sandbox starts (no preexec_fn)."""
    code = ("import os, resource as r\n"
            "print('limits', *[r.getrlimit(getattr(r, 'RLIMIT_' + n)) for n in "
            "('AS', 'CPU', 'FSIZE', 'CORE')], os.environ['MKL_NUM_THREADS'])\n")
    f = _run(tmp_path, code, memory_mb=700, cpu_limit=9.0, max_file_mb=300, threads=2)
    mem, fs = 700 * 2**20, 300 * 2**20
    assert f"limits ({mem}, {mem}) (10, 11) ({fs}, {fs}) (0, 0) 2" in f.output_tail


@needs_netns
def test_no_network_loopback_included(tmp_path: Path) -> None:
    f = _run(tmp_path, "import socket; socket.create_connection(('127.0.0.1', 22), 1)")
    assert f.exit_code != 0
    assert "ConnectionRefused" in f.output_tail or "unreachable" in f.output_tail.lower()


@needs_bwrap
def test_hidden_paths_are_invisible_and_root_is_read_only(tmp_path: Path) -> None:
    # outside /tmp: the sandbox's /tmp is a fresh tmpfs that would hide anything under tmp_path
    outside = Path(tempfile.mkdtemp(prefix="rubicon-test-", dir="/var/tmp"))
    try:
        secret = outside / "secret"
        secret.mkdir()
        (secret / "answer.txt").write_text("42")
        lone = outside / "lone-secret.txt"  # a hidden path that is a file, not a directory
        lone.write_text("43")
        code = (
            "import os\n"
            f"print('listing', os.listdir({str(secret)!r}))\n"
            f"print('outside', sorted(os.listdir({str(outside)!r})))\n"
            f"try:\n    print('lone', repr(open({str(lone)!r}).read()))\n"
            "except OSError as e:\n    print('lone', type(e).__name__)\n"
            "try:\n    open('/usr/evil', 'w')\nexcept OSError as e:\n"
            "    print('ro', type(e).__name__)\n"
            "open('mine.txt', 'w').write('ok')\n"
        )
        # the place is shown (read-only, as a task's inputs would be); the secrets inside it
        # are hidden -- outside what it is shown, the minimal root shows nothing of the host
        f = _run(tmp_path, code, hidden=[secret, lone], readonly=[outside])
    finally:
        shutil.rmtree(outside)
    assert "listing []" in f.output_tail
    assert "outside ['lone-secret.txt', 'secret']" in f.output_tail  # the test saw the place
    assert "lone " in f.output_tail and "43" not in f.output_tail
    assert "ro " in f.output_tail
    assert (tmp_path / "ws" / "mine.txt").read_text() == "ok"


@needs_bwrap
def test_private_tmp_does_not_persist(tmp_path: Path) -> None:
    _run(tmp_path, "open('/tmp/cache', 'w').write('x')")
    f = _run(tmp_path, "import os; print('exists', os.path.exists('/tmp/cache'))")
    assert "exists False" in f.output_tail
    assert not Path("/tmp/cache").exists()


@needs_containment
def test_wall_time_kill_takes_daemonized_grandchildren(tmp_path: Path) -> None:
    marker = f"rubicon-test-{uuid.uuid4().hex[:8]}"
    daemon = "import time\nwhile True:\n    open('alive', 'a').write('x'); time.sleep(0.05)\n"
    code = (
        "import os, sys, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        f"        os.execv(sys.executable, [sys.executable, '-c', {daemon!r}, {marker!r}])\n"
        "    os._exit(0)\n"
        "while not os.path.exists('alive'):\n    time.sleep(0.01)\n"
        "print('daemon running', flush=True)\n"
        "time.sleep(60)\n"
        "print('slept to the end')\n"
    )
    f = _run(tmp_path, code, time_limit=2.0)
    assert "daemon running" in f.output_tail  # the daemon really ran
    assert f.timed_out and f.exit_code is None and f.kill_reason == KillReason.WALL_TIME
    assert "wall-time limit" in f.killed_reason
    assert "slept to the end" not in f.output_tail  # killed at the limit, not after its sleep
    assert wait_until_gone(marker) == []  # nothing still running (or writing)


def test_a_killed_run_keeps_its_cpu_time(tmp_path: Path) -> None:
    """The killed processes are never reaped by the harness, so their CPU time must be read
    before the kill; otherwise it counts as other processes' load and the protocol re-runs
    every run stopped at a time cap (seen on lm-speedrun: foreign load 1.9 on a 2-core run).
    Ground truth, whatever the machine's load: the CPU time the program itself saw last."""
    code = ("import time\nlast = 0.0\nwhile True:\n    t = time.process_time()\n"
            "    if t - last > 0.05:\n        print(f'cpu {t:.3f}', flush=True)\n        last = t\n")
    f = _run(tmp_path, code, time_limit=2.0)
    assert f.timed_out
    seen = [float(line.split()[1]) for line in f.output_tail.splitlines() if line.startswith("cpu ")]
    assert seen and seen[-1] > 0.1, f.output_tail[-200:]
    assert f.cpu_seconds >= seen[-1] - 0.02  # clock ticks are 10 ms


@needs_containment
def test_background_process_does_not_outlive_a_normal_exit(tmp_path: Path) -> None:
    marker = f"rubicon-test-{uuid.uuid4().hex[:8]}"
    late = "import time\nopen('started', 'w')\ntime.sleep(1)\nopen('late', 'w').write('x')\n"
    code = (
        "import os, sys, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        f"    os.execv(sys.executable, [sys.executable, '-c', {late!r}, {marker!r}])\n"
        "while not os.path.exists('started'):\n    time.sleep(0.01)\n"
        "print('main done')\n"
    )
    f = _run(tmp_path, code)
    assert f.exit_code == 0 and "main done" in f.output_tail
    assert (tmp_path / "ws" / "started").exists()  # the background process really started
    assert wait_until_gone(marker) == []  # ended with the run...
    assert not (tmp_path / "ws" / "late").exists()  # ...before it could write


def test_a_failed_allocation_is_the_programs_own_crash(tmp_path: Path) -> None:
    """RLIMIT_AS makes the allocation fail inside the program; the harness sees only an exit
    code, so no kill reason is recorded (MemoryError is the program's own report)."""
    f = _run(tmp_path, "b = bytearray(3 * 1024**3)", memory_mb=512)
    assert f.exit_code == 1 and f.kill_reason == KillReason.NONE and f.killed_reason == ""
    assert "MemoryError" in f.output_tail


@needs_memcg
def test_memory_outside_the_address_space_is_a_memory_kill(tmp_path: Path) -> None:
    """memfd pages escape RLIMIT_AS; the run's memory cgroup kills it and counts the kill."""
    code = ("import os\nfds = []\nfor i in range(16):\n"
            "    fd = os.memfd_create(f'm{i}'); os.write(fd, b'x' * (64 << 20)); fds.append(fd)\n"
            "print('ESCAPED')\n")
    f = _run(tmp_path, code, memory_mb=256)
    assert f.kill_reason == KillReason.MEMORY, (f.exit_code, f.killed_reason, f.output_tail)
    assert f.killed_reason.startswith("memory limit 512 MiB for the whole run")
    assert "ESCAPED" not in f.output_tail


def test_printed_limit_messages_are_not_kill_reasons(tmp_path: Path) -> None:
    """Only the harness's facts decide why a run ended (red-team: a candidate printing
    MemoryError changed its recorded kill reason)."""
    code = ("import sys\nprint('MemoryError')\nprint('disk limit 48 MiB in the workspace')\n"
            "print('wall-time limit 1s', file=sys.stderr)\nsys.exit(1)\n")
    f = _run(tmp_path, code)
    assert f.exit_code == 1 and not f.timed_out
    assert f.kill_reason == KillReason.NONE and f.killed_reason == ""


@needs_containment
def test_fork_bomb_is_contained(tmp_path: Path) -> None:
    marker = f"rubicon-test-{uuid.uuid4().hex[:8]}"  # in every process's command line
    code = (f"# {marker}\nimport os\nwhile True:\n    try:\n        os.fork()\n"
            "    except OSError:\n        pass\n")
    f = _run(tmp_path, code, time_limit=3.0, max_processes=16)
    assert f.timed_out or f.exit_code != 0
    assert f.kill_reason in (KillReason.WALL_TIME, KillReason.PROCESSES), f.kill_reason
    assert wait_until_gone(marker) == []


def test_cpu_time_limit(tmp_path: Path) -> None:
    f = _run(tmp_path, "while True: pass", cpu_limit=1.0, time_limit=60)
    assert f.exit_code != 0 and not f.timed_out
    assert f.kill_reason == KillReason.CPU_TIME
    assert "CPU-time limit" in f.killed_reason


def test_threads_env_and_pinning(tmp_path: Path) -> None:
    core = sorted(os.sched_getaffinity(0))[0]
    code = "import os; print(os.environ['OMP_NUM_THREADS'], sorted(os.sched_getaffinity(0)))"
    f = _run(tmp_path, code, threads=1, cores=[core], seed=7)
    assert f"1 [{core}]" in f.output_tail
    assert f.cores == [core] and f.seed == 7


def test_a_command_that_cannot_start_is_a_start_failure(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    f = run_sandboxed(SandboxSpec(argv=[str(tmp_path / "no-such-program")], cwd=ws,
                                  log_path=tmp_path / "log"), "none")
    assert f.exit_code is None and f.kill_reason == KillReason.START_FAILED
    assert "no-such-program" in f.killed_reason and "FileNotFoundError" in f.killed_reason


def test_garbage_output_is_made_printable(tmp_path: Path) -> None:
    f = _run(tmp_path, "import sys; sys.stdout.buffer.write(bytes(range(256)) * 40)")
    assert f.exit_code == 0
    assert "\x00" not in f.output_tail and "\x1b" not in f.output_tail
    assert len(f.output_tail) <= 4000


def test_environment_is_clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    monkeypatch.setenv("PYTHONPATH", "/evil")
    f = _run(tmp_path, "import os; print(sorted(k for k in os.environ if 'KEY' in k or k == 'PYTHONPATH'))")
    assert "[]" in f.output_tail


def test_the_harness_process_keeps_its_own_limits(tmp_path: Path) -> None:
    """Limits are set in the launched process only, never in the harness."""
    before = [resource.getrlimit(r) for r in (resource.RLIMIT_AS, resource.RLIMIT_CPU)]
    _run(tmp_path, "pass", memory_mb=300, cpu_limit=3.0)
    assert [resource.getrlimit(r) for r in (resource.RLIMIT_AS, resource.RLIMIT_CPU)] == before
