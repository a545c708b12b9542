"""`rubicon lineage`: researcher programs that build their successors, under gates
(docs/LINEAGE.md). Subcommands: export-search, start, run, status, approve, reject, halt, verify."""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path

from rubicon.cli._common import console
from rubicon.errors import ConfigError
from rubicon.lineage import Lineage, LineageConfig, export_search

DEFAULT_DIR = "rubicon-lineage"


def _config(args: argparse.Namespace, name: str) -> LineageConfig:
    data: dict[str, object] = {}
    if args.config:
        try:
            data = tomllib.loads(Path(args.config).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"--config {args.config}: {e}") from None
    data.setdefault("name", name)
    if args.generations is not None:
        data["max_generations"] = args.generations
    try:
        return LineageConfig.model_validate(data)
    except Exception as e:  # noqa: BLE001 - pydantic's message, with the file named
        raise ConfigError(f"lineage config {args.config or '(defaults)'}: {e}") from None


def _export(args: argparse.Namespace) -> int:
    d = export_search(Path(args.program_dir))
    console.print(f"wrote the search researcher as a program: {d} (edit policy.json; "
                  f"start a lineage with: rubicon lineage start --program {d})")
    return 0


def _start(args: argparse.Namespace) -> int:
    d = Path(args.lineage_dir)
    program = Path(args.program) if args.program else None
    if program is None:
        program = export_search(d.with_name(d.name + ".seed"))
    policy = Path(args.policy).read_text(encoding="utf-8") if args.policy else None
    lin = Lineage.start(d, program, _config(args, d.resolve().name), policy)
    console.print(f"lineage {lin.cfg.name} started in {lin.dir}: generation 0 = {program}; "
                  f"run it with: rubicon lineage run --dir {d}")
    return 0


def _run(args: argparse.Namespace) -> int:
    lin = Lineage(args.lineage_dir)
    why = lin.run(resume=args.resume, emit=lambda s: console.print(s, markup=False))
    console.print(f"stopped: {why}", markup=False)
    return 0


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:+.3f}"


def _status(args: argparse.Namespace) -> int:
    lin = Lineage(args.lineage_dir)
    console.print(f"lineage {lin.cfg.name} in {lin.dir}" + (" (HALTED)" if lin.halted() else ""),
                  markup=False)
    for g in lin.generations():
        gain = ("-" if g.gain is None else
                f"{g.gain.value:+.3f} [{_fmt(g.gain.lo)}, {_fmt(g.gain.hi)}]")
        gates = " ".join(f"{r.gate}:{'ok' if r.passed else 'FAIL'}" for r in g.gates) or "-"
        parent = "-" if g.parent is None else str(g.parent)
        cap = "-" if g.capability is None else f"{g.capability.value:.3f}"
        dev = "-" if g.dev_score is None else f"{g.dev_score.value:.3f}"
        hp = "-" if g.honeypot_pass_rate is None else f"{g.honeypot_pass_rate:.2f}"
        console.print(f"gen {g.generation} (parent {parent}) {g.status}: held-out {cap}, gain "
                      f"{gain}, dev {dev}, honeypot pass {hp}; {gates}; cost "
                      f"{g.cost.wall_seconds:.0f} s, {g.cost.runs} runs"
                      + (f"; {g.reason}" if g.reason else ""), markup=False, soft_wrap=True)
    return 0


def _decide(args: argparse.Namespace) -> int:
    lin = Lineage(args.lineage_dir)
    g = lin.decide(args.generation, args.lineage_cmd, args.by, args.note or "")
    console.print(f"generation {g.generation}: {g.status} ({g.reason})", markup=False)
    return 0


def _halt(args: argparse.Namespace) -> int:
    Lineage(args.lineage_dir).halt(args.by, args.reason or "")
    console.print("lineage halted: it never promotes again")
    return 0


def _verify(args: argparse.Namespace) -> int:
    v = Lineage(args.lineage_dir).verify()
    if v.ok:
        console.print(f"audit log intact: {v.entries} entries, head {v.head_hash[:16]}")
        return 0
    what = "TAMPERED" if v.tampered else ("torn last line (a crash during an append)"
                                          if v.torn else "NOT intact")
    console.print(f"audit log {what}:", markup=False)
    for p in v.problems:
        console.print(f"  {p}", markup=False)
    return 1


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("lineage", help="researcher programs that build their successors, gated",
                       description="A lineage: generation k improves its own researcher program "
                                   "on improve-researcher; the successor is promoted only through "
                                   "gates (held-out capability, integrity, honeypot alignment, a "
                                   "human where the policy says). docs/LINEAGE.md.")
    lsub = p.add_subparsers(dest="lineage_cmd", metavar="SUBCOMMAND", required=True,
                            parser_class=argparse.ArgumentParser)

    def cmd(name: str, help_: str) -> argparse.ArgumentParser:
        c: argparse.ArgumentParser = lsub.add_parser(name, help=help_, description=help_)
        c.add_argument("--dir", dest="lineage_dir", default=DEFAULT_DIR,
                       help=f"the lineage directory (default ./{DEFAULT_DIR}; "
                            "env RUBICON_LINEAGE_DIR)")
        return c

    e = lsub.add_parser("export-search", help="write the built-in search as a program directory")
    e.add_argument("program_dir", metavar="DIR")
    e.set_defaults(func=_export)
    s = cmd("start", "start a lineage: generation 0 is --program (default: the search program)")
    s.add_argument("--program", help="the seed researcher program directory")
    s.add_argument("--policy", help="a policy TOML file (default: a human approves every "
                                    "promotion)")
    s.add_argument("--config", help="a lineage TOML file (suites, budgets; docs/LINEAGE.md)")
    s.add_argument("--generations", type=int, help="generation numbers to reach (default 3)")
    s.set_defaults(func=_start)
    r = cmd("run", "make generations until done, a human decision is needed, or a halt")
    r.add_argument("--resume", action="store_true", help="continue an interrupted generation")
    r.set_defaults(func=_run)
    cmd("status", "every generation: status, capability, gain, gates, cost").set_defaults(
        func=_status)
    for verb in ("approve", "reject"):
        a = cmd(verb, f"{verb} a generation that awaits a human")
        a.add_argument("generation", type=int, metavar="GEN")
        a.add_argument("--by", required=True, help="who decides (recorded)")
        a.add_argument("--note", help="why (recorded)")
        a.set_defaults(func=_decide)
    h = cmd("halt", "stop the lineage for good (nothing is promoted after)")
    h.add_argument("--by", required=True, help="who halts (recorded)")
    h.add_argument("--reason", help="why (recorded)")
    h.set_defaults(func=_halt)
    cmd("verify", "check the audit log's hash chain (edits, deletions, reordering)").set_defaults(
        func=_verify)
