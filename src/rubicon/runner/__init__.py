"""Runner: executes candidates in a sandbox with limits and returns facts (never scores).

`Executor` is the contract a campaign runs trials through (`LocalExecutor` here, `RayExecutor`
in rubicon.runner.ray_executor); the verdict comes from an injected `Judge`.
"""

from __future__ import annotations

from pathlib import Path

from rubicon.errors import ConfigError
from rubicon.runner._diagnose import environment_problem, sandbox_rows
from rubicon.runner.executor import Executor, Judge, Seeds
from rubicon.runner.sandbox import SandboxSpec, detect_backend, run_sandboxed
from rubicon.runner.trial import LocalExecutor
from rubicon.task import Task

__all__ = [
    "Executor",
    "Judge",
    "LocalExecutor",
    "SandboxSpec",
    "Seeds",
    "detect_backend",
    "environment_problem",
    "make_executor",
    "run_sandboxed",
    "sandbox_rows",
]


def make_executor(task: Task, campaign_dir: Path, judge: Judge, *, kind: str = "local",
                  address: str | None = None, workers: int = 1) -> Executor:
    """The executor of a campaign: local (with a timing lane when `workers` > 1) or Ray."""
    if kind not in ("local", "ray"):
        raise ConfigError(f"unknown executor {kind!r}; choose one of local, ray")
    if kind == "ray":
        from rubicon.runner.ray_executor import RayExecutor

        return RayExecutor(task, judge, address)
    local = LocalExecutor(task, campaign_dir, judge)
    if workers > 1:
        from rubicon.runner.lane import TimingLane, split_cores

        timed, untimed = split_cores(task.spec.run.threads)
        local.lane = TimingLane(timed)
        local.untimed_cores = untimed
    return local
