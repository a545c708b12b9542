"""The real cause when the sandbox does not work here: what `rubicon doctor` shows, and what a
campaign says when its baseline fails because of the machine rather than the task.

Each check is a row (check, status, detail); status is "ok", "warn", "FAIL" or "skip" (not
checked because an earlier check failed -- a dependent check never reports a misleading
failure of its own, e.g. "network blocked: FAIL" when python did not even start).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rubicon.runner._cgroup import writable_controllers
from rubicon.runner._root import interpreter_paths
from rubicon.runner.sandbox import SandboxSpec, detect_backend, run_sandboxed
from rubicon.types import KillReason, RunFacts

Row = tuple[str, str, str]

_USERNS_KNOBS = (
    ("/proc/sys/user/max_user_namespaces", "0",
     "user namespaces are disabled (user.max_user_namespaces = 0); enable: "
     "sysctl -w user.max_user_namespaces=15000"),
    ("/proc/sys/kernel/unprivileged_userns_clone", "0",
     "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0); "
     "enable: sysctl -w kernel.unprivileged_userns_clone=1"),
    ("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1",
     "AppArmor restricts unprivileged user namespaces "
     "(kernel.apparmor_restrict_unprivileged_userns = 1, Ubuntu 23.10+); allow bwrap with an "
     "AppArmor profile, or sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"),
)


def userns_problem() -> str:
    """Which kernel setting forbids the user namespaces bubblewrap needs; "" when none does."""
    for path, bad, why in _USERNS_KNOBS:
        try:
            value = Path(path).read_text().strip()
        except OSError:
            continue
        privileged = os.geteuid() == 0 and "unprivileged" in path
        if value == bad and not privileged:
            return why
    return ""


def bwrap_problem() -> str:
    """Why bubblewrap cannot make a sandbox here; "" when it can."""
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (apt-get install bubblewrap, or dnf install bubblewrap)"
    try:
        r = subprocess.run(["bwrap", "--ro-bind", "/", "/", "--unshare-all", "true"],
                           capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as e:
        return f"bwrap does not run: {e}"
    if r.returncode == 0:
        return ""
    said = r.stderr.strip().splitlines()[-1:] or [f"exit code {r.returncode}"]
    cause = userns_problem()
    return f"bwrap fails: {said[0][:200]}" + (f"; cause: {cause}" if cause else "")


def environment_problem(facts: RunFacts, reason: str = "") -> str:
    """The machine's fault in a failed run, when the facts show one: the sandbox could not start
    the command, or bubblewrap itself failed before the command ran (its own error line).
    Advisory text for messages only -- never a verdict."""
    if facts.kill_reason == KillReason.START_FAILED:
        return facts.killed_reason
    if "evaluator failed (could not start" in reason:
        return reason
    lines = [ln for ln in facts.output_tail.splitlines() if ln.strip()]
    first = lines[0] if lines else ""
    if facts.sandbox in ("bwrap", "unshare") and first.startswith(f"{facts.sandbox}: "):
        why = f"the {facts.sandbox} sandbox failed before the command ran: {first[:200]}"
        if "execvp" in first:
            why += (" (the program is not visible inside the sandbox: it shows only system "
                    "dirs, the interpreter's own directories, the workspace and declared inputs)")
        cause = userns_problem()
        return why + (f"; cause: {cause}" if cause else "")
    return ""


def backend_rows(backend: str) -> list[Row]:
    """Which sandbox runs, why not a better one, and what the weaker ones cannot hide."""
    if backend == "bwrap":
        where = ", ".join(str(p) for p in interpreter_paths()) or "under /usr"
        return [("sandbox backend", "ok", "bwrap"),
                ("host files hidden from runs", "ok",
                 f"minimal root: /usr, /lib*, a few /etc files, the interpreter ({where}), "
                 "the workspace and declared inputs; no home, no other checkouts, no /var")]
    forced = os.environ.get("RUBICON_SANDBOX")
    why = f"forced by RUBICON_SANDBOX={forced}" if forced else f"no bubblewrap: {bwrap_problem()}"
    if backend == "unshare":
        return [("sandbox backend", "warn", f"unshare ({why})"),
                ("host files hidden from runs", "FAIL",
                 "NO: with `unshare` a run can read every file the harness can -- home "
                 "directories, other checkouts and stores, credentials; use bubblewrap")]
    return [("sandbox backend", "FAIL", f"none: no sandbox at all ({why})"),
            ("host files hidden from runs", "FAIL",
             "NO: runs read and write with the harness's rights and have the network")]


def python_row(facts: RunFacts) -> Row:
    """Whether the interpreter starts inside the sandbox, and if not, why."""
    if facts.exit_code == 0 and "alive" in facts.output_tail:
        return ("python in the sandbox", "ok", sys.executable)
    cause = environment_problem(facts) or (
        f"exit code {facts.exit_code}: {facts.output_tail.strip()[-200:]}")
    return ("python in the sandbox", "FAIL", f"{sys.executable} does not start: {cause}")


def cgroup_rows() -> list[Row]:
    found = writable_controllers()
    lost = {"pids": "a fork bomb is stopped only by the wall-time kill",
            "memory": "RAM held in tmpfs or memfds is capped only by the tmpfs sizes",
            "cpuset": "a run can widen its cores with sched_setaffinity (then caught only by "
                      "the CPU-time-over-wall check)"}
    return [(f"cgroup {name}", "ok" if name in found else "warn",
             "writable" if name in found else f"not writable: {lost[name]}") for name in lost]


def sandbox_rows() -> list[Row]:
    """Every sandbox check of `rubicon doctor`, dependent ones skipped with the reason."""
    backend = detect_backend()
    rows = backend_rows(backend)
    with tempfile.TemporaryDirectory() as d:
        ws = Path(d)
        probe = ("import socket,os\nprint('alive')\ntry:\n"
                 " socket.create_connection(('127.0.0.1',9),0.5);print('net')\n"
                 "except OSError:\n print('nonet')\nprint(os.getpid())")
        t0 = time.perf_counter()
        f = run_sandboxed(SandboxSpec(argv=["python", "-c", probe], cwd=ws, log_path=ws / "log"))
        dt = time.perf_counter() - t0
        rows.append(python_row(f))
        if rows[-1][1] != "ok":
            skip = "not checked: python does not start in the sandbox (see above)"
            rows += [(name, "skip", skip) for name in
                     ("network blocked", "own pid namespace", "memory limit")]
            return rows + cgroup_rows()
        out = f.output_tail.split()
        rows.append(("network blocked", "ok" if "nonet" in out else "FAIL",
                     "loopback refused" if "nonet" in out else "a run reached 127.0.0.1"))
        pid_ok = out[-1:] == ["1"]
        rows.append(("own pid namespace", "ok" if pid_ok else "warn",
                     "the run is pid 1" if pid_ok else
                     f"pid {out[-1:]}: the {backend} backend shows the host's processes"))
        rows.append(("sandboxed python start", "ok", f"{dt * 1000:.0f} ms"))
        f = run_sandboxed(SandboxSpec(argv=["python", "-c", "b=bytearray(2**31)"], cwd=ws,
                                      log_path=ws / "log", memory_mb=512))
        held = f.exit_code != 0
        rows.append(("memory limit", "ok" if held else "FAIL",
                     f.killed_reason or ("a 2 GiB allocation failed under a 512 MiB limit" if held
                                         else "a 2 GiB allocation succeeded under 512 MiB")))
    return rows + cgroup_rows()
