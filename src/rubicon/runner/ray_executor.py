"""Run trials as Ray tasks: `rubicon run --executor ray --address ADDR`.

The campaign process keeps the store and the promotion rule; each trial (timed run in the sandbox,
then the evaluator) is one Ray task that declares `num_cpus = task threads`. The task directory
travels once as a Ray object (a dict of relative path -> bytes, with the campaign's `Judge`), the
candidate's editable files travel with every task, and the `Trial` (facts, metrics, state) comes
back. On the worker node:

* the task is unpacked once per node into a private cache directory and its hash is checked;
* timed runs go through a node-wide `TimingLane` (per-core `flock` lock files): two Ray tasks on
  one node never time on the same core, and the evaluator is pinned to the untimed cores.

Ray is imported lazily; without it the error names `pip install 'rubicon[ray]'`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rubicon.errors import ConfigError, RubiconError
from rubicon.task import Task
from rubicon.types import Trial

if TYPE_CHECKING:
    from rubicon.runner.executor import Judge, ProgressCallback, Seeds
    from rubicon.runner.trial import LocalExecutor

INSTALL_HINT = "pip install 'rubicon[ray]'"


def import_ray() -> Any:
    """The `ray` module, or a ConfigError naming the install command."""
    try:
        import ray
    except ImportError:
        raise ConfigError(f"the ray executor needs Ray, which is not installed: {INSTALL_HINT}"
                          ) from None
    return ray


def pack_dir(root: Path) -> dict[str, bytes]:
    """Every regular file below `root` (no __pycache__) as relative path -> bytes."""
    out: dict[str, bytes] = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink() and "__pycache__" not in p.parts:
            out[p.relative_to(root).as_posix()] = p.read_bytes()
    return out


def unpack_dir(files: dict[str, bytes], dest: Path) -> None:
    for rel, data in files.items():
        p = dest / rel
        if not p.resolve().is_relative_to(dest.resolve()):
            raise RubiconError(f"refusing to unpack {rel!r} outside {dest}")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)


def node_root() -> Path:
    """Per-user scratch root of rubicon's Ray tasks on this node."""
    return Path(tempfile.gettempdir()) / f"rubicon-ray-{os.getuid()}"


_RUNNERS: dict[str, LocalExecutor] = {}
_RUNNERS_LOCK = threading.Lock()


def _node_runner(blob: dict[str, Any]) -> LocalExecutor:
    """The (cached) LocalExecutor of this worker process for the shipped task."""
    from rubicon.runner.lane import TimingLane, split_cores
    from rubicon.runner.trial import LocalExecutor
    from rubicon.task import load_task

    key = blob["hash"]
    with _RUNNERS_LOCK:
        if key in _RUNNERS:
            return _RUNNERS[key]
        root = node_root()
        tdir = root / "tasks" / f"{blob['name']}-{key[:16]}"
        if not tdir.is_dir():
            root.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(prefix="unpack-", dir=root))
            unpack_dir(blob["files"], tmp / "task")
            tdir.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(OSError):  # atomic: another task may have won the race
                os.rename(tmp / "task", tdir)
            shutil.rmtree(tmp, ignore_errors=True)
        task: Task = load_task(tdir)
        if task.hash() != key:
            raise RubiconError(f"task {blob['name']!r} unpacked on {socket.gethostname()} has "
                               f"hash {task.hash()[:12]}, expected {key[:12]}")
        runner = LocalExecutor(task, root / "runs" / key[:16], blob["judge"])
        timed, untimed = split_cores(task.spec.run.threads)
        runner.lane = TimingLane(timed)
        runner.untimed_cores = untimed
        _RUNNERS[key] = runner
        return runner


def remote_trial(blob: dict[str, Any], files: dict[str, str], evaluate: bool,
                 label: str, time_limit: float | None = None,
                 seeds: Seeds | None = None) -> tuple[Trial, dict[str, Any]]:
    """Body of the Ray task: one trial on this node; returns (Trial, where it ran)."""
    runner = _node_runner(blob)
    trial = runner.run(files, evaluate=evaluate, label=label, time_limit=time_limit,
                       seeds=seeds)
    return trial, {"node": socket.gethostname(), "pid": os.getpid()}


class RayExecutor:
    """The Executor (rubicon.runner.executor) that runs every trial as a Ray task.

    Args:
        task: the campaign's task (shipped to the workers as bytes).
        judge: turns each trial's facts into a state (shipped to the workers, pickled).
        address: a Ray cluster address (`ray start --head` prints it); None: the Ray instance
            already initialised in this process, else a new local one.
    """

    def __init__(self, task: Task, judge: Judge, address: str | None = None) -> None:
        import_ray()  # fail early, with the install hint
        self.task = task
        self.judge = judge
        self.address = address
        self.backend = "ray"
        self.cores: list[int] = []  # granted per run on the worker node; recorded per run
        self.untimed_cores: list[int] = []  # the campaign process stays unpinned
        # a run's output stays on its worker until it ends: no progress lines from Ray runs
        self.on_progress: ProgressCallback | None = None
        self.placements: list[dict[str, Any]] = []  # where each trial ran
        self._lock = threading.Lock()
        self._remote: Any = None
        self._blob_ref: Any = None

    def _ensure(self) -> Any:
        ray = import_ray()
        with self._lock:
            if self._remote is None:
                if not ray.is_initialized():
                    kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
                    if self.address:
                        ray.init(address=self.address, **kw)
                    else:
                        ray.init(num_cpus=os.cpu_count() or 1, **kw)
                blob = {"name": self.task.name, "hash": self.task.hash(),
                        "files": pack_dir(self.task.dir), "judge": self.judge}
                self._blob_ref = ray.put(blob)
                self._remote = ray.remote(remote_trial).options(
                    num_cpus=max(1, self.task.spec.run.threads), max_retries=1)
        return ray

    def run(self, files: dict[str, str], *, evaluate: bool = True, label: str = "run",
            time_limit: float | None = None, seeds: Seeds | None = None) -> Trial:
        """One trial on the cluster; the same contract as `LocalExecutor.run`."""
        ray = self._ensure()
        try:
            got: tuple[Trial, dict[str, Any]] = ray.get(self._remote.remote(
                self._blob_ref, dict(files), evaluate, label, time_limit, seeds))
        except Exception as e:  # worker lost, task error: the experiment stays pending
            raise RubiconError(f"ray trial {label} failed: {type(e).__name__}: {e}") from None
        trial, where = got
        with self._lock:
            self.placements.append(where)
        return trial
