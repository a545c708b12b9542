"""Run one command in a sandbox with limits; report what was observed (RunFacts).

Backends, best first (RUBICON_SANDBOX forces one):
  bwrap   bubblewrap: user, pid, net, ipc namespaces; read-only root; private /tmp; hidden paths
  unshare util-linux unshare: user, pid, net namespaces only (files are NOT hidden) -- warned
  none    plain subprocess with limits only -- loudly warned, for machines with neither
Limits in every backend: RLIMIT_AS (memory), RLIMIT_CPU, RLIMIT_FSIZE, core pinning, a process-
group kill on the wall-time limit, and a cgroup `pids` group where writable (fork bombs,
daemonized leftovers).
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from rubicon.runner._cgroup import MemoryGroup, PidsGroup
from rubicon.types import RunFacts

TAIL_BYTES = 4000
_CLK = os.sysconf("SC_CLK_TCK")


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
    # Total bytes the run may leave in `cwd` (None: unchecked). Enforced by polling during the run
    # and a final check after it (red-team: filling the disk through the writable workspace).
    disk_mb: int | None = None
    hidden: list[Path] = field(default_factory=list)  # made invisible (empty tmpfs)
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


def _wrap(spec: SandboxSpec, backend: str) -> list[str]:
    if backend == "bwrap":
        cmd = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        # tmpfs lives in RAM, outside RLIMIT_AS: each one is capped at the run's memory budget
        # (red-team: filling /tmp or /dev/shm to exhaust the host's memory).
        tmpfs_size = str(spec.memory_mb * 1024 * 1024)
        cmd += ["--size", tmpfs_size, "--tmpfs", "/tmp"]
        cmd += ["--size", tmpfs_size, "--tmpfs", "/dev/shm"]
        cmd += ["--dir", "/tmp/home", "--remount-ro", "/dev"]  # no unbounded files in /dev
        under_run = any(_is_under(p, Path("/run")) for p in [spec.cwd, *spec.writable])
        if not spec.network and not under_run:
            # Filesystem UNIX sockets ignore read-only mounts and network namespaces: hide the
            # usual place of host services (dbus, docker, ...). /var/run links here.
            cmd += ["--tmpfs", "/run", "--remount-ro", "/run"]
        for h in spec.hidden:
            if h.exists():
                cmd += ["--tmpfs", str(h)]
        for r in spec.readonly:
            cmd += ["--ro-bind", str(r), str(r)]
        for w in [spec.cwd, *spec.writable]:
            cmd += ["--bind", str(w), str(w)]
        for h in spec.hidden:
            if h.exists() and h not in (spec.cwd, *spec.writable):
                # read-only once the binds inside it exist: a write to `../x` or into the hidden
                # task dir fails loudly instead of landing in a throwaway tmpfs
                cmd += ["--remount-ro", str(h)]
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


def _is_under(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root.resolve())


RUN_MEMORY_FACTOR = 2  # the whole run's RAM (memory cgroup) vs the per-process RLIMIT_AS
DISK_POLL_SECONDS = 0.1
MAX_FILES = 100_000  # entries in the workspace; more is treated as filling the disk


def disk_usage(root: Path, limit_bytes: int) -> tuple[int, int]:
    """Bytes (allocated or apparent, whichever is larger) and entries below `root`, without
    following symlinks. Stops counting early once `limit_bytes` or MAX_FILES is passed."""
    total = entries = 0
    stack = [str(root)]
    while stack:
        try:
            it = os.scandir(stack.pop())
        except OSError:
            continue
        with it:
            for e in it:
                entries += 1
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                total += max(st.st_size, st.st_blocks * 512)
                if e.is_dir(follow_symlinks=False):
                    stack.append(e.path)
                if total > limit_bytes or entries > MAX_FILES:
                    return total, entries
    return total, entries


def _busy_of(parts: list[str]) -> float:
    vals = [int(x) for x in parts]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)  # idle + iowait
    guest = sum(vals[8:10]) if len(vals) > 9 else 0  # already counted in user/nice
    return (sum(vals) - idle - guest) / _CLK


def _busy_seconds(cores: list[int] | None = None) -> float:
    """Busy CPU seconds so far from /proc/stat: machine-wide (the `cpu` line), or summed over
    the per-CPU lines `cpuN` of `cores` only."""
    try:
        with open("/proc/stat") as f:
            if not cores:
                return _busy_of(f.readline().split()[1:])
            want = {f"cpu{c}" for c in cores}
            return sum(_busy_of(line.split()[1:]) for line in f
                       if line.startswith("cpu") and line.split(maxsplit=1)[0] in want)
    except (OSError, ValueError, IndexError):
        return 0.0


_CTRL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def read_tail(path: Path, nbytes: int = TAIL_BYTES) -> str:
    """Last bytes of a log as printable text (garbage bytes replaced, control chars dropped)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - nbytes))
            data = f.read()
    except OSError:
        return ""
    return _CTRL.sub("", data.decode("utf-8", errors="replace"))


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


def run_sandboxed(spec: SandboxSpec, backend: str | None = None) -> RunFacts:
    """Run `spec.argv` in the sandbox; never raises for anything the command does."""
    backend = backend or detect_backend()
    argv = [sys.executable if a == "python" else a for a in spec.argv]
    spec = SandboxSpec(**{**spec.__dict__, "argv": argv})
    group = PidsGroup.create(spec.max_processes + 8)  # +8: sandbox helper processes
    # RAM of the whole run (processes + tmpfs + memfds) may reach twice the per-process limit
    mem_limit_mb = RUN_MEMORY_FACTOR * spec.memory_mb
    mem_group = MemoryGroup.create(mem_limit_mb * 1024 * 1024)
    if spec.cgroup_note is not None:
        with contextlib.suppress(OSError):
            spec.cgroup_note.write_text(
                "".join(f"{g.path}\n" for g in (group, mem_group) if g is not None))
    cpu_limit = spec.cpu_limit or 2 * spec.time_limit * max(1, spec.threads) + 5

    def preexec() -> None:  # runs in the child between fork and exec
        mem = spec.memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        c = int(cpu_limit) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (c, c + 1))
        fs = min(spec.max_file_mb, spec.disk_mb or spec.max_file_mb) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (fs, fs))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if spec.cores:
            os.sched_setaffinity(0, spec.cores)
        if group is not None:
            group.add_self()
        if mem_group is not None:
            mem_group.add_self()

    spec.log_path.parent.mkdir(parents=True, exist_ok=True)
    killed_reason = ""
    timed_out = False
    cpu_at_kill = 0.0
    started_at = time.time()
    # Foreign load counts busy time on the run's own cores when it is pinned (work pinned to
    # other cores, e.g. a parallel evaluator, does not disturb it), machine-wide otherwise.
    busy0 = _busy_seconds(spec.cores)
    self0 = time.process_time()
    with open(spec.log_path, "wb") as log:
        t0 = time.perf_counter()
        try:
            proc = subprocess.Popen(
                _wrap(spec, backend),
                cwd=spec.cwd,
                env=clean_env(spec),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=preexec,
            )
        except OSError as e:
            for g in (group, mem_group):
                if g is not None:
                    g.remove()
            return RunFacts(
                exit_code=None, wall_seconds=0.0, cpu_seconds=0.0, peak_memory_mb=0.0,
                foreign_load=0.0, killed_reason=f"could not start: {e}", sandbox=backend,
                seed=spec.seed, started_at=started_at, cores=spec.cores, threads=spec.threads,
            )
        done = threading.Event()
        disk_limit = (spec.disk_mb or 0) * 1024 * 1024

        def over_disk() -> str:
            used, n = disk_usage(spec.cwd, disk_limit)
            if used > disk_limit or n > MAX_FILES:
                return (f"disk limit {spec.disk_mb} MiB in the workspace "
                        f"(found {used / 2**20:.0f} MiB in {n} entries)")
            return ""

        def kill_now() -> None:
            # The processes the kill takes are never reaped by us, so wait4's rusage will miss
            # their CPU time (and the foreign-load estimate would call it foreign): read it first.
            nonlocal cpu_at_kill
            cpu_at_kill = _cpu_seconds_of(_run_pids(proc.pid, group))
            _kill_tree(proc.pid, group)

        def watchdog() -> None:
            nonlocal timed_out, killed_reason
            deadline = time.perf_counter() + spec.time_limit
            while True:
                # poll the workspace size when limited (one wait otherwise, as before)
                step = DISK_POLL_SECONDS if disk_limit else spec.time_limit
                left = deadline - time.perf_counter()
                if done.wait(max(0.0, min(step, left))):
                    return
                if disk_limit and (why := over_disk()):
                    killed_reason = why
                    kill_now()
                    return
                if time.perf_counter() >= deadline:
                    timed_out = True
                    killed_reason = f"wall-time limit {spec.time_limit:g}s"
                    kill_now()
                    return

        threading.Thread(target=watchdog, daemon=True).start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        done.set()
        proc.returncode = os.waitstatus_to_exitcode(status)
    leftovers = _kill_tree(proc.pid, group)
    if disk_limit and not killed_reason and (why := over_disk()):
        killed_reason = why  # a burst between two polls, caught after the run
    oom = mem_group.oom_kills() if mem_group is not None else 0
    for g in (group, mem_group):
        if g is not None:
            g.remove()
    if oom and not killed_reason:
        killed_reason = (f"memory limit {mem_limit_mb} MiB for the whole run "
                         f"(processes, tmpfs and memfds together)")
    busy = _busy_seconds(spec.cores) - busy0
    cpu = max(usage.ru_utime + usage.ru_stime, cpu_at_kill)
    # the harness's own CPU is not foreign; on a pinned run only what ran on its cores counts,
    # and the harness process may run elsewhere, so its time is not subtracted there
    self_cpu = 0.0 if spec.cores else time.process_time() - self0
    foreign = max(0.0, (busy - cpu - self_cpu) / wall) if wall > 0 else 0.0
    code = proc.returncode
    # bwrap and unshare report a child killed by signal N as exit status 128 + N
    sig = -code if code < 0 else code - 128 if backend != "none" and code > 128 else 0
    if not killed_reason and cpu >= cpu_limit:
        killed_reason = f"CPU-time limit {cpu_limit:g}s"
    if not killed_reason and 0 < sig < 65:
        killed_reason = {
            signal.SIGXCPU: f"CPU-time limit {cpu_limit:g}s",
            signal.SIGKILL: "killed (SIGKILL; memory or process limit?)",
            signal.SIGXFSZ: f"file-size limit {spec.max_file_mb} MiB",
        }.get(signal.Signals(sig), f"killed by signal {sig}")
    tail = read_tail(spec.log_path)
    if not killed_reason and "MemoryError" in tail:
        killed_reason = f"memory limit {spec.memory_mb} MiB (MemoryError)"
    return RunFacts(
        exit_code=None if timed_out else code,
        wall_seconds=wall,
        cpu_seconds=cpu,
        peak_memory_mb=usage.ru_maxrss / 1024.0,
        foreign_load=foreign,
        timed_out=timed_out,
        killed_reason=killed_reason,
        output_tail=tail,
        cores=list(spec.cores),
        threads=spec.threads,
        sandbox=backend,
        seed=spec.seed,
        started_at=started_at,
        leftover_processes=leftovers,
    )


def _run_pids(pid: int, group: PidsGroup | None) -> list[int]:
    """The run's live processes: its cgroup's, else its process group's."""
    if group is not None:
        return group.pids()
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                if int((d / "stat").read_text().rsplit(")", 1)[1].split()[2]) == pid:
                    out.append(int(d.name))
    return out


def _cpu_seconds_of(pids: list[int]) -> float:
    """CPU seconds used so far by these processes and their reaped children (/proc/PID/stat)."""
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def _kill_tree(pid: int, group: PidsGroup | None) -> int:
    """Kill the run's process group and everything in its cgroup; return survivors found."""
    n = 0
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    if group is not None:
        n = group.kill_all()
    return n
