"""Run a task's steps as plain processes, without the sandbox: for task authors (calibration,
tests of a task's own prepare/run/evaluate scripts), never for untrusted candidates.

One `run_local` call does what one harness trial does, in order: `[prepare]` (when the task
has it) with `{inputs}` and `{private}`; a fresh copy of the workspace (optionally with the
task's `reference/` and/or given files laid over it) with the prepared inputs as `inputs/`
(write permission removed; as root that stops nothing, so `inputs_changed` says whether the run
changed them, as the harness's hash check would); the run command, timed from here, with
`RUBICON_SEED`; the declared artifacts copied out and the workspace deleted; the evaluator with
`{task}`, `{artifacts}`, `{private}` and both seeds. Metrics are parsed as the harness parses
them.
"""

from __future__ import annotations

import os
import resource
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rubicon.task._metrics import parse_metrics
from rubicon.task._spec import Task, tree_hash

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "RUBICON_THREADS")


@dataclass
class LocalRun:
    """What one local trial produced."""

    metrics: dict[str, Any] = field(default_factory=dict)
    exit_code: int = 0
    run_output: str = ""
    eval_output: str = ""
    prepare_seconds: float = 0.0
    wall_seconds: float = 0.0
    eval_seconds: float = 0.0
    # CPU seconds of the run's process tree: unlike wall time, unaffected by a busy machine
    run_cpu_seconds: float = 0.0
    prepare_cpu_seconds: float = 0.0
    inputs_changed: bool = False  # the run changed inputs/ (the harness: tampered)


def _env(threads: int, extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    for k in THREAD_VARS:
        env[k] = str(threads)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


def _argv(command: list[str], subs: dict[str, Path]) -> list[str]:
    out = []
    for a in command:
        for key, path in subs.items():
            a = a.replace("{" + key + "}", str(path))
        out.append(sys.executable if a == "python" else a)
    return out


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _call(argv: list[str], cwd: Path, env: dict[str, str], timeout: float,
          cores: set[int] | None = None) -> tuple[int, str, float]:
    pin = None if cores is None else (lambda: os.sched_setaffinity(0, cores))
    t0 = time.perf_counter()
    try:
        p = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                           timeout=timeout, check=False, preexec_fn=pin)
        code, out = p.returncode, p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        code = -9
        parts = [x.decode(errors="replace") if isinstance(x, bytes) else (x or "")
                 for x in (e.stdout, e.stderr)]
        out = "".join(parts) + f"\n(killed after {timeout:g} s)"
    return code, out, time.perf_counter() - t0


def _overlay(src: Path, dest: Path) -> None:
    for p in sorted(src.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            target = dest / p.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, target)


def _read_only(root: Path) -> None:
    for p in [*root.rglob("*"), root]:
        mode = p.stat().st_mode
        p.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _make_writable(root: Path) -> None:
    for p in [root, *root.rglob("*")]:
        p.chmod(p.stat().st_mode | stat.S_IWUSR)


def run_local(task: Task, *, run_seed: int, eval_seed: int, reference: bool = False,
              files: dict[str, str] | None = None, workdir: Path | None = None,
              pin: bool = False) -> LocalRun:
    """One trial of `task` without the sandbox (see the module docstring).

    Args:
        task: the task.
        run_seed: RUBICON_SEED of the run (RUBICON_RUN_SEED for prepare and evaluate).
        eval_seed: RUBICON_EVAL_SEED (the secret seed) for prepare and evaluate.
        reference: lay the task's reference/ over the workspace.
        files: workspace-relative files written over the workspace last.
        workdir: where the temporary directories go (default: the system's).
        pin: pin the run to the last `run.threads` cores, as the harness pins a timed run.
    """
    spec = task.spec
    res = LocalRun()
    seeds = {"RUBICON_RUN_SEED": str(run_seed), "RUBICON_EVAL_SEED": str(eval_seed)}
    root = Path(tempfile.mkdtemp(prefix=f"local-{task.name}-", dir=workdir))
    try:
        inputs, private, ws, arts = (root / n for n in ("inputs", "private", "ws", "artifacts"))
        for d in (inputs, private, arts):
            d.mkdir()
        subs = {"task": task.dir, "inputs": inputs, "private": private, "artifacts": arts}
        if spec.prepare is not None:
            cpu0 = _children_cpu()
            code, out, res.prepare_seconds = _call(
                _argv(spec.prepare.command, subs), root, _env(spec.prepare.threads, seeds),
                spec.prepare.time_limit)
            res.prepare_cpu_seconds = _children_cpu() - cpu0
            if code != 0:
                raise RuntimeError(f"prepare failed ({code}) for {task.name}:\n{out[-3000:]}")
        shutil.copytree(task.workspace, ws, ignore=shutil.ignore_patterns("__pycache__"))
        if reference:
            if task.reference is None:
                raise ValueError(f"task {task.name!r} has no reference/")
            _overlay(task.reference, ws)
        for rel, text in (files or {}).items():
            (ws / rel).parent.mkdir(parents=True, exist_ok=True)
            (ws / rel).write_text(text, encoding="utf-8")
        if spec.prepare is not None:
            shutil.copytree(inputs, ws / "inputs")
            _read_only(ws / "inputs")
        run_env = _env(spec.run.threads, {"RUBICON_SEED": str(run_seed)})
        for secret in ("RUBICON_EVAL_SEED", "RUBICON_RUN_SEED"):  # the evaluator's, not the run's
            run_env.pop(secret, None)
        before = tree_hash(ws / "inputs") if spec.prepare is not None else ""
        cpu0 = _children_cpu()
        cores = set(sorted(os.sched_getaffinity(0))[-spec.run.threads:]) if pin else None
        res.exit_code, res.run_output, res.wall_seconds = _call(
            _argv(spec.run.command, subs), ws, run_env, spec.run.time_limit, cores)
        res.run_cpu_seconds = _children_cpu() - cpu0  # sequential calls: this run's tree only
        if spec.prepare is not None:
            res.inputs_changed = not (ws / "inputs").is_dir() or tree_hash(ws / "inputs") != before
        for a in spec.run.artifacts:
            if (ws / a).is_file():
                (arts / a).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(ws / a, arts / a)
        if (ws / "inputs").exists():
            _make_writable(ws / "inputs")
        shutil.rmtree(ws)
        if spec.evaluate is not None:
            code, res.eval_output, res.eval_seconds = _call(
                _argv(spec.evaluate.command, subs), root, _env(spec.evaluate.threads, seeds),
                spec.evaluate.time_limit)
            if code != 0:
                raise RuntimeError(f"evaluator failed ({code}) for {task.name}:\n"
                                   f"{res.eval_output[-3000:]}")
            res.metrics = parse_metrics(res.eval_output)
        return res
    finally:
        if root.exists():
            _make_writable(root)
            shutil.rmtree(root, ignore_errors=True)
