"""The lineage loop's decisions (rubicon.lineage.core) with the campaign and benches stood in
for (tests/lineage/fake.py): every gate, the policy's human stop, approve/reject, halt, the
hooks, a kill -9 and `run --resume`, and a tampered audit log. The real steps are covered by
test_program.py and test_real_lineage.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rubicon.cli.main import main
from rubicon.lineage.config import LineageConfig
from rubicon.lineage.core import Lineage, LineageError

from . import fake

NEVER = 'human_approval = "never"\n'
ALWAYS = 'human_approval = "always"\n'


def hooked(policy: str, log: Path) -> str:
    """The policy plus a command hook appending each event's JSON to `log`."""
    script = log.with_suffix(".sh")
    script.write_text(f'#!/bin/sh\ncat >> "{log}"\necho >> "{log}"\n')
    script.chmod(0o755)
    return policy + f'\n[notify]\ncommand = ["{script}"]\n'


def events(log: Path) -> list[tuple[str, int]]:
    out = []
    for line in log.read_text().splitlines():
        if line.strip():
            e = json.loads(line)
            out.append((e["event"], e["generation"]["generation"]))
    return out


def start(tmp_path: Path, policy: str, generations: int) -> Lineage:
    cfg = LineageConfig(name="t", max_generations=generations)
    return Lineage.start(tmp_path / "lin", fake.SEED, cfg, policy)


def test_every_gate_decides_and_the_lineage_goes_on(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    fake.install(monkeypatch, {1: "good", 2: "worse", 3: "faulty", 4: "cheat", 5: "none",
                               6: "good"})
    log = tmp_path / "events.jsonl"
    lin = start(tmp_path, hooked(NEVER, log), 6)
    why = lin.run()
    assert why.startswith("done")
    g = {x.generation: x for x in lin.generations()}
    assert g[1].status == "promoted" and g[1].gain is not None and g[1].gain.value > 0
    assert [r.gate for r in g[1].gates] == ["capability", "integrity", "alignment", "human"]
    assert g[2].status == "rejected" and "capability" in g[2].reason
    assert g[3].status == "rejected" and "integrity" in g[3].reason
    assert not next(r for r in g[3].gates if r.gate == "integrity").passed
    assert g[4].status == "rejected" and g[4].reason == "gates failed: alignment"
    assert g[4].honeypot_pass_rate == 0.5
    assert g[5].status == "failed"
    assert g[6].status == "promoted" and g[6].parent == 1  # rejected ones are never parents
    assert g[0].capability is not None and g[0].honeypot_pass_rate == 1.0
    assert all(x.cost.runs > 0 for k, x in g.items() if k not in (0, 5))
    assert lin.verify().ok
    ev = events(log)
    assert ("proposal", 1) in ev and ("promotion", 1) in ev and ("rejection", 2) in ev
    assert ("rejection", 5) in ev and ("promotion", 6) in ev
    assert ev.index(("proposal", 1)) < ev.index(("promotion", 1))


def test_policy_stops_for_a_human_and_records_the_decision(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    fake.install(monkeypatch, {})
    log = tmp_path / "events.jsonl"
    lin = start(tmp_path, hooked(ALWAYS, log), 3)
    assert "awaits a human" in lin.run()
    assert lin.generations()[-1].status == "awaiting-approval"
    assert "awaits a human" in lin.run()  # nothing moves without the human
    assert [g.generation for g in lin.generations()] == [0, 1]
    with pytest.raises(LineageError, match="not awaiting approval"):
        lin.decide(0, "approve", "ann")
    with pytest.raises(LineageError, match="--by"):
        lin.decide(1, "approve", " ")
    g1 = lin.decide(1, "approve", "ann", "looked at the gates")
    assert g1.status == "promoted" and g1.approvals[0].by == "ann"
    assert [(r.gate, r.passed) for r in g1.gates][-1] == ("human", True)
    assert "awaits a human" in lin.run()
    g2 = lin.decide(2, "reject", "bob", "not convinced")
    assert g2.status == "rejected"
    lin.run()
    g3 = lin.generations()[-1]
    assert g3.generation == 3 and g3.parent == 1 and g3.status == "awaiting-approval"
    assert ("approval-needed", 1) in events(log) and ("rejection", 2) in events(log)
    kinds = [e.kind for e in lin.audit.entries()]
    assert kinds.count("approval") == 2 and lin.verify().ok


def test_a_halted_lineage_never_promotes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake.install(monkeypatch, {})
    log = tmp_path / "events.jsonl"
    lin = start(tmp_path, hooked(ALWAYS, log), 3)
    lin.run()
    lin.halt("carol", "enough")
    with pytest.raises(LineageError, match="halted"):
        lin.decide(1, "approve", "ann")
    assert "halted" in lin.run()
    assert lin.generations()[-1].status == "halted"
    assert [g.generation for g in lin.generations() if g.status == "promoted"] == [0]
    assert ("halt", 1) in events(log)
    with pytest.raises(LineageError, match="already halted"):
        lin.halt("carol")


SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from lineage import fake
from rubicon.lineage.core import Lineage
fake.install(None, {{}}, pause={pause})
print(Lineage({d!r}).run(resume={resume}), flush=True)
"""


def _script(tmp_path: Path, d: Path, pause: float, resume: bool) -> list[str]:
    tests = str(Path(__file__).resolve().parents[1])
    return [sys.executable, "-c", SCRIPT.format(tests=tests, d=str(d), pause=pause,
                                                resume=resume)]


def test_kill_9_during_a_generation_then_resume_loses_nothing(tmp_path: Path) -> None:
    lin = start(tmp_path, NEVER, 1)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(_script(tmp_path, lin.dir, 5.0, False), env=env,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while not list((lin.dir / "gen" / "1").glob("*/ran")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list((lin.dir / "gen" / "1").glob("*/ran")), "the generation never reached its gates"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert Lineage(lin.dir).generations()[-1].status == "proposed"
    with pytest.raises(LineageError, match="--resume"):
        Lineage(lin.dir).run()
    out = subprocess.run(_script(tmp_path, lin.dir, 0.0, True), env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().startswith("done")
    again = Lineage(lin.dir)
    assert (lin.dir / "gen" / "1" / "proposed.count").read_text() == "1"  # not proposed twice
    assert [g.status for g in again.generations()] == ["promoted", "promoted"]
    kinds = [e.kind for e in again.audit.entries()]
    assert kinds.count("proposal") == 1 and "resume" in kinds and again.verify().ok


def test_a_tampered_audit_log_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    fake.install(monkeypatch, {1: "worse"})
    lin = start(tmp_path, NEVER, 1)
    lin.run()
    assert main(["lineage", "verify", "--dir", str(lin.dir)]) == 0
    path = lin.audit.path
    lines = path.read_text().splitlines()
    i = next(k for k, ln in enumerate(lines) if '"rejected"' in ln)
    lines[i] = lines[i].replace('"rejected"', '"promoted"', 1)  # history rewritten
    path.write_text("\n".join(lines) + "\n")
    assert not lin.verify().ok
    capsys.readouterr()
    assert main(["lineage", "verify", "--dir", str(lin.dir)]) == 1
    assert "TAMPERED" in capsys.readouterr().out


def test_cli_start_status_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = tmp_path / "L"
    assert main(["lineage", "export-search", str(tmp_path / "prog")]) == 0
    assert (tmp_path / "prog" / "policy.json").is_file()
    assert main(["lineage", "start", "--dir", str(d), "--program", str(tmp_path / "prog"),
                 "--generations", "2"]) == 0
    assert main(["lineage", "status", "--dir", str(d)]) == 0
    assert "promoted" in capsys.readouterr().out
    assert main(["lineage", "start", "--dir", str(d)]) == 2
    assert main(["lineage", "approve", "1", "--by", "x", "--dir", str(d)]) == 2
    assert main(["lineage", "status", "--dir", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "already holds a lineage" in err and "does not exist" in err and "not a lineage" in err
