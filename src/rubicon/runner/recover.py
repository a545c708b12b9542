"""Recovery after a campaign process died (kill -9, OOM, power): find and end orphaned sandbox
processes of a campaign directory, remove stale per-run cgroups and leftover trial directories.

Sandboxes start with `bwrap --die-with-parent`, so the kernel normally ends them with the
campaign; this is the backstop (the `unshare`/`none` backends have no such guarantee).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from pathlib import Path

from rubicon.runner._files import remove_tree

_OWNED = re.compile(r"p(\d+)\.")
CGROUP_ROOTS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup/memory"),
                Path("/sys/fs/cgroup/cpuset"), Path("/sys/fs/cgroup/unified"),
                Path("/sys/fs/cgroup"))


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def _ppid(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat.rsplit(")", 1)[1].split()[1])


def _cwd(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return ""


def _is_bwrap(pid: int) -> bool:
    args = _cmdline(pid)
    return bool(args) and Path(args[0]).name == "bwrap"


def processes_under(directory: Path) -> list[int]:
    """Live processes (not this one) whose command line or working directory points inside
    `directory`: sandboxes (bwrap binds and hides it) and the commands they run."""
    root = str(directory.resolve())
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        pid = int(entry.name)
        cwd = _cwd(pid)
        args = _cmdline(pid)
        if (cwd == root or cwd.startswith(root + "/")
                or any(a == root or a.startswith(root + "/") for a in args)):
            out.append(pid)
    return out


def orphans_under(directory: Path) -> list[int]:
    """Sandbox processes of `directory` whose owner died. Only sandboxes count: a bwrap whose
    command line names `directory`, or a process working inside `directory/work` (a run or an
    evaluator). Walking up through such parents, the first other ancestor is init or gone."""
    root = str(directory.resolve())
    work = root + "/work/"
    pids = set(processes_under(directory))
    sandboxes = {p for p in pids if _is_bwrap(p) or _cwd(p).startswith(work)}
    out = []
    for pid in sandboxes:
        top = pid
        for _ in range(64):
            parent = _ppid(top)
            if parent in sandboxes or (parent > 1 and _is_bwrap(parent)):
                top = parent
                continue
            if parent <= 1 or not Path(f"/proc/{parent}").exists():
                out.append(pid)
            break
    return out


def kill_orphans(directory: Path) -> int:
    """SIGKILL orphaned sandbox processes of `directory`; returns how many were found."""
    found = orphans_under(directory)
    for pid in found:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return len(found)


def stale_cgroups(min_age: float = 120.0) -> list[Path]:
    """Empty per-run `rubicon-*` cgroups (pids, memory, cpuset) older than `min_age` seconds
    (a live run's group holds its processes; an empty old one belongs to a run whose harness
    died)."""
    out = []
    now = time.time()
    for root in CGROUP_ROOTS:
        if not (root / "cgroup.procs").exists():
            continue
        try:
            entries = list(root.glob("rubicon-*"))
        except OSError:
            continue
        for g in entries:
            try:
                procs = (g / "cgroup.procs").read_text().split()
                age = now - g.stat().st_mtime
            except OSError:
                continue
            if not procs and age >= min_age:
                out.append(g)
    return out


def clean_cgroups(min_age: float = 120.0) -> int:
    """Remove stale per-run cgroups; returns how many were removed."""
    n = 0
    for g in stale_cgroups(min_age):
        try:
            g.rmdir()
            n += 1
        except OSError:
            continue
    return n


def owner_pid(trial_dir: Path) -> int | None:
    """The pid of the harness that made a trial directory named `p<pid>.<label>-...`."""
    m = _OWNED.match(trial_dir.name)
    return int(m.group(1)) if m else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_noted_cgroups(trial_dir: Path) -> int:
    """Remove the cgroups a run in `trial_dir` noted (SandboxSpec.cgroup_note) and that its dead
    harness never removed; their processes are killed first. Returns groups removed."""
    n = 0
    for note in trial_dir.glob("cgroups-*"):
        try:
            paths = [Path(x) for x in note.read_text().split() if x]
        except OSError:
            continue
        for g in paths:
            if not g.name.startswith("rubicon-") or not g.is_dir():
                continue
            for _ in range(20):
                try:
                    pids = [int(x) for x in (g / "cgroup.procs").read_text().split()]
                except OSError:
                    pids = []
                if not pids:
                    break
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, signal.SIGKILL)
                time.sleep(0.01)
            for _ in range(50):
                try:
                    g.rmdir()
                    n += 1
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)
    return n


def stale_trial_dirs(work: Path) -> list[Path]:
    """Trial directories in `work` whose harness process is gone."""
    if not work.is_dir():
        return []
    out = []
    for d in work.iterdir():
        pid = owner_pid(d)
        if pid is not None and pid != os.getpid() and not _alive(pid):
            out.append(d)
    return out


def recover(campaign_dir: Path) -> dict[str, int]:
    """Everything a resume needs before it runs: orphaned sandbox processes ended, the cgroups
    and trial directories of dead harnesses removed, old empty rubicon cgroups removed."""
    killed = kill_orphans(campaign_dir)
    if killed:
        time.sleep(0.05)
    groups = dirs = 0
    for d in stale_trial_dirs(campaign_dir / "work"):
        groups += remove_noted_cgroups(d)
        remove_tree(d)
        dirs += 1
    return {"orphans_killed": killed, "cgroups_removed": groups + clean_cgroups(),
            "work_dirs_removed": dirs}
