"""Researcher programs run sandboxed (rubicon.lineage.program): what they may do, and every way
they can fail being recorded as an invalid proposal with its fault, never an exception."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rubicon.errors import ConfigError
from rubicon.lineage.improve import META_TASK
from rubicon.lineage.program import ProgramResearcher, load_program, program_hash
from rubicon.researcher import ResearchContext, make_researcher
from rubicon.task import resolve_task
from rubicon.types import Decision, Experiment, State

TASK = resolve_task("demo-inversions")
SEARCH_PROGRAM = META_TASK / "workspace"


def ctx() -> ResearchContext:
    base = Experiment(id=1, campaign_id="c", seq=0, parent_id=None, researcher="baseline",
                      files=TASK.editable_files(), state=State.OK, decision=Decision.KEEP,
                      objective=1.0, speedup=1.0, meta={"config": {}})
    return ResearchContext(task=TASK.without_hints(), baseline=base, incumbent=base,
                           history=[base], hints=False)


def python_program(tmp_path: Path, body: str, name: str = "prog") -> Path:
    d = tmp_path / name
    d.mkdir()
    (d / "program.toml").write_text('kind = "python"\nentry = "researcher:make"\n')
    (d / "researcher.py").write_text(body)
    return d


KNOB_SETTER = '''
from rubicon.types import Edit, Proposal

class R:
    name = "knob-setter"
    def propose(self, ctx):
        return Proposal(parent_id=ctx.baseline.id, rationale="mergesort",
                        edits=[Edit(file="knobs.json", search="",
                                    replace='{"cutoff": 16, "method": "mergesort"}')])

def make():
    return R()
'''


def test_python_program_proposes_from_the_sandbox(tmp_path: Path) -> None:
    prog = python_program(tmp_path, KNOB_SETTER)
    r = ProgramResearcher(dir=str(prog))
    p = r.propose(ctx())
    assert p is not None and p.researcher == "program"
    assert p.edits[0].file == "knobs.json" and "mergesort" in p.edits[0].replace
    assert p.meta["program_hash"] == program_hash(prog) and "program_fault" not in p.meta


def test_the_exported_search_program_proposes_like_search(tmp_path: Path) -> None:
    r = make_researcher("program", dir=str(SEARCH_PROGRAM))
    p = r.propose(ctx())
    assert p is not None and "error" not in p.meta, p.meta.get("error")
    assert p.knobs and p.meta["phase"] in ("sweep", "tpe", "random", "fill")


@pytest.mark.parametrize(("body", "fault", "words"), [
    ("def make():\n    raise RuntimeError('boom')\n", "crashed", "boom"),
    ("import time\ndef make():\n    time.sleep(60)\n", "timed_out", "timed out"),
    ("import socket\ndef make():\n    socket.create_connection(('1.1.1.1', 53), timeout=3)\n",
     "crashed", "exited with code"),
    ("def make():\n    open(__file__, 'a').write('# self-edit')\n", "crashed", "Read-only"),
    ("def make():\n    class R:\n        name = 'x'\n        def propose(self, ctx):\n"
     "            return 42\n    return R()\n", "crashed", "model_dump_json"),
])
def test_program_faults_are_recorded_not_raised(tmp_path: Path, body: str, fault: str,
                                                words: str) -> None:
    prog = python_program(tmp_path, body)
    p = ProgramResearcher(dir=str(prog), timeout=3).propose(ctx())
    assert p is not None and p.edits == []
    assert p.meta["program_fault"] == fault and words in p.meta["error"] + p.meta["program_tail"]
    assert (prog / "researcher.py").read_text() == body  # the original is never touched


def test_the_store_and_the_host_are_invisible(tmp_path: Path) -> None:
    secret = tmp_path / "rubicon.db"
    secret.write_text("SECRET-STORE")
    body = (f"def make():\n    print(open({str(secret)!r}).read())\n")
    p = ProgramResearcher(dir=str(python_program(tmp_path, body)), timeout=20).propose(ctx())
    assert p is not None and p.meta["program_fault"] == "crashed"
    assert "FileNotFoundError" in p.meta["program_tail"] and "SECRET" not in json.dumps(p.meta)


def test_command_program_edits_a_workspace_copy(tmp_path: Path) -> None:
    d = tmp_path / "cmd"
    d.mkdir()
    (d / "program.toml").write_text('kind = "command"\ncommand = ["sh", "agent.sh"]\n')
    (d / "agent.sh").write_text(
        'test -f "$RUBICON_BRIEF" || exit 3\n'
        "printf '{\"cutoff\": 8, \"method\": \"mergesort\"}' > knobs.json\n"
        'echo "mergesort by a command" > "$RUBICON_RATIONALE"\n')
    shutil.copymode("/bin/sh", d / "agent.sh")
    p = ProgramResearcher(dir=str(d), timeout=20).propose(ctx())
    assert p is not None and "error" not in p.meta, p.meta.get("error")
    assert p.rationale == "mergesort by a command" and '"cutoff": 8' in p.edits[0].replace


def test_a_directory_without_program_toml_is_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="program.toml"):
        load_program(tmp_path)
    (tmp_path / "program.toml").write_text('kind = "command"\n')
    with pytest.raises(ConfigError, match="command = "):
        load_program(tmp_path)
