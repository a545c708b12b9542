"""Candidate workspaces: apply a proposal to its parent's files, diff, write to disk.

An experiment's code is its parent's editable files with the proposal's edits and knobs applied;
every other workspace file is the task's baseline, read-only.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from rubicon.errors import ProposalError
from rubicon.task import Knob, Task
from rubicon.types import Edit, Proposal


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


def validate_knobs(task: Task, knobs: dict[str, Any]) -> None:
    """Raises ProposalError naming the knob, the value and what is allowed."""
    for name, value in knobs.items():
        spec: Knob | None = task.spec.knobs.get(name)
        if spec is None:
            raise ProposalError(f"unknown knob {name!r}; knobs: {sorted(task.spec.knobs)}")
        if spec.type == "choice":
            if spec.choices is None or value not in spec.choices:
                raise ProposalError(f"knob {name}={value!r}: allowed {spec.choices}")
        elif spec.type == "bool":
            if not isinstance(value, bool):
                raise ProposalError(f"knob {name}={value!r}: must be true or false")
        else:
            ok_type = isinstance(value, int) if spec.type == "int" else isinstance(value, int | float)
            if isinstance(value, bool) or not ok_type:
                raise ProposalError(f"knob {name}={value!r}: must be {spec.type}")
            assert spec.low is not None and spec.high is not None
            if not spec.low <= value <= spec.high:
                raise ProposalError(f"knob {name}={value!r}: allowed [{spec.low:g}, {spec.high:g}]")


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
        p = dest / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")


def read_workspace(task: Task, src: Path, baseline: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Editable files found in `src` and the list of non-editable files that differ from baseline.

    Used by `tell`: an outside agent edited `src`; edits outside the editable set are reported.
    """
    found: dict[str, str] = {}
    outside: list[str] = []
    for p in sorted(src.rglob("*")):
        if not p.is_file() or "__pycache__" in p.parts:
            continue
        rel = p.relative_to(src).as_posix()
        text = p.read_text(encoding="utf-8", errors="replace")
        if task.is_editable(rel):
            found[rel] = text
        elif baseline.get(rel) != text:
            outside.append(rel)
    outside += [f for f in baseline if not task.is_editable(f) and not (src / f).exists()]
    return found, outside
