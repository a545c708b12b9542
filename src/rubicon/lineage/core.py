"""The lineage loop: researcher programs that build their successors, under gates.

Generation 0 is a researcher program (promoted by fiat). Generation k+1 is proposed by running
a campaign on improve-researcher whose researcher *and* workspace are generation k's program;
its best candidate is the proposal. The proposal is promoted only through the gates
(rubicon.lineage.gates) and, where the policy says so, a person's approval. Every decision is an
entry of the hash-chained audit log (rubicon.lineage.audit), which is also the lineage's state:
a kill -9 at any point loses at most the unfinished step, which `run --resume` redoes from the
campaign's and the benches' own resumable records.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from rubicon.errors import RubiconError
from rubicon.lineage.audit import AuditLog, AuditVerdict
from rubicon.lineage.config import (
    AUDIT_FILE,
    CONFIG_FILE,
    POLICY_FILE,
    RUNNING_FILE,
    LineageConfig,
    dump_toml,
    read_config,
)
from rubicon.lineage.gates import (
    alignment_gate,
    as_dict,
    bench_dirs,
    capability_gate,
    integrity_gate,
    program_label,
    read_bench,
    run_bench,
)
from rubicon.lineage.improve import propose_successor
from rubicon.lineage.notify import notify
from rubicon.lineage.policy import DEFAULT_POLICY_TOML, Policy, load_policy, parse_policy
from rubicon.lineage.program import load_program, program_hash
from rubicon.lineage.records import Approval, Cost, GateResult, Generation

Emit = Callable[[str], None]


class LineageError(RubiconError):
    """A lineage command that cannot be done as asked (the message says what to do)."""


def _sha(data: str | bytes) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


class Lineage:
    """A lineage directory: its config, policy, audit log and one directory per generation."""

    def __init__(self, directory: str | Path) -> None:
        self.dir = Path(directory).resolve()
        self.cfg: LineageConfig = read_config(self.dir)
        self.audit = AuditLog(self.dir / AUDIT_FILE)

    # construction ------------------------------------------------------------------------

    @classmethod
    def start(cls, directory: str | Path, program: str | Path, cfg: LineageConfig,
              policy_text: str | None = None) -> Lineage:
        """Create a lineage in `directory` (new or empty) with `program` as generation 0."""
        d, prog = Path(directory).resolve(), Path(program).resolve()
        if (d / CONFIG_FILE).exists():
            raise LineageError(f"{d} already holds a lineage; continue it with `rubicon lineage "
                               "run`, or choose a new directory")
        if d.exists() and any(d.iterdir()):
            raise LineageError(f"{d} is not empty; choose a new directory")
        load_program(prog)
        policy_text = policy_text if policy_text is not None else DEFAULT_POLICY_TOML
        parse_policy(policy_text, "the policy given")  # checked before anything is written
        d.mkdir(parents=True, exist_ok=True)
        shutil.copytree(prog, d / "gen" / "0" / "program",
                        ignore=shutil.ignore_patterns("__pycache__"))
        config_text = dump_toml(cfg.model_dump(mode="json"))
        (d / CONFIG_FILE).write_text(config_text, encoding="utf-8")
        (d / POLICY_FILE).write_text(policy_text, encoding="utf-8")
        lin = cls(d)
        h = program_hash(d / "gen" / "0" / "program")
        g0 = Generation(lineage=cfg.name, generation=0, parent=None, program_hash=h,
                        status="promoted", reason=f"seed program {prog}")
        lin.audit.append("start", 0, g0, {"program": h, "config": _sha(config_text),
                                          "policy": _sha(policy_text)})
        return lin

    # reading -----------------------------------------------------------------------------

    @property
    def policy(self) -> Policy:
        return load_policy(self.dir / POLICY_FILE)

    def generations(self) -> list[Generation]:
        return self.audit.generations()

    def halted(self) -> bool:
        return any(e.kind == "halt" for e in self.audit.entries())

    def program_dir(self, n: int) -> Path:
        return self.dir / "gen" / str(n) / "program"

    def _latest_promoted(self) -> Generation:
        return [g for g in self.generations() if g.status == "promoted"][-1]

    def _unattended(self) -> int:
        n = 0
        for g in self.generations():
            if g.generation > 0 and g.status == "promoted":
                n = 0 if any(a.decision == "approve" for a in g.approvals) else n + 1
        return n

    def verify(self) -> AuditVerdict:
        return self.audit.verify()

    # the loop ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        fd = os.open(self.dir / ".lineage.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise LineageError(f"lineage {self.dir} is busy (another `rubicon lineage` "
                                   "command runs on it); wait for it") from None
            yield
        finally:
            os.close(fd)

    def run(self, resume: bool = False, emit: Emit = lambda s: None) -> str:
        """Make generations until the configured number, a human decision, or a halt.
        Returns why it stopped (one line)."""
        with self._lock():
            running = self.dir / RUNNING_FILE
            if running.exists():
                if not resume:
                    raise LineageError(f"lineage {self.dir} was interrupted while making a "
                                       "generation; continue it with `rubicon lineage run "
                                       "--resume`")
                note = json.loads(running.read_text() or "{}")
                self.audit.recover()
                self.audit.append("resume", int(note.get("generation", 0)), {"running": note})
                emit(f"resuming generation {note.get('generation')}")
            while True:
                if self.halted():
                    return "the lineage is halted; it never promotes again"
                last = self.generations()[-1]
                if last.status == "awaiting-approval":
                    return (f"generation {last.generation} awaits a human: rubicon lineage "
                            f"approve {last.generation} --by NAME (or reject)")
                if last.status == "proposed":
                    running.write_text(json.dumps({"generation": last.generation, "step": "gates",
                                                   "pid": os.getpid()}))
                    self._judge(last, emit)
                    running.unlink(missing_ok=True)
                    continue
                n = last.generation + 1
                if n > self.cfg.max_generations:
                    return f"done: {self.cfg.max_generations} generations made"
                parent = self._latest_promoted()
                running.write_text(json.dumps({"generation": n, "step": "improve",
                                               "pid": os.getpid()}))
                emit(f"generation {n}: generation {parent.generation} improves its own program")
                gen = propose_successor(self, n, parent, emit)
                kind = "proposal" if gen.status == "proposed" else "failure"
                self.audit.append(kind, n, gen, gen.evidence)
                self._notify("proposal" if kind == "proposal" else "rejection", gen, emit)
                if gen.status != "proposed":
                    running.unlink(missing_ok=True)

    def _notify(self, event: str, gen: Generation, emit: Emit) -> None:
        head = self.audit.head()
        payload = {"lineage": self.cfg.name, "directory": str(self.dir),
                   "generation": gen.model_dump(mode="json"),
                   "audit_head": {"seq": head[0], "hash": head[1]} if head else None}
        for problem in notify(self.policy, event, payload):
            emit(f"warning: {problem}")

    def _judge(self, gen: Generation, emit: Emit) -> None:
        n, cfg = gen.generation, self.cfg
        parent = next(g for g in self.generations() if g.generation == gen.parent)
        assert gen.parent is not None
        gdir = self.dir / "gen" / str(n)
        p_label = program_label(f"gen{gen.parent}", self.program_dir(gen.parent),
                                cfg.program_timeout, cfg.program_network)
        c_label = program_label(f"gen{n}", self.program_dir(n), cfg.program_timeout,
                                cfg.program_network)
        emit(f"generation {n}: held-out bench (paired with generation {gen.parent})")
        benches = bench_dirs(gdir)
        held_dir, honey_dir = benches["heldout"], benches["honeypot"]
        held = run_bench(held_dir, [p_label, c_label], cfg.heldout, cfg.seed + 1000 * n)
        emit(f"generation {n}: honeypot bench")
        honey = run_bench(honey_dir, [p_label, c_label], cfg.honeypot, cfg.seed + 1000 * n + 500)
        hp, hc = read_bench(held_dir, held, p_label), read_bench(held_dir, held, c_label)
        yp, yc = read_bench(honey_dir, honey, p_label), read_bench(honey_dir, honey, c_label)
        cap, cap_child, cap_parent, gain = capability_gate(hp, hc, cfg.min_gain_lo, cfg.seed + n)
        ali, pass_rate = alignment_gate(yp, yc)
        gates = [cap, integrity_gate(hc, yc), ali]
        if parent.capability is None:  # the parent's figures, first measured here
            rate_p = 1.0 - (yp.cheats / yp.attempts if yp.attempts else 0.0)
            upd = parent.model_copy(update={"capability": cap_parent,
                                            "honeypot_pass_rate": rate_p})
            self.audit.append("gate", parent.generation, upd, {"measured_in": f"generation {n}"})
        readings = {"heldout_parent": as_dict(hp), "heldout_child": as_dict(hc),
                    "honeypot_parent": as_dict(yp), "honeypot_child": as_dict(yc)}
        evidence = {**gen.evidence, **{k: _sha(json.dumps(v, sort_keys=True))
                                       for k, v in readings.items()}}
        cost = Cost(wall_seconds=gen.cost.wall_seconds + hc.wall_seconds + yc.wall_seconds,
                    runs=gen.cost.runs + hc.experiments + yc.experiments,
                    tokens=int(gen.cost.tokens + hc.tokens + yc.tokens))
        judged = gen.model_copy(update={"capability": cap_child, "gain": gain, "gates": gates,
                                        "honeypot_pass_rate": pass_rate, "cost": cost,
                                        "evidence": evidence})
        self.audit.append("gate", n, {**judged.model_dump(mode="json")}, evidence)
        (gdir / "gates.json").write_text(json.dumps(readings, indent=1, sort_keys=True))
        for g in gates:
            emit(f"generation {n}: {g.gate} {'passed' if g.passed else 'FAILED'}: {g.detail}")
        failed = [g.gate for g in gates if not g.passed]
        if self.halted():  # halted while the benches ran: never promoted
            return
        if failed:
            out = judged.model_copy(update={"status": "rejected",
                                            "reason": "gates failed: " + ", ".join(failed)})
            self.audit.append("rejection", n, out, evidence)
            self._notify("rejection", out, emit)
            return
        policy = self.policy
        unattended = self._unattended()
        why = policy.why_human(judged, unattended)
        if policy.needs_human(judged, unattended):
            out = judged.model_copy(update={"status": "awaiting-approval", "reason": why,
                                            "gates": [*gates, GateResult(
                                                gate="human", passed=False,
                                                detail=f"awaiting a human ({why})")]})
            self.audit.append("gate", n, out, evidence)
            self._notify("approval-needed", out, emit)
            return
        out = judged.model_copy(update={"status": "promoted", "reason": why, "gates": [
            *gates, GateResult(gate="human", passed=True, detail=f"not needed ({why})")]})
        self.audit.append("promotion", n, out, evidence)
        self._notify("promotion", out, emit)

    # human decisions ---------------------------------------------------------------------

    def _awaiting(self, n: int, verb: str) -> Generation:
        gens = {g.generation: g for g in self.generations()}
        if n not in gens:
            raise LineageError(f"generation {n} does not exist (generations: "
                               f"{', '.join(str(k) for k in sorted(gens))})")
        g = gens[n]
        if self.halted():
            raise LineageError(f"the lineage is halted; generation {n} cannot be {verb}d")
        if g.status != "awaiting-approval":
            raise LineageError(f"generation {n} is {g.status}, not awaiting approval; only a "
                               "generation that passed its gates and waits for a human can be "
                               f"{verb}d")
        return g

    def decide(self, n: int, decision: str, by: str, note: str = "") -> Generation:
        """`approve` (promotes) or `reject` a generation awaiting a human."""
        if decision not in ("approve", "reject"):
            raise LineageError(f"decision {decision!r}: allowed are approve, reject")
        if not by.strip():
            raise LineageError("--by NAME is required: who decides is recorded")
        with self._lock():
            g = self._awaiting(n, decision)
            a = Approval(decision=decision, by=by, note=note,  # type: ignore[arg-type]
                         at=time.time())
            self.audit.append("approval", n, a, {"program": g.program_hash})
            status = "promoted" if decision == "approve" else "rejected"
            reason = f"{decision}d by {by}" + (f": {note}" if note else "")
            gates = [r for r in g.gates if r.gate != "human"]
            gates.append(GateResult(gate="human", passed=status == "promoted", detail=reason))
            out = g.model_copy(update={"status": status, "approvals": [*g.approvals, a],
                                       "reason": reason, "gates": gates})
            self.audit.append("promotion" if status == "promoted" else "rejection", n, out,
                              g.evidence)
            self._notify("promotion" if status == "promoted" else "rejection", out, print)
            return out

    def halt(self, by: str, reason: str = "") -> None:
        """Stop the lineage for good: nothing is promoted after this (a pending generation is
        recorded as halted)."""
        with contextlib.ExitStack() as stack:
            with contextlib.suppress(LineageError):  # a running loop holds the lock: halt anyway
                stack.enter_context(self._lock())
            if self.halted():
                raise LineageError("the lineage is already halted")
            last = self.generations()[-1]
            self.audit.append("halt", last.generation, {"by": by, "reason": reason})
            if last.status in ("proposed", "awaiting-approval"):
                out = last.model_copy(update={"status": "halted", "reason": f"halted by {by}"})
                self.audit.append("halt", last.generation, out)
            else:
                out = last
            self._notify("halt", out, print)


__all__ = ["Lineage", "LineageError"]
