"""The local executor: one trial is a candidate's workspace run once in the sandbox, then the
task's evaluator in its own sandboxed process.

This module executes and observes; it decides nothing. Wall time comes from the parent process,
the evaluator's output from a harness-owned process, and the task directory and the read-only
workspace files are hashed around every run. The facts go to the injected `Judge`
(rubicon.measure.judge), which returns the trial's state.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from rubicon.runner._files import artifact_problem, file_hashes, git_dirs_of, remove_tree
from rubicon.runner._observe import read_head_tail
from rubicon.runner._progress import LogProgress
from rubicon.runner.executor import Seeds
from rubicon.runner.sandbox import SandboxSpec, detect_backend, run_sandboxed
from rubicon.task import Task
from rubicon.task._spec import BUILTIN_DIR
from rubicon.types import EvaluationFacts, RunFacts, Trial, WorkspaceFacts
from rubicon.workspace import write_workspace

if TYPE_CHECKING:
    from rubicon.runner.executor import Judge, ProgressCallback
    from rubicon.runner.lane import TimingLane

# Bytes a run may leave in its workspace (and the largest file it may write anywhere).
# Red-team: filling the host disk through the writable workspace bind mount.
WORKSPACE_DISK_MB = 1024
EVALUATOR_MAX_PROCESSES = 64
# The harness-owned steps (evaluator, prepare) may run code a candidate smuggled in an
# artifact: their output is capped (and only its two ends are ever read: 100 MB of evaluator
# output read whole once took the harness to 2.5 GB), what they write by a run's disk limit.
HARNESS_STEP_OUTPUT_MB = 64
INPUTS_DIR = "inputs"  # where a task's [prepare] step puts the run's held-out inputs


class LocalExecutor:
    """Runs trials of one task on this machine; every path the candidate must not see is
    hidden here.

    Args:
        task: the task whose workspace and evaluator run.
        campaign_dir: the campaign directory (hidden from runs; trial dirs go to `work/`).
        judge: turns each trial's facts into a state (rubicon.measure.judge.TrialJudge).
        cores: the cores of every timed run (default: the last `run.threads` cores).
    """

    def __init__(self, task: Task, campaign_dir: Path, judge: Judge,
                 cores: list[int] | None = None) -> None:
        self.task = task
        self.judge = judge
        self.campaign_dir = campaign_dir.resolve()
        self.work = self.campaign_dir / "work"
        self.work.mkdir(parents=True, exist_ok=True)
        self.backend = detect_backend()
        self.task_hash = task.hash()
        self.readonly = sorted(k for k in task.workspace_files() if not task.is_editable(k))
        threads = task.spec.run.threads
        avail = sorted(os.sched_getaffinity(0))
        # the last cores: core 0 takes most interrupts (on this VM a pinned loop varied
        # 0.64-1.13 s on core 0 and 0.69-0.83 s on core 1, docs/BENCHMARKS.md "Engine")
        self.cores: list[int] = cores if cores is not None else avail[-threads:]
        self.hidden = hidden_paths(task, self.campaign_dir)
        # Parallel campaigns: a TimingLane (rubicon.runner.lane) grants each timed run its own
        # cores (None: always `self.cores`); the evaluator is pinned to `untimed_cores`.
        self.lane: TimingLane | None = None
        self.untimed_cores: list[int] = []
        # told the `progress: STEP/TOTAL` lines of timed runs as they come: (label, step,
        # total, seconds since the run started); set by the campaign
        self.on_progress: ProgressCallback | None = None

    def run(self, files: dict[str, str], *, evaluate: bool = True, label: str = "run",
            time_limit: float | None = None, seeds: Seeds | None = None) -> Trial:
        """Run the candidate once (timed) and, if asked, evaluate its artifacts.

        `time_limit` lowers the task's wall-time limit for this run (the screening cap);
        `seeds`: the run's seeds (None: fresh ones)."""
        root = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=self.work))
        try:
            ws = root / "ws"
            write_workspace(self.task, files, ws)
            seed, eval_seed = seeds or Seeds.fresh()
            readonly = list(self.readonly)
            prepared: RunFacts | None = None
            if self.task.spec.prepare is not None:
                prepared, failure = self._prepare(ws, root, seed, eval_seed)
                if failure:
                    return self.judge.judge_run(prepared, WorkspaceFacts(
                        task_hash_before=self.task_hash, task_hash_after=self.task_hash,
                        prepare_error=failure, prepare=prepared))
                readonly += sorted(_tree_files(ws / INPUTS_DIR, INPUTS_DIR))
            before = file_hashes(ws, readonly)
            with self._timed_cores() as cores, self._progress(root / "run.log", label):
                facts = self._run_timed(ws, root, seed, cores, time_limit)
            seen = self._inspect(ws, before, readonly)
            seen.prepare = prepared
            trial = self.judge.judge_run(facts, seen)
            if trial.ok and evaluate and self.task.spec.evaluate is not None:
                trial = self.judge.judge_evaluation(
                    trial, self._evaluate(ws, root, seed, eval_seed))
            if trial.ok and evaluate:
                trial = self.judge.check_gates(trial)
            return trial
        finally:
            remove_tree(root)

    @contextlib.contextmanager
    def _progress(self, log: Path, label: str) -> Iterator[None]:
        """Report the run's progress lines to `on_progress` while it runs (when set)."""
        callback = self.on_progress
        if callback is None:
            yield
            return
        with LogProgress(log, lambda step, total, t: callback(label, step, total, t)):
            yield

    @contextlib.contextmanager
    def _timed_cores(self) -> Iterator[list[int]]:
        """The cores of one timed run: granted by the lane (held until the run ends), or fixed."""
        if self.lane is None:
            yield self.cores
            return
        with self.lane.timed(self.task.spec.run.threads) as cores:
            yield list(cores)

    def _run_timed(self, ws: Path, root: Path, seed: int, cores: list[int],
                   time_limit: float | None = None) -> RunFacts:
        run = self.task.spec.run
        return run_sandboxed(
            SandboxSpec(
                argv=list(run.command),
                cwd=ws,
                log_path=root / "run.log",
                time_limit=min(run.time_limit, time_limit or run.time_limit),
                cpu_limit=run.cpu_limit,
                memory_mb=run.memory_mb,
                threads=run.threads,
                cores=cores,
                network=run.network,
                max_processes=run.max_processes,
                hidden=self.hidden,
                seed=seed,
                disk_mb=WORKSPACE_DISK_MB,
                cgroup_note=root / "cgroups-run",
            ),
            self.backend,
        )

    def _prepare(self, ws: Path, root: Path, run_seed: int,
                 eval_seed: int) -> tuple[RunFacts, str]:
        """Run the task's harness-owned `[prepare]` step: it writes the run's held-out inputs
        (copied to `inputs/` in the workspace) and what only the evaluator may see
        (`root/private`). Returns its facts and what went wrong ("" when it worked)."""
        prep = self.task.spec.prepare
        assert prep is not None
        made, private = root / "inputs", root / "private"
        made.mkdir()
        private.mkdir()
        argv = [a.replace("{task}", str(self.task.dir)).replace("{inputs}", str(made))
                .replace("{private}", str(private)) for a in prep.command]
        facts = run_sandboxed(
            SandboxSpec(
                argv=argv, cwd=private, log_path=root / "prepare.log",
                time_limit=prep.time_limit, memory_mb=prep.memory_mb, threads=prep.threads,
                hidden=self._evaluator_hidden(), writable=[made, private],
                readonly=[self.task.dir],
                env={"RUBICON_RUN_SEED": str(run_seed), "RUBICON_EVAL_SEED": str(eval_seed)},
                seed=run_seed, max_processes=EVALUATOR_MAX_PROCESSES,
                cores=list(self.untimed_cores), cgroup_note=root / "cgroups-prepare",
                disk_mb=WORKSPACE_DISK_MB, output_mb=HARNESS_STEP_OUTPUT_MB,
            ),
            self.backend,
        )
        if facts.timed_out or facts.exit_code != 0:
            last = facts.output_tail.strip().splitlines()[-1:] or [""]
            why = facts.killed_reason or f"exit code {facts.exit_code}"
            return facts, f"{why}: {last[0][:200]}"
        dest = ws / INPUTS_DIR
        if dest.is_symlink() or dest.is_file():
            dest.unlink()
        elif dest.exists():
            remove_tree(dest)
        shutil.copytree(made, dest, symlinks=False)
        return facts, ""

    def _evaluator_hidden(self) -> list[Path]:
        """What the harness-owned steps must not see: the store, other tasks; not their task."""
        hidden = [h for h in self.hidden if h != self.task.dir and not _is_parent(h, self.task.dir)]
        return [self.campaign_dir] + [h for h in hidden if h != self.campaign_dir]

    def _inspect(self, ws: Path, before: dict[str, str], readonly: list[str]) -> WorkspaceFacts:
        """Hashes and artifact checks after the run. Nothing a run leaves may crash the
        campaign: an exception here is recorded as a fact (the judge calls it tampering)."""
        seen = WorkspaceFacts(task_hash_before=self.task_hash, task_hash_after=self.task_hash,
                              readonly_before=before)
        try:
            seen.task_hash_after = self.task.hash()
            seen.workspace_present = ws.is_dir()
            if seen.workspace_present:
                seen.readonly_after = file_hashes(ws, readonly)
                problems = {a: artifact_problem(ws, a) for a in self.task.spec.run.artifacts}
                seen.artifact_problems = {a: why for a, why in problems.items() if why}
        except Exception as e:  # noqa: BLE001 - recorded, judged as tampering
            seen.inspect_error = f"{type(e).__name__}: {str(e)[:200]}"
        return seen

    def _evaluate(self, ws: Path, root: Path, run_seed: int, eval_seed: int) -> EvaluationFacts:
        ev = self.task.spec.evaluate
        assert ev is not None
        arts = root / "artifacts"
        arts.mkdir()
        for art in self.task.spec.run.artifacts:
            dst = arts / art
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ws / art, dst)
        remove_tree(ws)  # the evaluator never sees the candidate's code
        evdir = root / "eval"
        evdir.mkdir()
        private = root / "private"
        backend, meta_ro, meta_env = _meta_evaluator(ev.rubicon, self.backend, evdir)
        argv = [a.replace("{task}", str(self.task.dir)).replace("{artifacts}", str(arts))
                .replace("{private}", str(private)) for a in ev.command]
        facts = run_sandboxed(
            SandboxSpec(
                argv=argv,
                cwd=evdir,
                log_path=root / "eval.log",
                time_limit=ev.time_limit,
                memory_mb=ev.memory_mb,
                threads=ev.threads,
                hidden=[h for h in self._evaluator_hidden()
                        if not (ev.rubicon and h == BUILTIN_DIR.resolve())],
                writable=[arts],
                # the task may live under /tmp, which is a fresh tmpfs
                readonly=[self.task.dir] + ([private] if private.is_dir() else []) + meta_ro,
                env={"RUBICON_RUN_SEED": str(run_seed), "RUBICON_EVAL_SEED": str(eval_seed),
                     **meta_env},
                seed=run_seed,
                max_processes=EVALUATOR_MAX_PROCESSES,
                cores=list(self.untimed_cores),
                cgroup_note=root / "cgroups-eval",
                disk_mb=WORKSPACE_DISK_MB,
                # the log's size is capped (the watchdog), and only its two ends are read
                output_mb=HARNESS_STEP_OUTPUT_MB,
            ),
            backend,
        )
        return EvaluationFacts(facts=facts, output=read_head_tail(root / "eval.log"))


def _meta_evaluator(on: bool, backend: str,
                    evdir: Path) -> tuple[str, list[Path], dict[str, str]]:
    """How a task's evaluator runs: (sandbox backend, extra read-only paths, environment).

    An ordinary evaluator runs in the trial's sandbox (`backend`). A meta-task's evaluator
    (`[evaluate] rubicon = true`, improve-researcher) is harness code that runs a bench whose
    researcher program and candidates are untrusted: each of those must get its OWN sandbox
    (own mount and pid namespace; the bench's store, its attempt files and this evaluator's
    output out of reach), which bubblewrap cannot nest (`--disable-userns`). So the evaluator
    runs outside bubblewrap (backend "none": its time, memory, process, disk and output limits
    stay) with the rubicon package on PYTHONPATH, and its inner bench sandboxes every program
    call and every candidate run with `backend`, as a bench at top level does. Its temporary
    files and home stay in its own directory (counted by its disk limit). Red team: when the
    inner runs shared the evaluator's sandbox, a program forged its dev score (docs/SECURITY.md,
    tests/redteam/test_meta_task.py)."""
    if not on:
        return backend, [], {}
    src = Path(__file__).resolve().parents[2]
    tmp, home = evdir / "tmp", evdir / "home"
    tmp.mkdir()
    home.mkdir()
    return "none", [src], {"PYTHONPATH": str(src), "RUBICON_SANDBOX": backend,
                           "TMPDIR": str(tmp), "HOME": str(home), "PYTHONWARNINGS": "ignore"}


def hidden_paths(task: Task, campaign_dir: Path) -> list[Path]:
    """Everything secret: the task (evaluator, reference, held-out data), the campaign (store),
    every built-in task, and the git directories holding any of them."""
    hidden = {task.dir, campaign_dir, BUILTIN_DIR.resolve()}
    for p in (task.dir, BUILTIN_DIR):
        hidden.update(git_dirs_of(p.resolve()))
    return sorted(hidden)


def _tree_files(root: Path, prefix: str) -> list[str]:
    """Workspace-relative names of the regular files below `root` (which the harness wrote)."""
    return [f"{prefix}/{p.relative_to(root).as_posix()}" for p in root.rglob("*")
            if p.is_file() and not p.is_symlink()]


def _is_parent(a: Path, b: Path) -> bool:
    try:
        b.relative_to(a)
        return True
    except ValueError:
        return False
