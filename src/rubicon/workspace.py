"""Candidate workspaces: apply a proposal to its parent's files, diff, write to disk.

An experiment's code is its parent's editable files with the proposal's edits and knobs applied;
every other workspace file is the task's baseline, read-only.
"""

from __future__ import annotations

import difflib
import errno
import hashlib
import json
import os
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rubicon.errors import ProposalError
from rubicon.task import Task, validate_knobs
from rubicon.types import Edit, Proposal

__all__ = [
    "apply_edits",
    "apply_proposal",
    "code_hash",
    "diff_files",
    "read_workspace",
    "scan_workspace",
    "validate_knobs",  # defined in rubicon.task (task loading checks start points with it)
    "write_workspace",
]


def apply_edits(task: Task, files: dict[str, str], edits: list[Edit]) -> dict[str, str]:
    """Return a copy of `files` with `edits` applied in order.

    Raises:
        ProposalError: an edit targets a non-editable path, or its search text is not found
            exactly once.
    """
    out = dict(files)
    for i, e in enumerate(edits):
        if not task.is_editable(e.file):
            raise ProposalError(
                f"edit {i + 1} targets {e.file!r}, which is not editable "
                f"(editable: {', '.join(task.spec.editable)})"
            )
        if e.search == "":
            out[e.file] = e.replace
            continue
        text = out.get(e.file)
        if text is None:
            raise ProposalError(f"edit {i + 1}: file {e.file!r} does not exist")
        n = text.count(e.search)
        if n != 1:
            what = "not found" if n == 0 else f"found {n} times (must be unique)"
            raise ProposalError(f"edit {i + 1} to {e.file!r}: search text {what}")
        out[e.file] = text.replace(e.search, e.replace, 1)
    return out


def apply_proposal(task: Task, parent_files: dict[str, str], proposal: Proposal) -> dict[str, str]:
    """The candidate's editable files: parent + edits + knobs (written into the knobs file)."""
    files = apply_edits(task, parent_files, proposal.edits)
    if proposal.knobs:
        validate_knobs(task, proposal.knobs)
        kf = task.spec.knobs_file
        assert kf is not None  # validate_knobs rejects knobs when the task has none
        try:
            current = json.loads(files.get(kf, "{}") or "{}")
        except json.JSONDecodeError as e:
            raise ProposalError(f"knobs file {kf!r} is not valid JSON: {e}") from None
        current.update(proposal.knobs)
        files[kf] = json.dumps(current, indent=2, sort_keys=True) + "\n"
    return files


def diff_files(old: dict[str, str], new: dict[str, str], label_old: str = "a", label_new: str = "b") -> str:
    """Unified diff between two file maps."""
    chunks: list[str] = []
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name, ""), new.get(name, "")
        if a == b:
            continue
        chunks.extend(
            difflib.unified_diff(
                a.splitlines(keepends=True),
                b.splitlines(keepends=True),
                fromfile=f"{label_old}/{name}",
                tofile=f"{label_new}/{name}",
            )
        )
    return "".join(c if c.endswith("\n") else c + "\n" for c in chunks)


def code_hash(files: dict[str, str]) -> str:
    """Hash of code with trailing whitespace and blank lines normalized (duplicate detection)."""
    h = hashlib.sha256()
    for name in sorted(files):
        lines = [ln.rstrip() for ln in files[name].splitlines()]
        h.update(name.encode() + b"\0" + "\n".join(ln for ln in lines if ln).encode() + b"\0")
    return h.hexdigest()


def write_workspace(task: Task, files: dict[str, str], dest: Path) -> None:
    """Baseline workspace copied to `dest`, editable files replaced by `files`."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(task.workspace, dest, ignore=shutil.ignore_patterns("__pycache__"))
    for name, text in files.items():
        if not task.is_editable(name):
            raise ProposalError(f"{name!r} is not editable (editable: {task.spec.editable})")
        _write_new(dest, name, text.encode("utf-8"))


def _write_new(dest: Path, name: str, data: bytes) -> None:
    """Write `dest/name` without following a symlink anywhere below `dest` (the directory
    may be one an outside agent can change while it is written)."""
    d = dest
    for part in Path(name).parts[:-1]:
        d = d / part
        if d.is_symlink() or (d.exists() and not d.is_dir()):
            raise ProposalError(f"cannot write {name!r}: {d} is not a plain directory")
        d.mkdir(exist_ok=True)
    try:
        fd = os.open(d / Path(name).name,
                     os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_NONBLOCK
                     | os.O_CLOEXEC, 0o644)
    except OSError as e:
        raise ProposalError(f"cannot write {name!r} in {dest}: {e.strerror}") from None
    with os.fdopen(fd, "wb") as f:
        f.write(data)


MAX_READ_BYTES = 64 * 1024 * 1024  # the largest workspace file the harness reads
MAX_DEPTH = 64  # directory levels below a workspace's root
MAX_ENTRIES = 100_000
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_KINDS = {stat.S_IFLNK: "a symbolic link", stat.S_IFIFO: "a fifo", stat.S_IFSOCK: "a socket",
          stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device"}


@dataclass
class WorkspaceScan:
    """What `scan_workspace` found: the editable files' text, the non-editable files that
    differ from the baseline (or are gone), and the entries it refused to read, each with why
    ("'x.py' is a symbolic link")."""

    files: dict[str, str] = field(default_factory=dict)
    outside: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def _kind(mode: int) -> str:
    return _KINDS.get(stat.S_IFMT(mode), "not a regular file")


def _read_entry(name: str, dir_fd: int, st: os.stat_result) -> tuple[bytes | None, str]:
    """A regular file's bytes, opened without following a symlink and without blocking (a
    fifo swapped in after the stat is seen by fstat, never waited on); else why not."""
    if st.st_nlink > 1:
        return None, "has other hard links (it may be a file outside the workspace)"
    try:
        fd = os.open(name, _OPEN_FLAGS, dir_fd=dir_fd)
    except OSError as e:
        return None, ("is a symbolic link" if e.errno == errno.ELOOP
                      else f"cannot be opened ({e.strerror})")
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None, f"is {_kind(st.st_mode)}"
        if st.st_size > MAX_READ_BYTES:
            return None, f"is larger than {MAX_READ_BYTES >> 20} MiB"
        chunks, size = [], 0
        while size <= MAX_READ_BYTES and (chunk := os.read(fd, 1 << 20)):
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_READ_BYTES:
            return None, f"is larger than {MAX_READ_BYTES >> 20} MiB"
        return b"".join(chunks), ""
    finally:
        os.close(fd)


def _entries(src: Path) -> Iterator[tuple[str, bytes | None, str]]:
    """(relative name, bytes or None, why refused) of every non-directory entry below `src`,
    depth first, never following a symlink: each directory is opened relative to its parent's
    descriptor with O_NOFOLLOW, so a directory swapped for a symlink mid-walk is refused too."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    stack: list[tuple[str, int, list[str]]] = []
    root = os.open(src, flags)
    stack.append(("", root, sorted(os.listdir(root))))
    count = 0
    try:
        while stack:
            prefix, dfd, names = stack[-1]
            if not names:
                os.close(dfd)
                stack.pop()
                continue
            name = names.pop(0)
            rel = prefix + name
            count += 1
            if count > MAX_ENTRIES:
                yield rel, None, f"is past the first {MAX_ENTRIES} entries (not read)"
                return
            try:
                st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                if name == "__pycache__":
                    continue
                if len(stack) >= MAX_DEPTH:
                    yield rel, None, f"is deeper than {MAX_DEPTH} directory levels"
                    continue
                try:
                    sub = os.open(name, flags, dir_fd=dfd)
                except OSError as e:  # ENOTDIR: swapped for a symlink since the stat
                    yield rel, None, ("is a symbolic link" if e.errno in (errno.ELOOP,
                                                                          errno.ENOTDIR)
                                      else f"cannot be opened ({e.strerror})")
                    continue
                stack.append((rel + "/", sub, sorted(os.listdir(sub))))
            elif not stat.S_ISREG(st.st_mode):
                yield rel, None, f"is {_kind(st.st_mode)}"
            else:
                yield rel, *_read_entry(name, dfd, st)
    finally:
        for _, dfd, _ in stack:
            os.close(dfd)


def scan_workspace(task: Task, src: Path, baseline: dict[str, str]) -> WorkspaceScan:
    """Read a workspace an outside agent edited, as data only: symlinks, fifos, sockets,
    devices, hard-linked files and anything else that is not a plain file or directory are
    refused and never read or followed (red-team: `rubicon tell` once followed a symlink to a
    hidden evaluator file, stored it and printed it).

    Raises:
        ProposalError: `src` itself is a symbolic link or not a directory.
    """
    try:
        entries = list(_entries(src))
    except OSError as e:
        what = ("is a symbolic link" if e.errno == errno.ELOOP or src.is_symlink()
                else f"cannot be read ({e.strerror})")
        raise ProposalError(f"workspace {src} {what}; pass the real directory") from None
    scan = WorkspaceScan()
    present = set()
    for rel, data, why in entries:
        if data is None:
            scan.refused.append(f"{rel!r} {why}")
            present.add(rel)
            continue
        present.add(rel)
        text = data.decode("utf-8", errors="replace")
        if task.is_editable(rel):
            scan.files[rel] = text
        elif baseline.get(rel) != text:
            scan.outside.append(rel)
    scan.outside += [f for f in baseline if not task.is_editable(f) and f not in present]
    return scan


def read_workspace(task: Task, src: Path, baseline: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Editable files found in `src` and the non-editable files that differ from baseline; an
    entry `scan_workspace` refused is listed with the other problems, as "'name' is ...".

    Used by `tell`: an outside agent edited `src`; edits outside the editable set are reported.
    """
    scan = scan_workspace(task, src, baseline)
    return scan.files, scan.outside + scan.refused
