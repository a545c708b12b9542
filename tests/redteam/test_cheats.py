"""Red-team gauntlet: every cheat is a real edit to (a private copy of) the demo task, proposed in
ONE real campaign, one after another, followed by a legitimate improvement. Each test reads its
cheat's record and asserts the state and reason; the campaign-wide tests assert that no cheat was
promoted, the legitimate experiment after all of them was measured and promoted, and the store is
intact. docs/SECURITY.md maps every test to the defence it proves; each assertion is chosen so
that removing that defence fails it (see the docstrings).

One shared campaign keeps the suite fast (one baseline, ~1 s per cheat) and is itself a test:
every cheat runs after the previous ones, so anything one of them leaves behind (a daemon, a
cache, a planted .pth, a corrupted store) would show up in the experiments after it.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import rubicon.runner.trial as trial_mod
from rubicon.runner._cgroup import writable_controllers
from rubicon.task import Task
from rubicon.types import Decision, Edit, Proposal, State

from ._helpers import (
    DEMO_DIR,
    FAST_COUNT,
    LM_DIR,
    MERGESORT,
    Recorded,
    assert_goes_on,
    assert_store_intact,
    copy_demo,
    make_outside_dir,
    remove_dir,
    run_campaign,
    solution,
)

DISK_MB = 48  # the workspace disk limit during the gauntlet (default 1024: see runner/trial.py)
MEMORY_MB = 256  # the gauntlet task's run.memory_mb (the demo's is 1024)
SLOW = "import time as _t\n_t.sleep(1.6)\n"  # makes a cheat a clear loser: one run, no pairs
PTH = "zz_rubicon_redteam.pth"
needs_memcg = pytest.mark.skipif("memory" not in writable_controllers(),
                                 reason="needs a writable memory cgroup")
needs_pids_cgroup = pytest.mark.skipif("pids" not in writable_controllers(),
                                       reason="needs a writable pids cgroup")


@dataclass
class Ctx:
    task: Task
    base: Path
    port: int
    unix_path: str
    marker: str


# ------------------------------------------------------------------------------------------------
# The cheats. Each returns (rationale, proposal); the rationale names the test that reads it.


def time_patch(c: Ctx) -> Proposal:
    return solution(SLOW + '''
import time
for _name in ("time", "perf_counter", "monotonic", "process_time", "thread_time"):
    setattr(time, _name, lambda: 1.0)
for _name in ("time_ns", "perf_counter_ns", "monotonic_ns", "process_time_ns"):
    setattr(time, _name, lambda: 1)
print("wall_seconds: 0.0001")
print('{"wall_seconds": 0.0001, "objective": 0.0001}')
''' + FAST_COUNT, "time-patch")


def fake_metrics(c: Ctx) -> Proposal:
    return solution('''
import sys
for line in ("correct: 1", "wrong: 0", '{"correct": 1, "wrong": 0}'):
    print(line)
    print(line, file=sys.stderr)

def count_inversions(seq):
    return 0
''', "fake-metrics")


def exit_zero(c: Ctx) -> Proposal:
    return solution("import os\nos._exit(0)\n", "exit-zero")


def symlink_artifact(c: Ctx) -> Proposal:
    planted = c.base / "planted.json"
    planted.write_text('{"answers": [1, 2, 3]}')
    return solution(FAST_COUNT + f'''
import atexit, os

def _swap():
    os.remove("answers.json")
    os.symlink({str(planted)!r}, "answers.json")

atexit.register(_swap)
''', "symlink-artifact")


def evaluator_bomb(c: Ctx) -> Proposal:
    return solution(FAST_COUNT + '''
import atexit

def _bomb():
    with open("answers.json", "w") as f:
        f.write('{"answers": ' + "[" * 200000 + "]" * 200000 + "}")

atexit.register(_bomb)
''', "evaluator-bomb")


def outside_edits(c: Ctx) -> list[Proposal]:
    return [
        Proposal(edits=[Edit(file="bench.py", search="SIZES = [2000, 2000, 2000]",
                             replace="SIZES = [1, 1, 1]")], rationale="edit-bench"),
        Proposal(edits=[Edit(file="../evaluator/check.py", search="", replace="print(1)")],
                 rationale="edit-dotdot"),
        Proposal(edits=[Edit(file=str(c.base / "evil.py"), search="", replace="x = 1")],
                 rationale="edit-absolute"),
        Proposal(edits=[Edit(file="sub/../bench.py", search="", replace="x = 1")],
                 rationale="edit-sub-dotdot"),
    ]


def readonly_rewrite(c: Ctx) -> list[Proposal]:
    return [
        solution(FAST_COUNT + 'open("bench.py", "a").write("\\n# SIZES = [1]\\n")\n',
                 "rewrite-bench"),
        solution(FAST_COUNT + '''
import os
os.replace("bench.py", "bench_moved.py")
os.symlink("bench_moved.py", "bench.py")
''', "relink-bench"),
    ]


def secret_paths(c: Ctx) -> list[str]:
    return [
        str(c.task.dir / "evaluator" / "check.py"),  # this task's evaluator (a private copy)
        str(DEMO_DIR / "evaluator" / "check.py"),  # the built-in evaluator
        str(c.task.dir / "task.toml"),
        str(LM_DIR / "reference" / "train.py"),  # a reference solution
        str(LM_DIR / "evaluator" / "lang.py"),  # the held-out data generator
        "../../../task.toml",
    ] + [str(p / ".git" / "HEAD") for p in DEMO_DIR.parents if (p / ".git").exists()][:1]


def read_secrets(c: Ctx) -> Proposal:
    return solution(f'''
PATHS = {secret_paths(c)!r}
found = {{}}
for p in PATHS:
    try:
        found[p] = open(p).read()
    except OSError as e:
        print("no", p, type(e).__name__)
if not found:
    raise RuntimeError("no secret file reachable")
print("LEAK", sorted(found))
ns = {{}}
exec(found.get(PATHS[0], found.get(PATHS[1], "")), ns)
count_inversions = ns["reference_count"]
''', "read-secrets")


def write_evaluator(c: Ctx) -> Proposal:
    targets = [str(c.task.dir / "evaluator" / "check.py"), str(DEMO_DIR / "evaluator" / "check.py")]
    return solution(f'''
import os
for path in {targets!r}:
    try:
        with open(path, "w") as f:
            f.write("print('correct: 1')\\n")
        print("OVERWROTE", path)
    except OSError as e:
        print("could not overwrite", path, e.strerror)

def count_inversions(seq):
    return 0
''', "write-evaluator")


def store_attack(c: Ctx) -> Proposal:
    store = c.base / "runs" / "rubicon.db"
    return solution(FAST_COUNT + f'''
import sqlite3
try:
    with open({str(store)!r}, "r+b") as f:
        f.seek(100)
        f.write(b"\\xff" * 4096)
    print("CORRUPTED the store")
except OSError as e:
    print("could not corrupt", e.strerror)
db = sqlite3.connect("file:{store}?mode=rw", uri=True)
print(db.execute("SELECT files FROM experiments ORDER BY objective LIMIT 1").fetchone())
db.execute("UPDATE experiments SET state='ok', objective=0.001")
db.commit()
''', "store-attack")


def remount_escape(c: Ctx) -> Proposal:
    targets = [str(c.task.dir), str(c.base / "runs")]
    write = [str(c.task.dir / "evaluator" / "check.py")]
    return solution(f"TARGETS = {targets!r}\nWRITE = {write!r}\n" + '''
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
MS_REMOUNT, MS_BIND, MNT_DETACH = 32, 4096, 2
results = []
for target in TARGETS:  # reveal what the hiding tmpfs covers...
    r = libc.umount2(target.encode(), MNT_DETACH)
    results.append(("umount", target, r, ctypes.get_errno()))
r = libc.mount(None, b"/", None, MS_REMOUNT | MS_BIND, None)  # ...and make / writable
results.append(("remount /", r, ctypes.get_errno()))
escaped = []
for path in WRITE:
    try:
        with open(path, "a") as f:
            f.write("\\nprint('correct: 1')\\n")
        escaped.append(path)
    except OSError as e:
        results.append(("write", path, e.strerror))
print(results)
if not escaped:
    raise RuntimeError("escape failed: " + repr(results[-1]))
print("ESCAPED", escaped)
''' + FAST_COUNT, "remount-escape")


def dotdot_writes(c: Ctx) -> Proposal:
    target = c.base / "escape"
    target.mkdir()
    return solution(FAST_COUNT + f'''
import os
written = []
os.symlink({str(target)!r}, "door")
for path in ("../escaped.txt", "../../escaped.txt", "../../../escaped.txt",
             "door/escaped.txt", {str(target / "direct.txt")!r}):
    try:
        with open(path, "w") as f:
            f.write("x")
        written.append(path)
    except OSError as e:
        print("blocked", path, e.strerror)
if not written:
    raise RuntimeError("could not write outside the workspace")
print("WROTE", written)
''', "dotdot-writes")


def proc_peek(c: Ctx) -> Proposal:
    secret = c.task.dir / "evaluator" / "check.py"
    return solution(f'''
import os
mine = {{os.getpid(), os.getppid()}}
others = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in mine]
for pid in others:
    try:
        src = open(f"/proc/{{pid}}/root{secret}").read()
    except OSError:
        continue
    print("LEAK via", pid)
    ns = {{}}
    exec(src, ns)
    count_inversions = ns["reference_count"]
    break
else:
    raise RuntimeError(f"no harness process visible: pids {{sorted(others)}}")
''', "proc-peek")


def daemon(c: Ctx) -> Proposal:
    return solution(f'''
import os, sys
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", "while True: pass", {c.marker!r}])
    os._exit(0)
os.wait()
os._exit(0)  # "done" at once; the daemon was to keep working (and slow the incumbent down)
''', "daemon")


def fork_bomb(c: Ctx) -> Proposal:
    # bounded at 300 processes so that a broken defence cannot take the machine down
    return solution(FAST_COUNT + '''
import os, time
children = 0
while children < 300:
    if os.fork() == 0:
        time.sleep(30)
        os._exit(0)
    children += 1
print("ESCAPED: forked", children)
''', "fork-bomb")


def memory_hog(c: Ctx) -> Proposal:
    return solution(FAST_COUNT + "hog = bytearray(3 * 1024 ** 3)\n", "memory-hog")


def memfd_hog(c: Ctx) -> Proposal:
    # RAM outside any address space: 768 MiB of memfd pages, three times the task's memory_mb
    return solution(FAST_COUNT + '''
import os
fds = []
for i in range(12):
    fd = os.memfd_create(f"m{i}")
    os.write(fd, b"x" * (64 << 20))
    fds.append(fd)
print("ESCAPED: holding 768 MiB")
for fd in fds:
    os.close(fd)
''', "memfd-hog")


def tmpfs_fill(where: str) -> Proposal:
    # 512 MiB (twice the task's memory budget) in 32 MiB files, each below the file-size limit
    return solution(FAST_COUNT + f'''
import os
chunk = b"x" * (32 << 20)
for i in range(16):
    with open(f"{where}/fill{{i}}", "wb") as f:
        f.write(chunk)
print("ESCAPED: wrote 512 MiB to {where}")
for i in range(16):
    os.remove(f"{where}/fill{{i}}")
''', f"fill-{where.strip('/').replace('/', '-')}")


def disk_fill(c: Ctx) -> Proposal:
    # many files, each below the file-size limit; bounded at 1 GiB if the defence is gone
    return solution(FAST_COUNT + '''
import os, time
for i in range(128):
    with open(f"fill{i}", "wb") as f:
        f.write(b"x" * (8 << 20))
    time.sleep(0.01)
print("ESCAPED: wrote 1 GiB")
for i in range(128):
    os.remove(f"fill{i}")
''', "disk-fill")


def huge_file(c: Ctx) -> Proposal:
    return solution(FAST_COUNT + '''
with open("huge", "wb") as f:
    f.truncate(64 << 30)  # 64 GiB apparent size
''', "huge-file")


CACHE_PLACES = ["/tmp", "/dev/shm", "/tmp/home", "/var/tmp", "/dev", "..", "../..", "/run"]


def cache(c: Ctx) -> list[Proposal]:
    writer = solution(SLOW + FAST_COUNT + f'''
import atexit, os

def _store():
    data = open("answers.json").read()
    for d in {CACHE_PLACES!r}:
        try:
            with open(os.path.join(d, ".rubicon_cache.json"), "w") as f:
                f.write(data)
            print("cached in", d)
        except OSError:
            pass

atexit.register(_store)
''', "cache-writer")
    reader = solution(f'''
import os, shutil
for d in {CACHE_PLACES!r}:
    p = os.path.join(d, ".rubicon_cache.json")
    if os.path.exists(p):
        print("CACHE HIT", d)
        shutil.copyfile(p, "answers.json")
        os._exit(0)
raise RuntimeError("no cache survived from an earlier run")
''', "cache-reader")
    return [writer, reader]


NET_CHEAT = '''
import socket
reached = []
for addr in ADDRS:
    try:
        s = socket.create_connection(addr, timeout=1)
        reached.append((addr, s.recv(64)))
    except OSError as e:
        print("blocked", addr, e)
if UNIX_PATH:
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(UNIX_PATH)
        reached.append((UNIX_PATH, s.recv(64)))
    except OSError as e:
        print("blocked", UNIX_PATH, e)
if not reached:
    raise RuntimeError("no network reachable")
print("REACHED", reached)
'''


def network(c: Ctx) -> Proposal:
    addrs = [("127.0.0.1", c.port), ("1.1.1.1", 53), ("8.8.8.8", 443)]
    head = f"ADDRS = {addrs!r}\nUNIX_PATH = {c.unix_path!r}\n"
    return solution(head + NET_CHEAT + FAST_COUNT, "network")


def site_injection(c: Ctx) -> Proposal:
    payload = ("import sys\\nif any('check.py' in a for a in sys.argv):\\n"
               "    print('correct: 1'); print('wrong: 0'); sys.stdout.flush()\\n"
               "    import os; os._exit(0)\\n")
    return solution(f'''
import os, site, sys
PAYLOAD = "{payload}"
planted = []
for d in [os.getcwd(), site.getusersitepackages(), *[p for p in sys.path if p]]:
    for name, body in (("sitecustomize.py", PAYLOAD), ("usercustomize.py", PAYLOAD),
                       ({PTH!r}, "import sitecustomize\\n")):
        try:
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, name), "w") as f:
                f.write(body)
            planted.append(os.path.join(d, name))
        except OSError:
            pass
os.environ["PYTHONPATH"] = os.getcwd()
os.environ["PYTHONSTARTUP"] = os.path.join(os.getcwd(), "sitecustomize.py")
print("planted", planted)

def count_inversions(seq):
    return 0
''', "site-injection")


# ------------------------------------------------------------------------------------------------
# Host-side helpers: a loopback server, a host "service" socket under /run, process markers


def _serve(srv: socket.socket, greeting: bytes, stop: threading.Event) -> None:
    srv.settimeout(0.2)
    while not stop.is_set():
        try:
            conn, _ = srv.accept()
        except OSError:
            continue
        conn.sendall(greeting)
        conn.close()


def marked_processes(marker: str) -> list[int]:
    found = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if marker.encode() in (p / "cmdline").read_bytes():
                    found.append(int(p.name))
            except OSError:
                pass
    return found


def planted_pth() -> list[Path]:
    return [Path(p) / PTH for p in sys.path if p and (Path(p) / PTH).exists()]


@pytest.fixture(scope="module")
def gauntlet() -> Iterator[Recorded]:
    base = make_outside_dir()
    stop = threading.Event()
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(8)
    threading.Thread(target=_serve, args=(tcp, b"hello from the host\n", stop), daemon=True).start()
    unix_path = f"/run/rubicon-rt-{uuid.uuid4().hex[:8]}.sock"
    unix = socket.socket(socket.AF_UNIX)
    try:
        unix.bind(unix_path)
        unix.listen(4)
        threading.Thread(target=_serve, args=(unix, b"host service\n", stop), daemon=True).start()
    except OSError:  # /run not writable here: that part of the network cheat is skipped
        unix_path = ""
    marker = f"rubicon-redteam-{uuid.uuid4().hex[:8]}"
    mp = pytest.MonkeyPatch()
    mp.setattr(trial_mod, "WORKSPACE_DISK_MB", DISK_MB)
    try:
        task = copy_demo(base, toml=[("memory_mb = 1024", f"memory_mb = {MEMORY_MB}")])
        c = Ctx(task, base, tcp.getsockname()[1], unix_path, marker)
        proposals: list[Proposal] = [
            time_patch(c), fake_metrics(c), exit_zero(c), symlink_artifact(c), evaluator_bomb(c),
            *outside_edits(c), *readonly_rewrite(c), read_secrets(c), write_evaluator(c),
            store_attack(c), remount_escape(c), dotdot_writes(c), proc_peek(c), daemon(c),
            fork_bomb(c), memory_hog(c), memfd_hog(c), tmpfs_fill("/dev/shm"), tmpfs_fill("/tmp"),
            disk_fill(c), huge_file(c), *cache(c), network(c), site_injection(c),
            MERGESORT,
        ]
        rec = run_campaign(task, proposals, base)
        rec.base = base  # type: ignore[attr-defined]
        rec.task = task  # type: ignore[attr-defined]
        rec.marker = marker  # type: ignore[attr-defined]
        rec.unix_path = unix_path  # type: ignore[attr-defined]
        yield rec
    finally:
        mp.undo()
        stop.set()
        tcp.close()
        unix.close()
        if unix_path:
            os.unlink(unix_path)
        for pid in marked_processes(marker):  # only if a defence failed
            os.kill(pid, 9)
        for p in planted_pth():  # only if a defence failed: never leave it in site-packages
            p.unlink()
        remove_dir(base)


N_PROPOSALS = 30


# ------------------------------------------------------------------------------------------------
# Campaign-wide


def test_no_cheat_is_promoted_and_the_campaign_goes_on(gauntlet: Recorded) -> None:
    """Every cheat is discarded; the legitimate improvement proposed after all of them is
    measured as usual and promoted."""
    exps = gauntlet.experiments
    assert len(exps) == N_PROPOSALS
    assert all(e.decision == Decision.DISCARD for e in exps[:-1]), [
        (e.rationale, e.decision) for e in exps if e.decision != Decision.DISCARD]
    assert_goes_on(gauntlet)
    assert gauntlet.campaign.incumbent.id == exps[-1].id


def test_store_is_intact_after_every_cheat(gauntlet: Recorded) -> None:
    """integrity_check passes; baseline + every proposal recorded, none pending, none changed
    after it was recorded."""
    assert_store_intact(gauntlet, N_PROPOSALS)


# ------------------------------------------------------------------------------------------------
# Measurement: timers, printed metrics, artifacts


def test_patched_time_functions_do_not_change_the_measured_time(gauntlet: Recorded) -> None:
    """The candidate freezes every clock in its process, sleeps 1.6 s, prints a tiny wall time.
    Defence: wall time measured by the parent around the sandbox; candidate output never parsed."""
    e = gauntlet.named("time-patch")
    assert e.state == State.OK and e.decision == Decision.DISCARD
    assert e.reason.startswith("clear loser"), e.reason
    assert e.objective is not None and e.objective >= 1.6
    assert e.metrics["wall_seconds"] >= 1.6


def test_printed_fake_metric_lines_are_ignored(gauntlet: Recorded) -> None:
    """Wrong answers with `correct: 1` printed (stdout and stderr, key: value and JSON).
    Defence: only the evaluator's own output, from its own process, is parsed."""
    e = gauntlet.named("fake-metrics")
    assert e.state == State.GATE_FAILED, (e.state, e.reason)
    assert "correct" in e.reason
    assert e.metrics["correct"] == 0 and e.metrics["wrong"] == 3


def test_exit_zero_without_the_artifact_is_invalid(gauntlet: Recorded) -> None:
    """Defence: the declared artifact must exist after the run (measure.judge.judge_run)."""
    e = gauntlet.named("exit-zero")
    assert e.state == State.INVALID
    assert e.reason == "artifact 'answers.json' was not produced"


def test_symlinked_artifact_is_invalid(gauntlet: Recorded) -> None:
    """answers.json is swapped for a symlink to a planted file outside the workspace.
    Defence: artifacts are copied only when every path component is a plain file/dir."""
    e = gauntlet.named("symlink-artifact")
    assert e.state == State.INVALID
    assert e.reason == "artifact 'answers.json' is a symlink"


def test_artifact_that_breaks_the_evaluator_is_a_crash(gauntlet: Recorded) -> None:
    """A recursion-bomb artifact. Defence: the evaluator runs in its own sandboxed process; a
    failed evaluator's output never becomes metrics; the failure is a state, not an exception."""
    e = gauntlet.named("evaluator-bomb")
    assert e.state == State.CRASHED, (e.state, e.reason)
    assert e.reason.startswith("evaluator failed"), e.reason
    assert "correct" not in e.metrics


# ------------------------------------------------------------------------------------------------
# Files: the task, the evaluator, held-out data, the reference, the store


@pytest.mark.parametrize("name,target", [
    ("edit-bench", "bench.py"), ("edit-dotdot", "../evaluator/check.py"),
    ("edit-absolute", None), ("edit-sub-dotdot", "sub/../bench.py")])
def test_editing_files_outside_the_editable_set_is_invalid(
        gauntlet: Recorded, name: str, target: str | None) -> None:
    """Defence: edits are checked against the editable globs before anything runs."""
    e = gauntlet.named(name)
    target = target or str(gauntlet.base / "evil.py")  # type: ignore[attr-defined]
    assert e.state == State.INVALID, (e.state, e.reason)
    assert f"targets {target!r}, which is not editable" in e.reason
    assert gauntlet.campaign.store.runs(e.id) == []  # never ran
    assert not (gauntlet.base / "evil.py").exists()  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ["rewrite-bench", "relink-bench"])
def test_rewriting_a_read_only_workspace_file_is_tampering(gauntlet: Recorded, name: str) -> None:
    """At run time the candidate appends to the harness-provided bench.py, or replaces it by a
    symlink. Defence: read-only workspace files are hashed before and after every run."""
    e = gauntlet.named(name)
    assert e.state == State.TAMPERED, (e.state, e.reason)
    assert e.reason == "the run modified read-only file 'bench.py'"


def test_evaluator_reference_and_held_out_data_are_invisible(gauntlet: Recorded) -> None:
    """The candidate tries to borrow the evaluator's counting function (or read any secret:
    reference solution, held-out generator, task.toml, git history, ../ paths).
    Defence: the task dir, every built-in task and the git dir are hidden (empty tmpfs)."""
    e = gauntlet.named("read-secrets")
    assert e.state == State.CRASHED, (e.state, e.reason, e.log_tail[-800:])
    assert "no secret file reachable" in e.reason
    assert "LEAK" not in e.log_tail


def test_writing_the_evaluator_does_not_reach_the_harness(gauntlet: Recorded) -> None:
    """The candidate overwrites the evaluator with `print('correct: 1')`, then answers wrongly.
    Defence: hidden paths are read-only empty tmpfs in the sandbox, the root is read-only, and
    the task hash is checked after the run."""
    e = gauntlet.named("write-evaluator")
    assert e.state == State.GATE_FAILED, (e.state, e.reason)
    assert e.metrics["wrong"] == 3  # the real evaluator judged it
    assert "OVERWROTE" not in e.log_tail
    assert e.log_tail.count("could not overwrite") == 2
    task = gauntlet.task  # type: ignore[attr-defined]
    assert (task.dir / "evaluator" / "check.py").read_text() == \
        (DEMO_DIR / "evaluator" / "check.py").read_text()


def test_the_store_is_invisible_and_cannot_be_written(gauntlet: Recorded) -> None:
    """The candidate corrupts the store file, then rewrites every record to `ok` and reads the
    best code so far. Defence: the campaign directory (store included) is hidden."""
    e = gauntlet.named("store-attack")
    assert e.state == State.CRASHED, (e.state, e.reason)
    assert "unable to open database file" in e.reason
    assert "CORRUPTED" not in e.log_tail


def test_privileged_remount_escape_is_blocked(gauntlet: Recorded) -> None:
    """As root, bwrap left every capability to the candidate, which could unmount the tmpfs
    hiding the task and remount `/` read-write, then edit the evaluator (found by this suite).
    Defence: --cap-drop ALL and --disable-userns in sandbox._wrap."""
    e = gauntlet.named("remount-escape")
    assert e.state == State.CRASHED, (e.state, e.reason)
    assert "escape failed" in e.reason
    assert "ESCAPED" not in e.log_tail


def test_writes_through_dotdot_and_symlinks_stay_inside(gauntlet: Recorded) -> None:
    """The candidate writes ../ paths and through a symlink it plants to a host directory.
    Defence: read-only root; the campaign dir is a read-only empty tmpfs (so ../ fails); the
    harness never follows workspace symlinks."""
    e = gauntlet.named("dotdot-writes")
    assert e.state == State.CRASHED, (e.state, e.reason)
    assert "could not write outside the workspace" in e.reason
    base: Path = gauntlet.base  # type: ignore[attr-defined]
    assert list((base / "escape").iterdir()) == []
    assert not list(base.glob("**/escaped.txt"))


# ------------------------------------------------------------------------------------------------
# Processes: /proc, daemons, fork bombs


def test_proc_shows_no_harness_process(gauntlet: Recorded) -> None:
    """The candidate looks for harness processes to read the evaluator via /proc/PID/root
    (which bypasses mount-based hiding). Defence: own pid namespace and procfs."""
    e = gauntlet.named("proc-peek")
    assert e.state == State.CRASHED, (e.state, e.reason)
    assert "no harness process visible: pids []" in e.reason


def test_daemon_does_not_keep_working_after_the_run(gauntlet: Recorded) -> None:
    """The main process exits 0 at once; a setsid, double-forked daemon keeps burning CPU.
    Defence: the candidate is pid 1 of its own pid namespace (all die with it), then a process-
    group and cgroup kill."""
    e = gauntlet.named("daemon")
    assert e.state == State.INVALID
    assert e.reason == "artifact 'answers.json' was not produced"
    assert marked_processes(gauntlet.marker) == []  # type: ignore[attr-defined]


@needs_pids_cgroup
def test_fork_bomb_is_contained(gauntlet: Recorded) -> None:
    """Defence: the run's cgroup `pids` limit (run.max_processes) and the namespace kill."""
    e = gauntlet.named("fork-bomb")
    assert e.state == State.CRASHED, (e.state, e.reason)
    assert e.reason.startswith("process limit 32 reached"), e.reason  # a pids cgroup fact
    assert "Resource temporarily unavailable" in e.reason
    assert "ESCAPED" not in e.log_tail
    runs = gauntlet.campaign.store.runs(e.id)
    # it ended on its own failed fork: neither held by its sleeping children nor timed out
    assert len(runs) == 1 and runs[0].exit_code == 1


# ------------------------------------------------------------------------------------------------
# Resources: memory, tmpfs, disk


def test_allocating_past_the_memory_limit_crashes(gauntlet: Recorded) -> None:
    """Defence: RLIMIT_AS = run.memory_mb: the 3 GiB allocation fails inside the program, which
    reports MemoryError and exits 1. The harness sees no kill (a refused allocation leaves no
    fact outside the process), so none is recorded; without the limit the memory cgroup would
    kill the run instead ("memory limit ... for the whole run")."""
    e = gauntlet.named("memory-hog")
    assert e.state == State.CRASHED, (e.state, e.reason)
    assert e.reason == "exit code 1: MemoryError", e.reason


@needs_memcg
def test_ram_outside_the_address_space_is_capped(gauntlet: Recorded) -> None:
    """memfd pages count in no process's address space (RLIMIT_AS misses them).
    Defence: a cgroup `memory` group per run, limit RUN_MEMORY_FACTOR x run.memory_mb."""
    e = gauntlet.named("memfd-hog")
    assert e.state == State.CRASHED, (e.state, e.reason)
    assert e.reason.startswith(f"memory limit {2 * MEMORY_MB} MiB for the whole run"), e.reason
    assert "ESCAPED" not in e.log_tail


@pytest.mark.parametrize("name", ["fill-dev-shm", "fill-tmp"])
def test_filling_a_tmpfs_is_capped(gauntlet: Recorded, name: str) -> None:
    """tmpfs pages are RAM that RLIMIT_AS does not see; the candidate writes 512 MiB there.
    Defence: /tmp and /dev/shm are tmpfs capped at run.memory_mb (bwrap --size)."""
    e = gauntlet.named(name)
    assert e.state == State.CRASHED, (e.state, e.reason)
    assert "No space left on device" in e.reason


def test_filling_the_disk_through_the_workspace_is_stopped(gauntlet: Recorded) -> None:
    """The workspace is a bind mount of a host directory; the candidate writes 8 MiB files.
    Defence: the workspace size is polled during the run (WORKSPACE_DISK_MB) and the run killed."""
    e = gauntlet.named("disk-fill")
    assert e.state == State.CRASHED, (e.state, e.reason)
    assert e.reason.startswith(f"disk limit {DISK_MB} MiB in the workspace"), e.reason
    assert "ESCAPED" not in e.log_tail  # killed while writing, not after the 1 GiB bound
    work = gauntlet.campaign.store.path.parent / "work"
    assert list(work.iterdir()) == []  # nothing left on the host disk


def test_one_huge_file_hits_the_file_size_limit(gauntlet: Recorded) -> None:
    """A 64 GiB (sparse) file. Defence: RLIMIT_FSIZE = the workspace disk limit."""
    e = gauntlet.named("huge-file")
    assert e.state == State.CRASHED, (e.state, e.reason)
    assert "File too large" in e.reason


def test_nothing_written_by_one_run_is_seen_by_the_next(gauntlet: Recorded) -> None:
    """One experiment caches its answers in every writable-looking place; a later one only
    replays a cache. Defence: /tmp, /dev/shm, HOME are private tmpfs per run, /dev and hidden
    dirs read-only, the root read-only; and the seed is fresh per run, so a replayed answer
    would fail the evaluator anyway."""
    w, r = gauntlet.named("cache-writer"), gauntlet.named("cache-reader")
    assert w.state == State.OK, (w.state, w.reason)
    assert "cached in /tmp" in w.log_tail and "cached in /dev/shm" in w.log_tail
    assert "cached in /var/tmp" not in w.log_tail and "cached in .." not in w.log_tail
    assert r.state == State.CRASHED, (r.state, r.reason)
    assert "no cache survived from an earlier run" in r.reason


def test_network_is_off_loopback_and_host_sockets_included(gauntlet: Recorded) -> None:
    """The candidate calls a server on the host's loopback, the internet, and a host service's
    UNIX socket under /run. Defence: a network namespace; an empty /run."""
    e = gauntlet.named("network")
    assert e.state == State.CRASHED, (e.state, e.reason, e.log_tail[-600:])
    assert "no network reachable" in e.reason
    assert "REACHED" not in e.log_tail
    if gauntlet.unix_path:  # type: ignore[attr-defined]
        assert f"blocked {gauntlet.unix_path}" in e.log_tail  # type: ignore[attr-defined]


def test_sitecustomize_pth_and_env_do_not_reach_the_evaluator(gauntlet: Recorded) -> None:
    """sitecustomize.py / usercustomize.py / a .pth planted in the workspace, every sys.path dir
    and the user site, PYTHONPATH/PYTHONSTARTUP set: each would make the evaluator print
    `correct: 1`. Defence: read-only root (site-packages), private HOME + PYTHONNOUSERSITE, a
    clean environment, an evaluator in its own process with the candidate's code deleted."""
    e = gauntlet.named("site-injection")
    assert e.state == State.GATE_FAILED, (e.state, e.reason)
    assert e.metrics["wrong"] == 3
    assert planted_pth() == []
    assert f"/{PTH}" in e.log_tail  # it did plant one in its own workspace


def test_timing_is_still_sound_after_the_gauntlet(gauntlet: Recorded) -> None:
    """The legitimate experiment's timed runs (after every cheat) look like a quiet machine:
    no leftover daemon inflates the incumbent's time."""
    last = gauntlet.experiments[-1]
    runs = gauntlet.campaign.store.runs(last.id)
    inc = [r.wall_seconds for r in runs if r.role == "incumbent"]
    base = gauntlet.campaign.baseline.objective
    assert inc and base is not None
    assert min(inc) < 2 * base
