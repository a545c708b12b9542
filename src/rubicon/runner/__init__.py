"""Runner: runs a command in a sandbox with limits and returns facts (never scores)."""

from rubicon.runner.sandbox import SandboxSpec, detect_backend, run_sandboxed

__all__ = ["SandboxSpec", "detect_backend", "run_sandboxed"]
