"""The `command` researcher: any external coding agent edits a fresh copy of the workspace.

For each proposal rubicon writes the parent's full workspace into a new temporary directory,
writes a brief (task instructions, rules, history, the step to take) to a file *outside* that
directory, and runs the command with the workspace as current directory, the brief on stdin and
its path in $RUBICON_BRIEF, under a time limit (the whole process group is killed). What the
agent leaves in the editable files is the proposal. See docs/RESEARCHERS.md, section "command".
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import Field

from rubicon.errors import ConfigError
from rubicon.researcher import ResearchContext
from rubicon.researcher._prompt import (
    Plan,
    choose_plan,
    invalid_in_row,
    render_brief,
    unusable,
)
from rubicon.researcher._registry import parse_settings
from rubicon.researcher._settings import AgentSettings
from rubicon.types import Edit, Proposal
from rubicon.workspace import scan_workspace, write_workspace

# New files an agent may leave behind that are never part of a proposal (ignored silently).
DEFAULT_IGNORE = ".git,.git/*,.aider*,.claude,.claude/*,.codex,.codex/*"


def _kill_group(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the process group, then SIGKILL what is left after `grace` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        if sig == signal.SIGTERM:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=grace)


class CommandSettings(AgentSettings):
    """Arguments of the `command` researcher (docs/RESEARCHERS.md, section "command")."""

    cmd: str | None = Field(
        default=None,
        description="shell command line run by /bin/sh in the workspace copy, e.g. "
                    "claude -p \"$(cat \"$RUBICON_BRIEF\")\" --permission-mode acceptEdits; "
                    "default RUBICON_AGENT_CMD")
    timeout: float = Field(default=1800.0, gt=0,
                           description="seconds before the agent's process group is killed")
    grace: float = Field(default=5.0, ge=0, description="seconds between SIGTERM and SIGKILL")
    ignore: str = Field(default=DEFAULT_IGNORE, description="comma-separated globs of new files "
                                                            "never reported (agent state dirs)")
    keep: bool = Field(default=False, description="keep the temporary directories, for inspection")


class CommandResearcher:
    """Runs an external agent command per proposal. Arguments: a `CommandSettings`, or its
    fields as keywords (strings from `-R key=value` are converted)."""

    name = "command"
    Settings = CommandSettings

    def __init__(self, settings: CommandSettings | None = None, /, **args: Any) -> None:
        s = parse_settings(CommandSettings, "command", settings, args)
        self.cmd = s.cmd or os.environ.get("RUBICON_AGENT_CMD", "")
        if not self.cmd.strip():
            raise ConfigError(
                "command researcher: no command; pass -R cmd='...' (e.g. "
                "cmd='claude -p \"$(cat \"$RUBICON_BRIEF\")\" --permission-mode acceptEdits') "
                "or set RUBICON_AGENT_CMD")
        self.ignore = [g.strip() for g in s.ignore.split(",") if g.strip()]
        self.settings = s.model_copy(update={"cmd": self.cmd})  # recorded as resolved
        self.timeout = s.timeout
        self.args: dict[str, Any] = {"cmd": self.cmd, "timeout": self.timeout}

    def propose(self, ctx: ResearchContext) -> Proposal | None:
        s = self.settings
        if invalid_in_row(ctx, self.name) >= s.max_invalid_in_row:
            return None
        plan = choose_plan(ctx, self.name, s.lines, s.explore, s.max_debug)
        tmp = Path(tempfile.mkdtemp(prefix="rubicon-agent-"))
        try:
            ws = tmp / "workspace"
            brief_path = tmp / "BRIEF.md"
            rationale_path = tmp / "RATIONALE.txt"
            write_workspace(ctx.task, plan.parent.files, ws)
            brief = render_brief(ctx, plan, str(ws), s.hints, s.history)
            brief_path.write_text(brief, encoding="utf-8")
            env = {
                **os.environ,
                "RUBICON_BRIEF": str(brief_path),
                "RUBICON_WORKSPACE": str(ws),
                "RUBICON_RATIONALE": str(rationale_path),
                "RUBICON_EDITABLE": ",".join(ctx.task.spec.editable),
                "RUBICON_PARENT_ID": str(plan.parent.id),
                "RUBICON_MODE": plan.mode,
            }
            t0 = time.monotonic()
            proc = subprocess.Popen(["/bin/sh", "-c", self.cmd], cwd=ws, env=env,
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, start_new_session=True)
            timed_out = False
            try:
                out, _ = proc.communicate(brief.encode(), timeout=self.timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                _kill_group(proc, s.grace)
                out, _ = proc.communicate()
            # The agent's leftovers (background jobs) never outlive its proposal.
            _kill_group(proc, 0.0)
            seconds = time.monotonic() - t0
            tail = out.decode(errors="replace")[-2000:]
            meta: dict[str, Any] = {**plan.meta(), "agent_seconds": round(seconds, 3),
                                    "exit_code": proc.returncode, "agent_output_tail": tail}
            if timed_out:
                return unusable(self.name, self.args, plan,
                                f"the agent timed out after {self.timeout:g} s (its process "
                                "group was killed)", meta)
            if proc.returncode != 0:
                last = " | ".join(tail.strip().splitlines()[-3:])[-300:]
                return unusable(self.name, self.args, plan,
                                f"the agent exited with code {proc.returncode}: {last}", meta)
            return self._collect(ctx, plan, ws, rationale_path, tail, meta)
        finally:
            if not s.keep:
                shutil.rmtree(tmp, ignore_errors=True)

    def _collect(self, ctx: ResearchContext, plan: Plan, ws: Path, rationale_path: Path,
                 tail: str, meta: dict[str, Any]) -> Proposal:
        baseline = ctx.task.workspace_files()
        scan = scan_workspace(ctx.task, ws, baseline)
        found, outside = scan.files, scan.outside
        if scan.refused:  # symlinks, fifos, ...: never read or followed
            return unusable(self.name, self.args, plan,
                            f"the agent left entries that are not plain files: "
                            f"{'; '.join(scan.refused[:10])}", meta)
        changed_readonly = [f for f in outside if f in baseline]
        new_files = [f for f in outside if f not in baseline
                     and not any(fnmatch.fnmatchcase(f, g) for g in self.ignore)]
        if new_files:
            meta["ignored_new_files"] = new_files[:50]
        if changed_readonly:
            return unusable(self.name, self.args, plan,
                            f"the agent changed read-only files: {', '.join(changed_readonly[:10])}"
                            f" (editable: {', '.join(ctx.task.spec.editable)})", meta)
        deleted = [f for f in plan.parent.files if f not in found]
        if deleted:
            return unusable(self.name, self.args, plan,
                            f"the agent deleted editable files: {', '.join(deleted[:10])} "
                            "(deleting is not supported; empty the file instead)", meta)
        edits = [Edit(file=f, search="", replace=t) for f, t in sorted(found.items())
                 if plan.parent.files.get(f) != t]
        if not edits:
            return unusable(self.name, self.args, plan,
                            "the agent left the editable files unchanged", meta)
        rationale = ""
        if rationale_path.is_file():
            rationale = " ".join(rationale_path.read_text(errors="replace").split())
        if not rationale:
            lines = [ln.strip() for ln in tail.splitlines() if ln.strip()]
            rationale = lines[-1] if lines else f"{self.name}: {self.cmd.split()[0]}"
        return Proposal(parent_id=plan.parent.id, edits=edits, rationale=rationale[:500],
                        researcher=self.name, researcher_args=dict(self.args), meta=meta)
