"""Run one command in a sandbox with limits; report what was observed (RunFacts).

Backends, best first (RUBICON_SANDBOX forces one):
  bwrap   bubblewrap: user, pid, net, ipc namespaces; a minimal read-only root (only system
          dirs, a few /etc files, the interpreter's directories, the workspace and declared
          inputs: rubicon.runner._root); private /tmp; hidden paths
  unshare util-linux unshare: user, pid, net namespaces only (the host's files are NOT hidden:
          a run reads whatever the harness can) -- warned
  none    plain subprocess with limits only -- loudly warned, for machines with neither
Limits in every backend: RLIMIT_AS (memory), RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_NOFILE, core
pinning, a process-group kill on the wall-time limit, the disk and output limits polled by the
harness, and cgroup `pids`, `memory` and `cpuset` groups where writable (fork bombs, daemonized
leftovers, RAM outside any address space, affinity changes that escape the core pin). In every
backend the run's main process is killed when the harness dies (the launcher's parent-death
signal; a harness-owned step outside bubblewrap, a meta-task's evaluator, relies on it; bwrap
also has --die-with-parent, which takes the whole sandbox).

The limits, the affinity and the cgroups are applied by a small exec wrapper (rubicon.runner.
_launch) started with subprocess's `start_new_session`: no Python runs between fork and exec in
the harness process. Why a run ended (RunFacts.kill_reason) is decided by rubicon.runner._kill
from the harness's facts only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import resource
import select
import shutil
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rubicon.runner._cgroup import CpusetGroup, MemoryGroup, PidsGroup
from rubicon.runner._kill import EndFacts, decide_kill
from rubicon.runner._observe import (
    DiskLimit,
    OutputLimit,
    Watchdog,
    busy_seconds,
    cpu_seconds_of,
    kill_tree,
    read_tail,
    run_pids,
)
from rubicon.runner._root import interpreter_args, system_args, visible
from rubicon.types import KillReason, RunFacts

RUN_MEMORY_FACTOR = 2  # the whole run's RAM (memory cgroup) vs the per-process RLIMIT_AS
OUTPUT_MB = 256  # default size limit of a run's log (its stdout and stderr, on the host's disk)
# Open files per process (RLIMIT_NOFILE, soft and hard): with RLIMIT_FSIZE it bounds what one
# process can hold in deleted files between two disk polls, and it bounds SCM_RIGHTS in flight
MAX_OPEN_FILES = 4096
DISK_POLL_SECONDS = 0.1
LAUNCHER = Path(__file__).with_name("_launch.py")
START_TIMEOUT = 30.0  # seconds the launcher may take to exec the sandbox


@dataclass
class SandboxSpec:
    argv: list[str]
    cwd: Path  # writable, private to this run
    log_path: Path
    time_limit: float = 60.0
    cpu_limit: float | None = None
    memory_mb: int = 2048
    threads: int = 1
    cores: list[int] = field(default_factory=list)  # empty: no pinning
    network: bool = False
    max_processes: int = 64
    max_file_mb: int = 2048
    # Total bytes the run may hold in `cwd` and `writable` (None: unchecked), deleted files it
    # keeps open included. Enforced by polling during the run and a final check after it
    # (red-team: filling the disk through the writable workspace).
    disk_mb: int | None = None
    output_mb: int = OUTPUT_MB  # the log file's size limit (polled like the disk)
    hidden: list[Path] = field(default_factory=list)  # made invisible (empty tmpfs; a file: empty)
    writable: list[Path] = field(default_factory=list)  # extra writable binds besides cwd
    readonly: list[Path] = field(default_factory=list)  # re-exposed read-only (e.g. under /tmp)
    env: dict[str, str] = field(default_factory=dict)
    seed: int = 0
    # A file to write the run's cgroup paths into: if the harness dies (kill -9), a recovery
    # (rubicon.runner.recover) finds and removes that run's groups from it.
    cgroup_note: Path | None = None


@functools.cache
def detect_backend() -> str:
    """The best sandbox backend that works here (checked by running `true` in it)."""
    forced = os.environ.get("RUBICON_SANDBOX")
    if forced:
        if forced not in ("bwrap", "unshare", "none"):
            from rubicon.errors import ConfigError

            raise ConfigError(f"RUBICON_SANDBOX={forced!r}: allowed are bwrap, unshare, none")
        return forced
    if shutil.which("bwrap") and _works(["bwrap", "--ro-bind", "/", "/", "--unshare-all", "true"]):
        return "bwrap"
    if shutil.which("unshare") and _works(["unshare", "-r", "-n", "-p", "-f", "true"]):
        warnings.warn(
            "rubicon: bubblewrap not usable; falling back to `unshare` (no network, own pid "
            "namespace, but candidates can READ files outside their workspace). "
            "Install bubblewrap: apt-get install bubblewrap",
            stacklevel=2,
        )
        return "unshare"
    warnings.warn(
        "rubicon: NO SANDBOX available (neither bubblewrap nor unshare works): candidates run "
        "with network and full file access, limited only by rlimits. Install bubblewrap.",
        stacklevel=2,
    )
    return "none"


def _works(argv: list[str]) -> bool:
    try:
        return subprocess.run(argv, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _binds(spec: SandboxSpec) -> list[str]:
    """The run's own mounts on top of the minimal root: read-only inputs, the workspace and
    extra writable dirs, and hidden paths that would otherwise be visible through them (or
    through the interpreter's directories, e.g. built-in tasks inside site-packages). Parents
    are mounted before what lies inside them; at one path a bind wins over hiding."""
    shown = [*spec.readonly, spec.cwd, *spec.writable]
    ops: list[tuple[int, int, list[str]]] = []
    hidden_dirs = []
    for h in spec.hidden:
        if not visible(h, shown):
            continue  # not in the sandbox's view at all
        if h.is_dir():
            ops.append((len(h.parts), 0, ["--tmpfs", str(h)]))
            hidden_dirs.append(h)
        elif h.exists():  # a file (e.g. a worktree's `.git`): shadowed by an empty one
            ops.append((len(h.parts), 0, ["--ro-bind", "/dev/null", str(h)]))
    for r in spec.readonly:
        ops.append((len(r.parts), 1, ["--ro-bind", str(r), str(r)]))
    for w in [spec.cwd, *spec.writable]:
        ops.append((len(w.parts), 2, ["--bind", str(w), str(w)]))
    ops.sort(key=lambda op: (op[0], op[1]))
    cmd = [a for op in ops for a in op[2]]
    for h in hidden_dirs:
        if h not in (spec.cwd, *spec.writable):
            # read-only once the binds inside it exist: a write into the hidden task dir fails
            # loudly instead of landing in a throwaway tmpfs
            cmd += ["--remount-ro", str(h)]
    return cmd


def _wrap(spec: SandboxSpec, backend: str) -> list[str]:
    if backend == "bwrap":
        # The minimal root (rubicon.runner._root): system dirs, a few /etc files, the
        # interpreter's own directories, nothing else of the host -- no home, no other
        # checkout or store, no /run (host service sockets ignore read-only mounts and network
        # namespaces), no /var.
        cmd = ["bwrap", *system_args(), "--dev", "/dev", "--proc", "/proc"]
        # tmpfs lives in RAM, outside RLIMIT_AS: each one is capped at the run's memory budget
        # (red-team: filling /tmp or /dev/shm to exhaust the host's memory).
        tmpfs_size = str(spec.memory_mb * 1024 * 1024)
        cmd += ["--size", tmpfs_size, "--tmpfs", "/tmp"]
        cmd += ["--size", tmpfs_size, "--tmpfs", "/dev/shm"]
        cmd += ["--dir", "/tmp/home", "--remount-ro", "/dev"]  # no unbounded files in /dev
        cmd += interpreter_args()  # after /tmp: a virtualenv under /tmp is bound into it
        cmd += _binds(spec)
        cmd += ["--remount-ro", "/"]  # the root tmpfs itself: nothing written lands there
        cmd += ["--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts"]
        # When the harness runs as root, bwrap keeps every capability inside the sandbox, and
        # CAP_SYS_ADMIN there can remount `/` read-write or unmount the tmpfs that hides the task
        # and the store (red-team: test_privileged_remount_escape_is_blocked). Drop them all,
        # and forbid nested user namespaces that would hand them back. No-ops when unprivileged.
        cmd += ["--cap-drop", "ALL", "--disable-userns"]
        # --as-pid-1: the command is the namespace init, so wait4() accounts its CPU time and
        # peak memory (with a bwrap init in between, rusage stops at bwrap)
        cmd += ["--unshare-cgroup-try", "--die-with-parent", "--new-session", "--as-pid-1"]
        if not spec.network:
            cmd += ["--unshare-net"]
        cmd += ["--chdir", str(spec.cwd), "--"]
        return cmd + spec.argv
    if backend == "unshare":
        net = [] if spec.network else ["-n"]
        return ["unshare", "-r", *net, "-p", "-f", "--kill-child", "--"] + spec.argv
    return list(spec.argv)


def invisible_program(spec: SandboxSpec, backend: str) -> str:
    """Why the bwrap sandbox cannot start `spec.argv[0]` (a path outside its view), or ""."""
    prog = spec.argv[0] if spec.argv else ""
    if backend != "bwrap" or not os.path.isabs(prog):
        return ""
    shown = [*spec.readonly, spec.cwd, *spec.writable]
    if visible(Path(prog), shown) or visible(Path(os.path.realpath(prog)), shown):
        return ""
    return (f"the program {prog} is outside what the sandbox shows (system dirs, the "
            f"interpreter's prefix and site-packages, the workspace, the task's inputs)")


def clean_env(spec: SandboxSpec) -> dict[str, str]:
    t = str(spec.threads)
    env = {
        "PATH": os.pathsep.join(
            [str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": "/tmp/home",
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "OMP_NUM_THREADS": t,
        "MKL_NUM_THREADS": t,
        "OPENBLAS_NUM_THREADS": t,
        "NUMEXPR_NUM_THREADS": t,
        "RUBICON_THREADS": t,
        "RUBICON_SEED": str(spec.seed),
    }
    env.update(spec.env)
    return env


def cpu_limit_of(spec: SandboxSpec) -> float:
    """The run's CPU-time limit in seconds (RLIMIT_CPU counts every thread)."""
    return spec.cpu_limit or 2 * spec.time_limit * max(1, spec.threads) + 5


def file_size_mb(spec: SandboxSpec) -> int:
    """RLIMIT_FSIZE: the largest file the run may write, never above its workspace budget."""
    return min(spec.max_file_mb, spec.disk_mb or spec.max_file_mb)


@dataclass
class _Groups:
    """The run's cgroups (each None where cgroups are not writable)."""

    pids: PidsGroup | None
    memory: MemoryGroup | None
    memory_limit_mb: int
    cpuset: CpusetGroup | None = None

    @classmethod
    def create(cls, spec: SandboxSpec) -> _Groups:
        pids = PidsGroup.create(spec.max_processes + 8)  # +8: sandbox helper processes
        # RAM of the whole run (processes + tmpfs + memfds) may reach twice the per-process limit
        mem_limit_mb = RUN_MEMORY_FACTOR * spec.memory_mb
        memory = MemoryGroup.create(mem_limit_mb * 1024 * 1024)
        cpuset = CpusetGroup.create(spec.cores)  # None when unpinned or not writable
        groups = cls(pids, memory, mem_limit_mb, cpuset)
        if spec.cgroup_note is not None:
            with contextlib.suppress(OSError):
                spec.cgroup_note.write_text("".join(f"{p}\n" for p in groups.paths()))
        return groups

    def paths(self) -> list[Path]:
        return [g.path for g in (self.pids, self.memory, self.cpuset) if g is not None]

    def remove(self) -> None:
        for g in (self.pids, self.memory, self.cpuset):
            if g is not None:
                g.remove()


def launcher_options(spec: SandboxSpec, groups: _Groups, status_fd: int) -> list[str]:
    """What the launcher applies to itself before it execs the sandbox (see _launch.py)."""
    mem = spec.memory_mb * 1024 * 1024
    cpu = int(cpu_limit_of(spec)) + 1
    fs = file_size_mb(spec) * 1024 * 1024
    opts = [f"status-fd={status_fd}", f"parent={os.getpid()}"]  # killed if the harness dies
    opts += [f"cgroup={path}" for path in groups.paths()]
    opts.append(f"rlimit-as={mem}:{mem}")
    opts.append(f"rlimit-cpu={cpu}:{cpu + 1}")
    opts.append(f"rlimit-fsize={fs}:{fs}")
    opts.append("rlimit-core=0:0")
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nofile = MAX_OPEN_FILES if hard == resource.RLIM_INFINITY else min(MAX_OPEN_FILES, hard)
    opts.append(f"rlimit-nofile={nofile}:{nofile}")
    if spec.cores:
        opts.append("cpus=" + ",".join(str(c) for c in spec.cores))
    return opts


def _read_status(fd: int, timeout: float) -> str:
    """The launcher's report: "" once the pipe reaches EOF (the sandbox was exec'ed), else
    why it failed. Closes `fd`."""
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return f"the sandbox launcher did not start within {timeout:g}s"
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            data = os.read(fd, 4096)
            if not data:
                return b"".join(chunks).decode("utf-8", "replace")
            chunks.append(data)
    finally:
        os.close(fd)


def _start(spec: SandboxSpec, backend: str, groups: _Groups,
           log: IO[bytes]) -> tuple[subprocess.Popen[bytes] | None, str]:
    """Start the launcher and wait until it has exec'ed the sandbox: (process, "") or
    (process or None, why it could not start)."""
    r, w = os.pipe()
    try:
        argv = [sys.executable, "-S", "-I", str(LAUNCHER), *launcher_options(spec, groups, w),
                "--", *_wrap(spec, backend)]
        try:
            proc = subprocess.Popen(argv, cwd=spec.cwd, env=clean_env(spec),
                                    stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, pass_fds=(w,),
                                    start_new_session=True)
        except OSError as e:
            os.close(r)
            return None, str(e)
    finally:
        os.close(w)
    return proc, _read_status(r, START_TIMEOUT)


def _reap(proc: subprocess.Popen[bytes], groups: _Groups) -> None:
    """End a launcher that failed (or hung) before the sandbox started."""
    kill_tree(proc.pid, groups.pids)
    with contextlib.suppress(ChildProcessError):
        _, status = os.waitpid(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)


@dataclass
class _Ended:
    status: int
    usage: resource.struct_rusage
    wall: float
    watchdog: Watchdog


def _disk_roots(spec: SandboxSpec) -> list[Path]:
    return list(dict.fromkeys([spec.cwd, *spec.writable]))


def _supervise(spec: SandboxSpec, proc: subprocess.Popen[bytes], groups: _Groups) -> _Ended:
    """Time the run from the moment the sandbox was exec'ed until its main process ends, with
    the watchdog enforcing the wall-time, disk and output limits meanwhile."""
    disk = None
    if spec.disk_mb:
        disk = DiskLimit(_disk_roots(spec), spec.disk_mb, lambda: run_pids(proc.pid, groups.pids))
    output = OutputLimit(spec.log_path, spec.output_mb)

    def kill() -> float:
        # The processes the kill takes are never reaped by us, so wait4's rusage will miss
        # their CPU time (and the foreign-load estimate would call it foreign): read it first.
        cpu = cpu_seconds_of(run_pids(proc.pid, groups.pids))
        kill_tree(proc.pid, groups.pids)
        return cpu

    dog = Watchdog(spec.time_limit, disk, DISK_POLL_SECONDS, kill, output)
    t0 = time.perf_counter()
    dog.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    dog.stop()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return _Ended(status, usage, wall, dog)


def _end_facts(spec: SandboxSpec, groups: _Groups, ended: _Ended) -> EndFacts:
    disk_excess = ended.watchdog.disk_excess
    if spec.disk_mb and not disk_excess:
        disk_excess = DiskLimit(_disk_roots(spec), spec.disk_mb).excess()  # a burst between polls
    output_excess = (ended.watchdog.output_excess
                     or OutputLimit(spec.log_path, spec.output_mb).excess())
    usage = ended.usage
    return EndFacts(
        wait_status=ended.status,
        timed_out=ended.watchdog.timed_out,
        time_limit=spec.time_limit,
        disk_excess=disk_excess,
        output_excess=output_excess,
        oom_kills=groups.memory.oom_kills() if groups.memory is not None else 0,
        memory_limit_mb=groups.memory_limit_mb,
        cpu_seconds=max(usage.ru_utime + usage.ru_stime, ended.watchdog.cpu_at_kill),
        cpu_limit=cpu_limit_of(spec),
        pids_limit_hits=groups.pids.limit_hits() if groups.pids is not None else 0,
        max_processes=spec.max_processes,
        max_file_mb=file_size_mb(spec),
    )


def run_sandboxed(spec: SandboxSpec, backend: str | None = None) -> RunFacts:
    """Run `spec.argv` in the sandbox; never raises for anything the command does."""
    backend = backend or detect_backend()
    spec = dataclasses.replace(spec, argv=[sys.executable if a == "python" else a
                                           for a in spec.argv])
    spec.log_path.parent.mkdir(parents=True, exist_ok=True)
    started_at = time.time()
    groups = _Groups.create(spec)
    try:
        # Foreign load counts busy time on the run's own cores when it is pinned (work pinned
        # to other cores, e.g. a parallel evaluator, does not disturb it), machine-wide otherwise.
        busy0 = busy_seconds(spec.cores)
        self0 = time.process_time()
        with open(spec.log_path, "wb") as log:
            error = invisible_program(spec, backend)
            proc = None
            if not error:
                proc, error = _start(spec, backend, groups, log)
            if proc is not None and error:
                _reap(proc, groups)
            if proc is None or error:
                return _run_facts(spec, backend, started_at, exit_code=None, wall_seconds=0.0,
                                  cpu_seconds=0.0, peak_memory_mb=0.0, foreign_load=0.0,
                                  kill_reason=KillReason.START_FAILED,
                                  killed_reason=f"could not start: {error}",
                                  output_tail=read_tail(spec.log_path))
            ended = _supervise(spec, proc, groups)
        leftovers = kill_tree(proc.pid, groups.pids)
        end = _end_facts(spec, groups, ended)
    finally:
        groups.remove()
    kill, why = decide_kill(end)
    busy = busy_seconds(spec.cores) - busy0
    # the harness's own CPU is not foreign; on a pinned run only what ran on its cores counts,
    # and the harness process may run elsewhere, so its time is not subtracted there
    self_cpu = 0.0 if spec.cores else time.process_time() - self0
    wall = ended.wall
    foreign = max(0.0, (busy - end.cpu_seconds - self_cpu) / wall) if wall > 0 else 0.0
    return _run_facts(
        spec, backend, started_at,
        exit_code=None if end.timed_out else proc.returncode,
        wall_seconds=wall,
        cpu_seconds=end.cpu_seconds,
        peak_memory_mb=ended.usage.ru_maxrss / 1024.0,
        foreign_load=foreign,
        timed_out=end.timed_out,
        kill_reason=kill,
        killed_reason=why,
        output_tail=read_tail(spec.log_path),
        leftover_processes=leftovers,
    )


def _run_facts(spec: SandboxSpec, backend: str, started_at: float, **observed: Any) -> RunFacts:
    return RunFacts(sandbox=backend, seed=spec.seed, started_at=started_at,
                    cores=list(spec.cores), threads=spec.threads, **observed)
