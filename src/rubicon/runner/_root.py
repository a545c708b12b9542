"""The sandbox's minimal root (bubblewrap): what a run can see of the host, as an allow-list.

A run sees only:
- the system's programs and libraries: /usr, /bin, /sbin, /lib* (symlinks kept as symlinks),
  /nix/store where it exists;
- a minimal /etc: the dynamic linker's cache and config, name-service files (passwd, group,
  hosts, nsswitch), time zone, CA certificates, Debian's python and alternatives links --
  never shadow, ssh keys, or the host's other files;
- /sys/devices/system/{cpu,node} (core counts and caches: torch, OpenMP and glibc read them);
- the interpreter's own prefix and environment wherever it lives (sys.prefix, base_prefix,
  exec_prefix, the site-packages on sys.path, the executable's directory; a virtualenv under
  /tmp included: these are bound after the private /tmp is made);
- and what the caller adds: the run's workspace, declared read-only inputs, extra writable
  directories.
Everything else (home directories, other checkouts and stores, /var, /opt, /srv, /mnt, the
host's /tmp and /run) does not exist inside. The root itself is an empty read-only tmpfs.

Before this allow-list the sandbox bound the whole host read-only and hid a few paths (the
task, the campaign, the built-in tasks): a copy of a secret anywhere else was readable
(red-team: tests/redteam/test_trials.py::test_other_stores_on_the_host_are_hidden).
"""

from __future__ import annotations

import functools
import glob
import os
import site
import sys
from pathlib import Path

# /nix/store: where a Nix-built interpreter finds its libraries (immutable, world-readable)
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/nix/store")
ETC_ENTRIES = (
    "ld.so.cache", "ld.so.conf", "ld.so.conf.d",  # the dynamic linker
    "nsswitch.conf", "passwd", "group", "hosts", "host.conf", "gai.conf", "resolv.conf",
    "protocols", "services",  # names (getpwuid, getaddrinfo; DNS when a task has the network)
    "localtime", "timezone", "os-release", "alternatives",
    "ssl/certs", "ssl/openssl.cnf", "pki/tls/certs", "pki/ca-trust/extracted",  # CA certificates
    "matplotlibrc",
)
ETC_GLOBS = ("python3*",)  # Debian's system python keeps sitecustomize.py there
SYS_ENTRIES = ("/sys/devices/system/cpu", "/sys/devices/system/node")


def _under(path: Path, roots: list[Path]) -> bool:
    return any(path == r or path.is_relative_to(r) for r in roots)


def _etc_paths() -> list[str]:
    etc = [f"/etc/{e}" for e in ETC_ENTRIES]
    etc += sorted(p for g in ETC_GLOBS for p in glob.glob(f"/etc/{g}"))
    return [p for p in etc if os.path.lexists(p)]


@functools.cache
def system_args() -> tuple[str, ...]:
    """bwrap arguments for the system part of the root (before /dev, /proc and /tmp)."""
    args: list[str] = []
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    for path in _etc_paths():
        args += ["--ro-bind-try", path, path]  # a symlink is followed: its target is bound
    for path in SYS_ENTRIES:
        if os.path.isdir(path):
            args += ["--ro-bind", path, path]
    return tuple(args)


@functools.cache
def system_roots() -> tuple[Path, ...]:
    """The system paths a run sees (for deciding what else is visible)."""
    return tuple(Path(d) for d in (*SYSTEM_DIRS, *SYS_ENTRIES, *_etc_paths()))


@functools.cache
def interpreter_paths() -> tuple[Path, ...]:
    """The interpreter's own directories outside the system dirs, outermost only: each as
    given and as its real path (a symlinked venv or prefix works under both names)."""
    found = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             os.path.dirname(sys.executable), os.path.dirname(os.path.realpath(sys.executable))}
    found.update(p for p in sys.path if os.path.basename(p) in ("site-packages", "dist-packages"))
    found.update(site.getsitepackages())
    paths: set[Path] = set()
    for p in found:
        if not p or not os.path.isdir(p):
            continue
        for q in (Path(os.path.abspath(p)), Path(os.path.realpath(p))):
            if q != Path("/") and not _under(q, [Path(d) for d in SYSTEM_DIRS]):
                paths.add(q)
    ordered = sorted(paths, key=lambda q: len(q.parts))
    outer: list[Path] = []
    for q in ordered:
        if not _under(q, outer):
            outer.append(q)
    return tuple(outer)


def interpreter_args() -> list[str]:
    """bwrap arguments binding the interpreter's directories (after the private /tmp)."""
    args: list[str] = []
    for q in interpreter_paths():
        args += ["--ro-bind", os.path.realpath(q), str(q)]
    return args


def visible(path: Path, extra: list[Path]) -> bool:
    """Whether `path` lies inside what the sandbox shows: the system part, the interpreter's
    directories, or `extra` (the workspace, read-only inputs, writable directories)."""
    return _under(path, [*system_roots(), *interpreter_paths(), *extra])
