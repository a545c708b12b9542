"""The sandbox contains each misbehaviour and reports facts about it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from rubicon.runner import SandboxSpec, detect_backend, run_sandboxed


def _run(tmp_path: Path, code: str, **kw):  # type: ignore[no-untyped-def]
    ws = tmp_path / "ws"
    ws.mkdir(exist_ok=True)
    spec = SandboxSpec(argv=["python", "-c", code], cwd=ws, log_path=tmp_path / "log", **kw)
    return run_sandboxed(spec)


def test_backend_is_bwrap_here() -> None:
    # CI installs bubblewrap; a weaker backend must be a visible failure, not a silent downgrade
    assert detect_backend() == "bwrap"


def test_facts_of_a_normal_run(tmp_path: Path) -> None:
    f = _run(tmp_path, "s = sum(i * i for i in range(3_000_000)); print('done', s > 0)")
    assert f.exit_code == 0 and not f.timed_out
    assert "done True" in f.output_tail
    assert f.cpu_seconds > 0.05  # accounted through the sandbox, not just the launcher
    assert f.wall_seconds >= f.cpu_seconds * 0.5
    assert f.peak_memory_mb > 5


def test_no_network_loopback_included(tmp_path: Path) -> None:
    f = _run(tmp_path, "import socket; socket.create_connection(('127.0.0.1', 22), 1)")
    assert f.exit_code != 0
    assert "ConnectionRefused" in f.output_tail or "unreachable" in f.output_tail.lower()


def test_hidden_paths_are_invisible_and_root_is_read_only(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "answer.txt").write_text("42")
    code = (
        "import os\n"
        f"print('listing', os.listdir({str(secret)!r}))\n"
        "try:\n    open('/usr/evil', 'w')\nexcept OSError as e:\n    print('ro', type(e).__name__)\n"
        "open('mine.txt', 'w').write('ok')\n"
    )
    f = _run(tmp_path, code, hidden=[secret])
    assert "listing []" in f.output_tail
    assert "ro " in f.output_tail
    assert (tmp_path / "ws" / "mine.txt").read_text() == "ok"


def test_private_tmp_does_not_persist(tmp_path: Path) -> None:
    _run(tmp_path, "open('/tmp/cache', 'w').write('x')")
    f = _run(tmp_path, "import os; print('exists', os.path.exists('/tmp/cache'))")
    assert "exists False" in f.output_tail
    assert not Path("/tmp/cache").exists()


def test_wall_time_kill_takes_daemonized_grandchildren(tmp_path: Path) -> None:
    marker = tmp_path / "ws" / "alive"
    code = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        while True:\n"
        "            open('alive', 'a').write('x'); time.sleep(0.05)\n"
        "time.sleep(60)\n"
    )
    t0 = time.monotonic()
    f = _run(tmp_path, code, time_limit=1.0)
    assert f.timed_out and f.exit_code is None
    assert "wall-time limit" in f.killed_reason
    assert time.monotonic() - t0 < 10
    size = marker.stat().st_size if marker.exists() else 0
    time.sleep(0.5)
    assert (marker.stat().st_size if marker.exists() else 0) == size  # nothing still writing


def test_a_killed_run_keeps_its_cpu_time_and_is_not_foreign_load(tmp_path: Path) -> None:
    # The killed processes are never reaped by the harness, so their CPU time must be read
    # before the kill; otherwise it counts as other processes' load and the protocol re-runs
    # every run stopped at a time cap (seen on lm-speedrun: foreign load 1.9 on a 2-core run).
    f = _run(tmp_path, "while True: pass", time_limit=1.5)
    assert f.timed_out
    assert f.cpu_seconds > 0.5 * f.wall_seconds
    assert f.foreign_load < 0.5


def test_background_process_does_not_outlive_a_normal_exit(tmp_path: Path) -> None:
    code = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid(); time.sleep(1)\n"
        "    open('late', 'w').write('x')\n"
        "    os._exit(0)\n"
        "print('main done')\n"
    )
    f = _run(tmp_path, code)
    assert f.exit_code == 0
    time.sleep(1.5)
    assert not (tmp_path / "ws" / "late").exists()


def test_memory_limit(tmp_path: Path) -> None:
    f = _run(tmp_path, "b = bytearray(3 * 1024**3)", memory_mb=512)
    assert f.exit_code != 0
    assert "memory limit" in f.killed_reason


def test_fork_bomb_is_contained(tmp_path: Path) -> None:
    code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    t0 = time.monotonic()
    f = _run(tmp_path, code, time_limit=3.0, max_processes=16)
    assert f.timed_out or f.exit_code != 0
    assert time.monotonic() - t0 < 20


def test_cpu_time_limit(tmp_path: Path) -> None:
    f = _run(tmp_path, "while True: pass", cpu_limit=1.0, time_limit=30)
    assert f.exit_code != 0 and not f.timed_out
    assert "CPU-time limit" in f.killed_reason


def test_threads_env_and_pinning(tmp_path: Path) -> None:
    core = sorted(os.sched_getaffinity(0))[0]
    code = "import os; print(os.environ['OMP_NUM_THREADS'], sorted(os.sched_getaffinity(0)))"
    f = _run(tmp_path, code, threads=1, cores=[core], seed=7)
    assert f"1 [{core}]" in f.output_tail
    assert f.cores == [core] and f.seed == 7


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
