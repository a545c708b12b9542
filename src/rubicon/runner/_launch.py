"""The sandbox launcher: a tiny exec wrapper between the harness and the sandbox.

    python -S -I _launch.py status-fd=N parent=PID cgroup=DIR... cpus=1,2 rlimit-as=S:H ... -- ARGV...

It arranges to be killed when the harness dies (`parent`), joins the run's cgroups, sets the
resource limits and the core affinity on itself, then execs ARGV (the sandbox command), so
everything the run starts inherits them. The harness starts it with subprocess's own
`start_new_session` instead of a `preexec_fn` (which runs Python code between fork and exec
while other harness threads hold locks: a deadlock risk).

Status: `status-fd` is a pipe to the harness, closed on exec. EOF without data means ARGV was
exec'ed; otherwise the launcher wrote why it failed and exited with EXIT_FAILED. The harness
starts its wall clock at that EOF, so the launcher's own start (~10 ms) is not timed.

Standalone on purpose: only the standard library (it runs with -S -I, before any sandbox).
"""

from __future__ import annotations

import os
import resource
import sys

EXIT_FAILED = 127
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent(parent: int) -> None:
    """Be killed (SIGKILL, kept across exec) when the harness thread that started us ends: what
    bubblewrap's --die-with-parent gives, for every backend (a meta-task's evaluator runs
    outside bubblewrap and must not outlive a harness killed with -9)."""
    import ctypes
    import signal

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # the harness died before the signal was armed
        raise OSError(f"the harness (pid {parent}) ended before the run started")


def _rlimit(name: str, value: str) -> None:
    soft, _, hard = value.partition(":")
    limit = getattr(resource, "RLIMIT_" + name.upper())
    resource.setrlimit(limit, (int(soft), int(hard or soft)))


def _apply(option: str) -> None:
    key, sep, value = option.partition("=")
    if not sep:
        raise ValueError(f"option {option!r} is not key=value")
    if key == "cgroup":
        with open(os.path.join(value, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))
    elif key == "parent":
        _die_with_parent(int(value))
    elif key == "cpus":
        os.sched_setaffinity(0, [int(c) for c in value.split(",")])
    elif key.startswith("rlimit-"):
        _rlimit(key.removeprefix("rlimit-"), value)
    elif key != "status-fd":
        raise ValueError(f"unknown option {option!r}")


def main(argv: list[str]) -> int:
    if "--" not in argv:
        print("usage: _launch.py [key=value ...] -- ARGV...", file=sys.stderr)
        return 2
    sep = argv.index("--")
    options, command = argv[:sep], argv[sep + 1:]
    status_fd = -1
    for option in options:
        if option.startswith("status-fd="):
            status_fd = int(option.partition("=")[2])
    step = "start"
    try:
        if not command:
            raise ValueError("no command after --")
        for option in options:
            step = option
            _apply(option)
        step = f"exec {command[0]}"
        if status_fd >= 0:
            os.set_inheritable(status_fd, False)  # closed by the exec: the harness sees EOF
        os.execvp(command[0], command)
    except Exception as e:  # noqa: BLE001 - every failure is reported to the harness
        message = f"{step}: {type(e).__name__}: {e}"
        if status_fd >= 0:
            os.write(status_fd, message.encode("utf-8", "replace")[:2000])
        else:
            print(f"launcher: {message}", file=sys.stderr)
    return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
