"""File facts the harness gathers around a run, without trusting anything the candidate shaped:
hashes by direct lookup (never a tree walk), symlink checks on every path component, removal of
candidate trees however deep, and the git directories that must be hidden from the sandbox."""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import subprocess
from pathlib import Path


def artifact_problem(ws: Path, rel: str) -> str:
    """Why the artifact at `rel` must not be copied out, or "" when it is a plain file inside
    the workspace. Every path component is checked: a symlinked parent directory would make the
    harness copy a file from outside the workspace (red-team: test_symlinked_artifact_dir)."""
    p = ws
    for part in Path(rel).parts:
        p = p / part
        if p.is_symlink():
            return "is a symlink" if p == ws / rel else f"is under a symlink ({part!r})"
    if not p.is_file():
        return "was not produced"
    if not p.resolve().is_relative_to(ws.resolve()):
        return "resolves outside the workspace"
    return ""


def file_hashes(root: Path, names: list[str]) -> dict[str, str]:
    """Hashes of the files `names` below `root`, looked up directly: the harness never walks a
    tree the candidate shaped (red-team: a 1500-deep directory crashed a recursive walk). A
    missing, unreadable or symlinked file (or one under a symlinked dir) gets no hash."""
    out = {}
    for name in names:
        if artifact_problem(root, name):
            continue
        try:
            out[name] = hashlib.sha256((root / name).read_bytes()).hexdigest()
        except OSError:
            continue
    return out


def remove_tree(path: Path) -> None:
    """Delete a directory a candidate wrote. shutil.rmtree recurses (RecursionError on a very
    deep tree, which would end the campaign); `rm -rf` does not."""
    with contextlib.suppress(Exception):
        shutil.rmtree(path, ignore_errors=True)
    if path.exists():
        subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def git_dirs_of(path: Path) -> list[Path]:
    """The git directories holding the history of the checkout that contains `path`: `.git`
    itself, or for a linked worktree (where `.git` is a file `gitdir: X`) the repository's
    common directory, which holds every worktree's objects. Empty outside a checkout."""
    for p in [path, *path.parents]:
        dot_git = p / ".git"
        if dot_git.is_dir():
            return [dot_git]
        if dot_git.is_file():
            return _linked_git_dirs(p, dot_git)
    return []


def _linked_git_dirs(top: Path, dot_git: Path) -> list[Path]:
    try:
        first = dot_git.read_text(encoding="utf-8", errors="replace").splitlines()[0]
    except (OSError, IndexError):
        return []
    key, _, value = first.partition(":")
    if key.strip() != "gitdir" or not value.strip():
        return []
    gitdir = (top / value.strip()).resolve()
    common = gitdir
    with contextlib.suppress(OSError, IndexError):
        rel = (gitdir / "commondir").read_text(encoding="utf-8").splitlines()[0].strip()
        common = (gitdir / rel).resolve()
    dirs = [d for d in (common, gitdir) if d.is_dir()]
    if len(dirs) == 2 and gitdir.is_relative_to(common):
        return [common]
    return dirs
