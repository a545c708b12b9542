"""The lineage's audit log: append-only, hash-chained JSON lines (docs/LINEAGE.md, "Audit log").

Every generation decision (start, proposal, gate, approval, promotion, rejection, failure, halt,
resume) is one line. Each entry carries the sha256 of the entry before it (`prev_hash`) and its
own `hash`, the sha256 of the canonical JSON of all its other fields, so that an edit, a deleted
or a reordered entry breaks the chain at a seq `verify()` names.

Beside the log, a one-line head file (`<log>.head`) holds the seq and hash of the last entry. It
catches whole entries cut from the end of the log, which a chain alone cannot see; publishing the
head elsewhere (the notification hooks send it with every event) makes it an external anchor.

Crash safety: an append is one write of one line followed by fsync, under an exclusive fcntl lock
held for the read-last-entry/append sequence. A kill -9 in the middle of a write can leave a torn
last line without its newline; `verify()` reports it as torn (not as tampering), `append()`
refuses to write after it, and `recover()` moves the torn bytes to a side file and truncates the
log back to its last complete entry (that entry was never acknowledged, so nothing is lost).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, ValidationError

from rubicon.errors import RubiconError
from rubicon.lineage.records import Generation

Kind = Literal[
    "start", "proposal", "gate", "approval", "promotion", "rejection", "failure", "halt", "resume"
]
KINDS: tuple[str, ...] = get_args(Kind)
GENESIS = "0" * 64  # prev_hash of entry 0
AUDIT_FILE = "audit.jsonl"  # the audit log's name in a lineage directory


class AuditError(RubiconError):
    """The audit log cannot be appended to or read (torn tail, bad kind, tampered head)."""


class AuditEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    seq: int
    time: float
    kind: Kind
    generation: int
    record: dict[str, Any]
    evidence: dict[str, str]
    prev_hash: str
    hash: str


@dataclass
class AuditVerdict:
    """What `verify()` found. `ok` only when the log is intact; a torn last line (a crash during
    an append) sets `torn` and is told apart from tampering (`tampered`)."""

    ok: bool
    entries: int
    problems: list[str] = field(default_factory=list)
    torn: bool = False
    tampered: bool = False
    head_hash: str = GENESIS


def canonical(obj: Any) -> bytes:
    """The bytes hashed for an entry: sorted keys, no spaces, UTF-8."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()


def entry_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(canonical({k: v for k, v in body.items() if k != "hash"})).hexdigest()


class AuditLog:
    """An append-only hash-chained JSONL file at `path` (created on the first append)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.head_path = self.path.with_name(self.path.name + ".head")

    # ---------------------------------------------------------------- writing
    def append(self, kind: str, generation: int, record: dict[str, Any] | BaseModel,
               evidence: dict[str, str] | None = None) -> AuditEntry:
        """Append one entry, fsynced before returning. Raises AuditError on an unknown kind or
        a torn last line (call `recover()` first, see the module docstring)."""
        if kind not in KINDS:
            raise AuditError(f"audit log {self.path}: unknown kind {kind!r}; "
                             f"allowed: {', '.join(KINDS)}")
        rec = record.model_dump(mode="json") if isinstance(record, BaseModel) else dict(record)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._locked() as fd:
            data = _read_all(fd)
            if data and not data.endswith(b"\n"):
                raise AuditError(f"audit log {self.path} ends with a torn line (an append was "
                                 "interrupted by a crash); recover it first with "
                                 "AuditLog.recover() (docs/LINEAGE.md, \"Audit log\")")
            last = _last_line(data)
            if last is None:
                seq, prev = 0, GENESIS
            else:
                try:
                    prev_entry = json.loads(last)
                    seq, prev = int(prev_entry["seq"]) + 1, str(prev_entry["hash"])
                except (ValueError, KeyError, TypeError) as e:
                    raise AuditError(f"audit log {self.path}: last entry is unreadable ({e}); "
                                     "run `rubicon lineage verify`") from None
            body: dict[str, Any] = {
                "seq": seq, "time": time.time(), "kind": kind, "generation": int(generation),
                "record": rec, "evidence": dict(evidence or {}), "prev_hash": prev,
            }
            try:
                body["hash"] = entry_hash(body)
            except (TypeError, ValueError) as e:
                raise AuditError(f"audit log {self.path}: record is not JSON ({e})") from None
            line = canonical(body) + b"\n"
            os.lseek(fd, 0, os.SEEK_END)
            _write_all(fd, line)
            os.fsync(fd)
            if seq == 0:
                _fsync_dir(self.path.parent)
            self._write_head(seq, body["hash"])
        return AuditEntry.model_validate(body)

    def recover(self) -> int:
        """Cut a torn last line (moved to `<log>.torn-<unix time>`); returns the bytes cut."""
        if not self.path.exists():
            return 0
        with self._locked() as fd:
            data = _read_all(fd)
            if not data or data.endswith(b"\n"):
                return 0
            keep = data.rfind(b"\n") + 1
            side = self.path.with_name(f"{self.path.name}.torn-{int(time.time())}")
            side.write_bytes(data[keep:])
            os.ftruncate(fd, keep)
            os.fsync(fd)
            return len(data) - keep

    def _write_head(self, seq: int, digest: str) -> None:
        tmp = self.head_path.with_name(self.head_path.name + ".tmp")
        with open(tmp, "w") as f:
            f.write(json.dumps({"seq": seq, "hash": digest}) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.head_path)

    @contextmanager
    def _locked(self) -> Iterator[int]:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield fd
        finally:
            os.close(fd)  # releases the lock

    # ---------------------------------------------------------------- reading
    def entries(self) -> list[AuditEntry]:
        """The complete, well-formed entries in file order (a torn last line is left out).
        Raises AuditError on a line that is not an entry; `verify()` says more."""
        out = []
        for n, line in enumerate(self._lines(), start=1):
            try:
                out.append(AuditEntry.model_validate_json(line))
            except ValidationError as e:
                raise AuditError(f"audit log {self.path}, line {n}: not an audit entry "
                                 f"({e.errors()[0]['msg']}); run `rubicon lineage verify`") from None
        return out

    def generations(self) -> list[Generation]:
        """The latest Generation record per generation number, ordered by generation."""
        latest: dict[int, Generation] = {}
        for e in self.entries():
            try:
                g = Generation.model_validate(e.record)
            except ValidationError:
                continue
            latest[g.generation] = g
        return [latest[k] for k in sorted(latest)]

    def head(self) -> tuple[int, str] | None:
        """(seq, hash) of the last entry as recorded in the head file, or None."""
        try:
            h = json.loads(self.head_path.read_text())
            return int(h["seq"]), str(h["hash"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _lines(self) -> list[bytes]:
        if not self.path.exists():
            return []
        data = self.path.read_bytes()
        lines = data.split(b"\n")
        return lines[:-1]  # the last piece is b"" (complete log) or a torn line

    def verify(self) -> AuditVerdict:
        """Check every entry's hash, the chain, the seq order and the head file."""
        return _verify(self)


def _verify(log: AuditLog) -> AuditVerdict:
    v = AuditVerdict(ok=True, entries=0)
    if not log.path.exists():
        if log.head() is not None:
            v.problems.append(f"{log.path} is missing but its head file says entries existed "
                              "(log deleted)")
            v.tampered = True
        v.ok = not v.problems
        return v
    data = log.path.read_bytes()
    pieces = data.split(b"\n")
    complete, tail = pieces[:-1], pieces[-1]
    prev_hash, prev_seq = GENESIS, -1
    for n, line in enumerate(complete, start=1):
        where = f"line {n}"
        try:
            body = json.loads(line)
            entry = AuditEntry.model_validate(body)
        except (ValueError, ValidationError) as e:
            msg = e.errors()[0]["msg"] if isinstance(e, ValidationError) else str(e)
            v.problems.append(f"{where}: bad JSON or not an audit entry ({msg}) after seq "
                              f"{prev_seq}")
            v.tampered = True
            break
        where = f"seq {entry.seq} ({where})"
        if entry_hash(body) != entry.hash:
            v.problems.append(f"{where}: edited (its hash does not match its content)")
        elif entry.seq <= prev_seq:
            v.problems.append(f"{where}: reordered (seq {entry.seq} after seq {prev_seq})")
        elif entry.seq != prev_seq + 1:
            later = _line_of_seq(complete[n:], prev_seq + 1)
            if later is not None:
                v.problems.append(f"{where}: reordered (seq {prev_seq + 1} comes later, at "
                                  f"line {n + later})")
            else:
                v.problems.append(f"{where}: deleted entries before it "
                                  f"(seq {prev_seq + 1}..{entry.seq - 1} missing)")
        elif entry.prev_hash != prev_hash:
            v.problems.append(f"{where}: chain broken (prev_hash is not the hash of seq "
                              f"{prev_seq}: an entry before it was replaced)")
        if v.problems:
            v.tampered = True
            break
        prev_hash, prev_seq = entry.hash, entry.seq
        v.entries += 1
    v.head_hash = prev_hash
    if not v.tampered:
        head = log.head()
        if head is not None:
            hseq, hhash = head
            if hseq > prev_seq:
                v.problems.append(f"truncated: the head file records seq {hseq} but the log "
                                  f"ends at seq {prev_seq} (entries cut from the end)")
                v.tampered = True
            elif hseq == prev_seq and hhash != prev_hash:
                v.problems.append(f"seq {hseq}: its hash differs from the head file's "
                                  "(last entry replaced)")
                v.tampered = True
            # hseq < prev_seq: a crash between the append's fsync and the head write; harmless
    if tail:
        v.torn = True
        v.problems.append(f"torn last line after seq {prev_seq} ({len(tail)} bytes without a "
                          "newline: an append interrupted by a crash, not tampering); recover "
                          "with AuditLog.recover() (docs/LINEAGE.md, \"Audit log\")")
    v.ok = not v.problems
    return v


def _line_of_seq(lines: list[bytes], seq: int) -> int | None:
    """1-based index in `lines` of the first line whose JSON has this seq, else None."""
    for i, line in enumerate(lines, start=1):
        try:
            if json.loads(line).get("seq") == seq:
                return i
        except (ValueError, AttributeError):
            continue
    return None


def _read_all(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def _last_line(data: bytes) -> bytes | None:
    lines = data.rstrip(b"\n").rsplit(b"\n", 1)
    return lines[-1] if data.strip() else None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _fsync_dir(path: Path) -> None:
    try:
        dfd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
