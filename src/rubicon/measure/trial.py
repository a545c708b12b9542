"""One trial: a candidate's workspace run once in the sandbox, then judged by the evaluator.

The harness, not the candidate, decides every field here: wall time comes from the parent process,
metrics from the evaluator in its own sandboxed process, and hashes of the task directory and of
the read-only workspace files are checked around every run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rubicon.runner import SandboxSpec, detect_backend, run_sandboxed
from rubicon.task import Task
from rubicon.task._spec import BUILTIN_DIR, TaskFile
from rubicon.types import RunFacts, State
from rubicon.workspace import write_workspace


@dataclass
class Trial:
    facts: RunFacts
    metrics: dict[str, Any] = field(default_factory=dict)
    state: State = State.OK
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.state == State.OK


# Bytes a run may leave in its workspace (and the largest file it may write anywhere).
# Red-team: filling the host disk through the writable workspace bind mount.
WORKSPACE_DISK_MB = 1024


def _file_hashes(root: Path, names: list[str]) -> dict[str, str]:
    """Hashes of the files `names` below `root`, looked up directly: the harness never walks a
    tree the candidate shaped (red-team: a 1500-deep directory crashed a recursive walk). A
    missing, unreadable or symlinked file (or one under a symlinked dir) gets no hash."""
    out = {}
    for name in names:
        if _artifact_problem(root, name):
            continue
        try:
            out[name] = hashlib.sha256((root / name).read_bytes()).hexdigest()
        except OSError:
            continue
    return out


def _remove_tree(path: Path) -> None:
    """Delete a directory a candidate wrote. shutil.rmtree recurses (RecursionError on a very
    deep tree, which would end the campaign); `rm -rf` does not."""
    with contextlib.suppress(Exception):
        shutil.rmtree(path, ignore_errors=True)
    if path.exists():
        subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _artifact_problem(ws: Path, rel: str) -> str:
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


def parse_metrics(text: str) -> dict[str, Any]:
    """`key: value` lines and JSON-object lines; numbers become floats, the rest stays text."""
    out: dict[str, Any] = {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                out.update(obj)
            continue
        key, sep, val = line.partition(":")
        if not sep or not key or " " in key.strip():
            continue
        val = val.strip()
        try:
            out[key.strip()] = float(val)
        except ValueError:
            out[key.strip()] = val
    return out


def _git_dir_of(path: Path) -> Path | None:
    for p in [path, *path.parents]:
        if (p / ".git").exists():
            return p / ".git"
    return None


class TrialRunner:
    """Runs trials of one task; every path the candidate must not see is hidden here."""

    def __init__(self, task: Task, campaign_dir: Path, cores: list[int] | None = None) -> None:
        self.task = task
        self.campaign_dir = campaign_dir.resolve()
        self.work = self.campaign_dir / "work"
        self.work.mkdir(parents=True, exist_ok=True)
        self.backend = detect_backend()
        self.task_hash = task.hash()
        self.baseline_files = task.workspace_files()
        self.readonly = {k: v for k, v in self.baseline_files.items() if not task.is_editable(k)}
        threads = task.spec.run.threads
        avail = sorted(os.sched_getaffinity(0))
        # the last cores: core 0 takes most interrupts (on this VM a pinned loop varied
        # 0.64-1.13 s on core 0 and 0.69-0.83 s on core 1, docs/BENCHMARKS.md "Engine")
        self.cores = cores if cores is not None else avail[-threads:]
        # Everything secret: the task (evaluator, reference, held-out data), the store, every
        # built-in task, and a git checkout holding any of them.
        hidden = {task.dir, self.campaign_dir, BUILTIN_DIR.resolve()}
        for p in (task.dir, BUILTIN_DIR):
            g = _git_dir_of(p.resolve())
            if g is not None:
                hidden.add(g)
        self.hidden = sorted(hidden)
        # Parallel campaigns: a TimingLane (rubicon.runner.lane) grants each timed run its own
        # cores (None: always `self.cores`); the evaluator is pinned to `untimed_cores`.
        self.lane: Any = None
        self.untimed_cores: list[int] = []

    def run(self, files: dict[str, str], *, evaluate: bool = True, label: str = "run",
            time_limit: float | None = None) -> Trial:
        """Run the candidate once (timed) and, if asked, evaluate its artifacts.

        `time_limit` lowers the task's wall-time limit for this run (the screening cap)."""
        spec = self.task.spec
        root = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=self.work))
        try:
            ws = root / "ws"
            write_workspace(self.task, files, ws)
            before = _file_hashes(ws, sorted(self.readonly))
            seed = secrets.randbelow(2**31 - 1)
            with self._timed_cores() as cores:
                facts = self._run_timed(spec, ws, root, seed, cores, time_limit)
            try:
                trial = self._judge_run(facts, ws, before)
            except Exception as e:  # noqa: BLE001 - nothing a run leaves may crash the campaign
                trial = Trial(facts=facts, state=State.TAMPERED,
                              reason=f"the harness could not inspect the workspace: "
                                     f"{type(e).__name__}: {str(e)[:200]}")
            if trial.ok and evaluate and spec.evaluate is not None:
                self._evaluate(trial, ws, root, seed)
            if trial.ok and evaluate:
                self._check_gates(trial)
            return trial
        finally:
            _remove_tree(root)

    @contextlib.contextmanager
    def _timed_cores(self) -> Iterator[list[int]]:
        """The cores of one timed run: granted by the lane (held until the run ends), or fixed."""
        if self.lane is None:
            yield self.cores
            return
        with self.lane.timed(self.task.spec.run.threads) as cores:
            yield list(cores)

    def _run_timed(self, spec: TaskFile, ws: Path, root: Path, seed: int,
                   cores: list[int], time_limit: float | None = None) -> RunFacts:
        return run_sandboxed(
            SandboxSpec(
                argv=list(spec.run.command),
                cwd=ws,
                log_path=root / "run.log",
                time_limit=min(spec.run.time_limit, time_limit or spec.run.time_limit),
                cpu_limit=spec.run.cpu_limit,
                memory_mb=spec.run.memory_mb,
                threads=spec.run.threads,
                cores=cores,
                network=spec.run.network,
                max_processes=spec.run.max_processes,
                hidden=self.hidden,
                seed=seed,
                disk_mb=WORKSPACE_DISK_MB,
                cgroup_note=root / "cgroups-run",
            ),
            self.backend,
        )

    def _judge_run(self, facts: RunFacts, ws: Path, before: dict[str, str]) -> Trial:
        metrics: dict[str, Any] = {
            "wall_seconds": facts.wall_seconds,
            "cpu_seconds": facts.cpu_seconds,
            "peak_memory_mb": facts.peak_memory_mb,
        }
        trial = Trial(facts=facts, metrics=metrics)
        if self.task.hash() != self.task_hash:
            trial.state, trial.reason = State.TAMPERED, "the task directory changed during the run"
            return trial
        if not ws.is_dir():
            trial.state, trial.reason = State.CRASHED, "the run deleted its workspace"
            return trial
        after = _file_hashes(ws, sorted(self.readonly))
        for name in self.readonly:
            if after.get(name) != before.get(name):
                trial.state = State.TAMPERED
                trial.reason = f"the run modified read-only file {name!r}"
                return trial
        if facts.timed_out:
            trial.state, trial.reason = State.TIMED_OUT, facts.killed_reason
            return trial
        if facts.killed_reason.startswith("disk limit"):  # even when it exited 0
            trial.state, trial.reason = State.CRASHED, facts.killed_reason
            return trial
        if facts.exit_code != 0:
            last = facts.output_tail.strip().splitlines()[-1:] or [""]
            why = facts.killed_reason or f"exit code {facts.exit_code}"
            trial.state, trial.reason = State.CRASHED, f"{why}: {last[0][:200]}".rstrip(": ")
            return trial
        for art in self.task.spec.run.artifacts:
            what = _artifact_problem(ws, art)
            if what:
                trial.state, trial.reason = State.INVALID, f"artifact {art!r} {what}"
                return trial
        return trial

    def _evaluate(self, trial: Trial, ws: Path, root: Path, run_seed: int) -> None:
        ev = self.task.spec.evaluate
        assert ev is not None
        arts = root / "artifacts"
        arts.mkdir()
        for art in self.task.spec.run.artifacts:
            dst = arts / art
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ws / art, dst)
        _remove_tree(ws)  # the evaluator never sees the candidate's code
        evdir = root / "eval"
        evdir.mkdir()
        argv = [a.replace("{task}", str(self.task.dir)).replace("{artifacts}", str(arts))
                for a in ev.command]
        hidden = [h for h in self.hidden if h != self.task.dir and not _is_parent(h, self.task.dir)]
        facts = run_sandboxed(
            SandboxSpec(
                argv=argv,
                cwd=evdir,
                log_path=root / "eval.log",
                time_limit=ev.time_limit,
                memory_mb=ev.memory_mb,
                threads=ev.threads,
                hidden=[self.campaign_dir] + [h for h in hidden if h != self.campaign_dir],
                writable=[arts],
                readonly=[self.task.dir],  # the task may live under /tmp, which is a fresh tmpfs
                env={
                    "RUBICON_RUN_SEED": str(run_seed),
                    "RUBICON_EVAL_SEED": str(secrets.randbelow(2**31 - 1)),
                },
                seed=run_seed,
                max_processes=64,
                cores=list(self.untimed_cores),
                cgroup_note=root / "cgroups-eval",
            ),
            self.backend,
        )
        out = (root / "eval.log").read_text(encoding="utf-8", errors="replace")
        found = parse_metrics(out)
        for verdict, state in (("tampered", State.TAMPERED), ("invalid", State.INVALID)):
            if verdict in found:
                trial.state, trial.reason = state, f"evaluator: {found[verdict]}"
                return
        if facts.timed_out or facts.exit_code != 0:
            last = facts.output_tail.strip().splitlines()[-1:] or [""]
            trial.state = State.CRASHED
            why = facts.killed_reason or facts.exit_code
            trial.reason = f"evaluator failed ({why}): {last[0][:200]}"
            return
        # harness metrics win over any evaluator key of the same name
        trial.metrics = {**found, **trial.metrics}

    def _check_gates(self, trial: Trial) -> None:
        for gate in self.task.spec.gates:
            ok, why = gate.check(trial.metrics)
            if not ok:
                trial.state, trial.reason = State.GATE_FAILED, why
                return


def _is_parent(a: Path, b: Path) -> bool:
    try:
        b.relative_to(a)
        return True
    except ValueError:
        return False
