"""The audit log: hash chain, tamper detection, torn tails from kill -9, concurrent appends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rubicon.lineage.audit import GENESIS, AuditError, AuditLog
from rubicon.lineage.records import Generation, Interval

SRC = Path(__file__).resolve().parents[2] / "src"


def gen(k: int, status: str = "promoted") -> Generation:
    return Generation(lineage="L", generation=k, parent=None if k == 0 else k - 1,
                      program_hash=f"h{k}", status=status,  # type: ignore[arg-type]
                      capability=Interval(value=0.5 + k / 10, lo=0.4, hi=0.7))


def filled(tmp_path: Path, n: int = 5) -> AuditLog:
    log = AuditLog(tmp_path / "audit.jsonl")
    log.append("start", 0, gen(0))
    for k in range(1, n):
        log.append("proposal", k, gen(k, "proposed"), evidence={"program": f"sha-{k}"})
    return log


def rewrite(log: AuditLog, lines: list[str]) -> None:
    log.path.write_text("".join(line + "\n" for line in lines))


def test_chain_links_every_entry_and_verifies(tmp_path: Path) -> None:
    log = filled(tmp_path)
    es = log.entries()
    assert [e.seq for e in es] == [0, 1, 2, 3, 4]
    assert es[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(es, es[1:], strict=False))
    assert es[2].evidence == {"program": "sha-2"}
    v = log.verify()
    assert v.ok and v.entries == 5 and not v.problems and v.head_hash == es[-1].hash


def test_generations_keeps_the_latest_record_per_generation(tmp_path: Path) -> None:
    log = filled(tmp_path, 3)
    log.append("gate", 2, {"gate": "capability", "passed": True})  # not a Generation: skipped
    log.append("promotion", 2, gen(2, "promoted"))
    gs = log.generations()
    assert [g.generation for g in gs] == [0, 1, 2]
    assert [g.status for g in gs] == ["promoted", "proposed", "promoted"]
    assert gs[0].capability == Interval(value=0.5, lo=0.4, hi=0.7)


def test_an_edited_record_is_named_by_seq(tmp_path: Path) -> None:
    log = filled(tmp_path)
    lines = log.path.read_text().splitlines()
    lines[2] = lines[2].replace('"status":"proposed"', '"status":"promoted"')
    rewrite(log, lines)
    v = log.verify()
    assert not v.ok and v.tampered and not v.torn
    assert v.problems[0].startswith("seq 2") and "edited" in v.problems[0]


def test_an_edit_with_a_recomputed_hash_breaks_the_chain(tmp_path: Path) -> None:
    from rubicon.lineage.audit import canonical, entry_hash
    log = filled(tmp_path)
    lines = log.path.read_text().splitlines()
    body = json.loads(lines[1])
    body["record"]["status"] = "promoted"
    body["hash"] = entry_hash(body)
    lines[1] = canonical(body).decode()
    rewrite(log, lines)
    v = log.verify()
    assert v.tampered and v.problems[0].startswith("seq 2") and "chain broken" in v.problems[0]


def test_deleted_reordered_and_truncated_entries(tmp_path: Path) -> None:
    log = filled(tmp_path)
    lines = log.path.read_text().splitlines()
    rewrite(log, lines[:2] + lines[3:])
    v = log.verify()
    assert v.tampered and "seq 3" in v.problems[0] and "deleted" in v.problems[0]

    rewrite(log, [lines[0], lines[2], lines[1], lines[3], lines[4]])
    v = log.verify()
    assert v.tampered and v.problems[0].startswith("seq 2")  # a gap at 2 after 0

    rewrite(log, [lines[0], lines[1], lines[2], lines[4], lines[3]])
    v = log.verify()
    assert v.tampered and v.problems == ["seq 4 (line 4): reordered (seq 3 comes later, at line 5)"]

    rewrite(log, lines[:3])  # the last two cut off: only the head file knows
    v = log.verify()
    assert v.tampered and "truncated" in v.problems[0] and "seq 4" in v.problems[0]

    log.path.unlink()
    assert log.verify().tampered


def test_bad_json_line_is_reported(tmp_path: Path) -> None:
    log = filled(tmp_path)
    lines = log.path.read_text().splitlines()
    lines[3] = lines[3][:40]
    rewrite(log, lines)
    v = log.verify()
    assert v.tampered and "line 4" in v.problems[0] and "bad JSON" in v.problems[0]
    with pytest.raises(AuditError, match="line 4"):
        log.entries()


def test_torn_tail_is_not_tampering_and_recovers(tmp_path: Path) -> None:
    log = filled(tmp_path, 3)
    with open(log.path, "ab") as f:
        f.write(b'{"seq":3,"time":17')
    v = log.verify()
    assert not v.ok and v.torn and not v.tampered
    assert "torn last line after seq 2" in v.problems[0]
    assert len(log.entries()) == 3
    with pytest.raises(AuditError, match="torn"):
        log.append("halt", 2, {})
    assert log.recover() == len(b'{"seq":3,"time":17')
    assert list(tmp_path.glob("audit.jsonl.torn-*"))
    assert log.verify().ok
    assert log.append("resume", 2, {}).seq == 3
    assert log.verify().ok and log.recover() == 0


def test_unknown_kind_and_non_json_record_are_refused(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.jsonl")
    with pytest.raises(AuditError, match="allowed: start, proposal"):
        log.append("promote", 1, {})
    with pytest.raises(AuditError, match="not JSON"):
        log.append("gate", 1, {"x": float("nan")})
    assert not log.path.exists() or log.path.read_bytes() == b""
    assert log.verify().ok


_WRITER = """
import sys
from rubicon.lineage.audit import AuditLog
log = AuditLog(sys.argv[1])
for i in range(int(sys.argv[2])):
    log.append("gate", i, {"writer": sys.argv[3], "i": i, "pad": "x" * 2000})
"""


def test_concurrent_appends_keep_one_chain(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    path = tmp_path / "audit.jsonl"
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(path), "40", w], env=env)
             for w in "ab"]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    log = AuditLog(path)
    v = log.verify()
    assert v.ok, v.problems
    assert v.entries == 80
    assert sorted(e.record["writer"] for e in log.entries()).count("a") == 40


def test_kill_9_during_appends_leaves_a_verifiable_or_recoverable_log(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    path = tmp_path / "audit.jsonl"
    p = subprocess.Popen([sys.executable, "-c", _WRITER, str(path), "100000", "k"], env=env)
    deadline = time.time() + 30
    while time.time() < deadline and (not path.exists() or path.stat().st_size < 50_000):
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    log = AuditLog(path)
    v = log.verify()
    assert not v.tampered, v.problems
    if v.torn:
        log.recover()
    v = log.verify()
    assert v.ok and v.entries >= 20
    assert log.append("resume", 0, {}).seq == v.entries
