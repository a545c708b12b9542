"""Researchers as programs: a directory rubicon runs sandboxed, like any candidate.

A program directory holds `program.toml` and the program's files:

    kind = "python"              # a module implementing the Researcher protocol
    entry = "researcher:make"    # module (a file of the directory) : factory or class

or

    kind = "command"             # any command speaking the command researcher's file protocol
    command = ["python", "agent.py"]

Each proposal runs the program once in the sandbox of rubicon.runner (bubblewrap: no network,
a minimal read-only root, the built-in tasks and every store hidden). A `python` program sees a
copy of itself and its context (a pickle written by the harness; nothing it writes is ever
unpickled) and writes `proposal.json`, which the harness validates as a `Proposal`. A `command`
program gets a workspace copy, `$RUBICON_BRIEF` and the other variables of the command
researcher, and leaves its edits in the workspace. Whatever goes wrong -- a crash, a hang, a
reach for the network or the store (neither exists inside), a write outside its directory --
becomes an `invalid` experiment whose meta names the fault (`program_fault`).
"""

from __future__ import annotations

import hashlib
import pickle
import shutil
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rubicon.errors import ConfigError
from rubicon.researcher import ResearchContext
from rubicon.researcher._history import ListHistory
from rubicon.researcher._registry import ResearcherSettings, parse_settings
from rubicon.runner import SandboxSpec, run_sandboxed
from rubicon.task._spec import BUILTIN_DIR
from rubicon.types import Proposal, RunFacts

PROGRAM_FILE = "program.toml"
PROPOSAL_FILE = "proposal.json"
SRC_ROOT = Path(__file__).resolve().parents[2]  # what `import rubicon` needs


class ProgramFile(BaseModel):
    """`program.toml` of a researcher program."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["python", "command"]
    entry: str = "researcher:make"
    command: list[str] = Field(default_factory=list)
    name: str = "program"


def load_program(directory: Path) -> ProgramFile:
    """Read and check a program directory's `program.toml`.

    Raises:
        ConfigError: missing file, bad TOML, unknown keys or a kind without its entry/command.
    """
    path = directory / PROGRAM_FILE
    if not path.is_file():
        raise ConfigError(f"{directory} is not a researcher program: no {PROGRAM_FILE} "
                          "(kind = \"python\" with entry = \"module:factory\", or kind = "
                          "\"command\" with command = [...]); `rubicon lineage export-search "
                          "DIR` writes one")
    try:
        prog = ProgramFile.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except (tomllib.TOMLDecodeError, ValidationError) as e:
        raise ConfigError(f"{path}: {e}") from None
    if prog.kind == "command" and not prog.command:
        raise ConfigError(f"{path}: kind = \"command\" needs command = [\"prog\", \"arg\", ...]")
    if prog.kind == "python" and ":" not in prog.entry:
        raise ConfigError(f"{path}: entry {prog.entry!r} must be module:factory")
    return prog


def program_hash(directory: Path) -> str:
    """sha256 over the program's files (relative paths and contents; caches excluded)."""
    h = hashlib.sha256()
    for p in sorted(directory.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            h.update(p.relative_to(directory).as_posix().encode() + b"\0")
            h.update(p.read_bytes() + b"\0")
    return h.hexdigest()


class ProgramSettings(ResearcherSettings):
    """Arguments of the `program` researcher (docs/LINEAGE.md)."""

    tag: str = Field(default="", description="a name for labels (e.g. gen2); nothing else")
    dir: str = Field(description="the researcher program directory (holds program.toml)")
    timeout: float = Field(default=120.0, gt=0, description="seconds per proposal before a kill")
    memory_mb: int = Field(default=2048, ge=256, description="address-space limit, MiB")
    network: bool = Field(default=False, description="let the program reach the network (an "
                                                     "LLM program's API); nothing else changes")


def _fault(facts: RunFacts) -> tuple[str, str]:
    """(kind, one line) for a program run that did not end well, or ("", "")."""
    last = " | ".join(facts.output_tail.strip().splitlines()[-3:])[-400:]
    if facts.timed_out:
        return "timed_out", f"the researcher program timed out ({facts.killed_reason})"
    if facts.exit_code is None:
        return "killed", f"the researcher program was stopped: {facts.killed_reason}: {last}"
    if facts.exit_code != 0:
        return "crashed", f"the researcher program exited with code {facts.exit_code}: {last}"
    return "", ""


def program_view(ctx: ResearchContext) -> ResearchContext:
    """The context a program receives: `ctx` with its history loaded (a program gets it as a
    file). Its records already name the task it is shown (`Campaign.context`, `shown_as`)."""
    return ctx.model_copy(update={"history": ListHistory(list(ctx.history))})


class ProgramResearcher:
    """Runs a researcher program directory in the sandbox for every proposal."""

    name = "program"
    Settings = ProgramSettings

    def __init__(self, settings: ProgramSettings | None = None, /, **args: Any) -> None:
        self.settings = s = parse_settings(ProgramSettings, "program", settings, args)
        self.dir = Path(s.dir).resolve()
        self.program = load_program(self.dir)
        self.hash = program_hash(self.dir)
        self.args: dict[str, Any] = {"dir": str(self.dir), "program": self.hash[:16]}

    def propose(self, ctx: ResearchContext) -> Proposal | None:
        tmp = Path(tempfile.mkdtemp(prefix="rubicon-program-"))
        try:
            prog = tmp / "program"
            shutil.copytree(self.dir, prog, ignore=shutil.ignore_patterns("__pycache__"))
            out = tmp / "out"
            out.mkdir()
            if self.program.kind == "python":
                return self._python(ctx, tmp, prog, out)
            return self._command(ctx, tmp, prog, out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    # running -------------------------------------------------------------------------------

    def _run(self, argv: list[str], cwd: Path, tmp: Path, readonly: list[Path],
             env: dict[str, str], seed: int) -> tuple[RunFacts, float]:
        t0 = time.monotonic()
        facts = run_sandboxed(SandboxSpec(
            argv=argv, cwd=cwd, log_path=tmp / "program.log",
            time_limit=self.settings.timeout, memory_mb=self.settings.memory_mb,
            network=self.settings.network,
            readonly=[SRC_ROOT, *readonly], hidden=[BUILTIN_DIR.resolve()],
            env={"PYTHONPATH": str(SRC_ROOT), **env}, seed=seed, disk_mb=256, output_mb=16,
        ))
        return facts, time.monotonic() - t0

    def _meta(self, facts: RunFacts, seconds: float) -> dict[str, Any]:
        return {"program_hash": self.hash, "program_seconds": round(seconds, 3),
                "program_exit": facts.exit_code, "program_tail": facts.output_tail[-1500:]}

    def _invalid(self, ctx: ResearchContext, kind: str, why: str,
                 meta: dict[str, Any]) -> Proposal:
        return Proposal(parent_id=ctx.incumbent.id, edits=[], rationale=f"no usable proposal: "
                        f"{why[:300]}", researcher=self.name, researcher_args=dict(self.args),
                        meta={**meta, "program_fault": kind, "error": why})

    def _python(self, ctx: ResearchContext, tmp: Path, prog: Path, out: Path) -> Proposal | None:
        light = program_view(ctx)
        (tmp / "context.pkl").write_bytes(pickle.dumps(light))
        argv = [sys.executable, "-m", "rubicon.lineage._shim", str(prog), self.program.entry,
                str(tmp / "context.pkl"), str(out / PROPOSAL_FILE)]
        facts, seconds = self._run(argv, out, tmp, [prog, tmp / "context.pkl"], {}, ctx.seed)
        meta = self._meta(facts, seconds)
        kind, why = _fault(facts)
        if kind:
            return self._invalid(ctx, kind, why, meta)
        path = out / PROPOSAL_FILE
        if not path.is_file() or path.is_symlink():
            return self._invalid(ctx, "no_output", "the researcher program wrote no "
                                 f"{PROPOSAL_FILE}", meta)
        text = path.read_text(encoding="utf-8", errors="replace")
        if text.strip() == "null":
            return None  # the program has nothing left to propose
        try:
            p = Proposal.model_validate_json(text)
        except ValidationError as e:
            return self._invalid(ctx, "bad_output", f"{PROPOSAL_FILE} is not a proposal: "
                                 f"{str(e)[:300]}", meta)
        return p.model_copy(update={"researcher": self.name, "researcher_args": dict(self.args),
                                    "meta": {**p.meta, **meta}})

    def _command(self, ctx: ResearchContext, tmp: Path, prog: Path, out: Path) -> Proposal | None:
        from rubicon.researcher._prompt import choose_plan, render_brief
        from rubicon.researcher.command import CommandResearcher
        from rubicon.workspace import write_workspace

        ctx = program_view(ctx)
        agent = CommandResearcher(cmd=" ".join(self.program.command), timeout=self.settings.timeout)
        plan = choose_plan(ctx, self.name, 1, 0.0, 2)
        ws = out / "workspace"
        write_workspace(ctx.task, plan.parent.files, ws)
        brief = tmp / "BRIEF.md"
        brief.write_text(render_brief(ctx, plan, str(ws), False, 20), encoding="utf-8")
        rationale = out / "RATIONALE.txt"
        env = {"RUBICON_BRIEF": str(brief), "RUBICON_WORKSPACE": str(ws),
               "RUBICON_RATIONALE": str(rationale), "RUBICON_PROGRAM": str(prog),
               "RUBICON_EDITABLE": ",".join(ctx.task.spec.editable),
               "RUBICON_PARENT_ID": str(plan.parent.id), "RUBICON_MODE": plan.mode}
        argv = ["/bin/sh", "-c", 'cd "$RUBICON_WORKSPACE" && exec "$@"', "program",
                *[str(prog / a) if (prog / a).is_file() else a for a in self.program.command]]
        facts, seconds = self._run(argv, out, tmp, [prog, brief], env, ctx.seed)
        meta = self._meta(facts, seconds)
        kind, why = _fault(facts)
        if kind:
            return self._invalid(ctx, kind, why, meta)
        agent.name, agent.args = self.name, dict(self.args)
        return agent._collect(ctx, plan, ws, rationale, facts.output_tail, meta)


__all__ = ["PROGRAM_FILE", "ProgramFile", "ProgramResearcher", "ProgramSettings", "load_program",
           "program_hash", "program_view"]
