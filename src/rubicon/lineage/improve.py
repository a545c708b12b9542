"""One generation's search for its successor: a campaign on improve-researcher whose workspace
and researcher are both the generation's own program (docs/LINEAGE.md, "The loop")."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rubicon.config import CampaignConfig
from rubicon.lineage.config import dump_toml
from rubicon.lineage.program import PROGRAM_FILE, program_hash
from rubicon.lineage.records import Cost, Generation, Interval
from rubicon.task._spec import BUILTIN_DIR

META_TASK = BUILTIN_DIR / "improve-researcher"


def meta_task(lineage: Any, n: int, program: Path) -> Path:
    """The improve-researcher task of generation `n`: the built-in one with `program` as its
    workspace and the lineage's development suite in evaluator/dev.toml. Written once (a
    resumed campaign finds the same task)."""
    dest: Path = lineage.dir / "gen" / str(n) / "task"
    if dest.is_dir():
        return dest
    tmp = dest.with_name("task.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(META_TASK, tmp, ignore=shutil.ignore_patterns("__pycache__", "workspace"))
    shutil.copytree(program, tmp / "workspace", ignore=shutil.ignore_patterns("__pycache__"))
    if not (tmp / "workspace" / "check.py").is_file():
        shutil.copyfile(META_TASK / "workspace" / "check.py", tmp / "workspace" / "check.py")
    dev = lineage.cfg.dev
    tasks = []
    for t in dev.tasks:  # task directories are copied in: the evaluator sees only its task
        if Path(t).is_dir():
            shutil.copytree(t, tmp / "suite" / Path(t).name,
                            ignore=shutil.ignore_patterns("__pycache__"))
            t = f"suite/{Path(t).name}"
        tasks.append(t)
    conf = {"suite": dev.suite or "", "tasks": tasks, "attempts": dev.attempts,
            "max_experiments": dev.max_experiments, "budget_seconds": dev.budget_seconds,
            "seed": lineage.cfg.seed, "protocol": dict(dev.protocol),
            "program_timeout": lineage.cfg.program_timeout,
            "program_network": lineage.cfg.program_network}
    (tmp / "evaluator" / "dev.toml").write_text(dump_toml(conf), encoding="utf-8")
    tmp.rename(dest)
    return dest


def propose_successor(lineage: Any, n: int, parent: Generation,
                      emit: Callable[[str], None]) -> Generation:
    """Run (or resume) generation `parent`'s campaign on improve-researcher and write its best
    candidate as generation `n`'s program. Returns the `proposed` generation, or a `failed`
    one when no candidate qualifies."""
    from rubicon.campaign import Campaign

    cfg = lineage.cfg
    parent_prog = lineage.program_dir(parent.generation)
    task = meta_task(lineage, n, parent_prog)
    cdir = lineage.dir / "gen" / str(n) / "campaign"
    args = {"dir": str(parent_prog), "tag": f"gen{parent.generation}",
            "timeout": cfg.program_timeout, "network": cfg.program_network}
    if (cdir / "rubicon.db").is_file():
        c = Campaign.open(cdir)
    else:
        c = Campaign.create(task, "program", args, directory=cdir, cfg=CampaignConfig.from_dict({
            "max_experiments": cfg.improve_experiments, "seed": cfg.seed + n, "hints": False,
            "baseline_runs": cfg.improve_baseline_runs, "protocol": dict(cfg.improve_protocol),
            "budget_seconds": cfg.improve_budget_seconds}))
    try:
        c.run()
        history = c.history()
    finally:
        c.store.close()
    base = next(e for e in history if e.seq == 0)
    ok = [e for e in history if e.seq > 0 and e.state.value == "ok" and e.objective is not None]
    started = min(e.created_at for e in history)
    ended = max((e.finished_at or e.created_at) for e in history)
    cost = Cost(wall_seconds=round(ended - started, 3), runs=len(history))
    common = {"lineage": cfg.name, "generation": n, "parent": parent.generation, "cost": cost}
    best = max(ok, key=lambda e: (e.objective or 0.0, -e.id), default=None)
    if best is None or (cfg.require_dev_gain and (best.objective or 0.0) <= (base.objective or 0.0)):
        why = ("no candidate was measured ok" if best is None else
               f"no candidate beat generation {parent.generation} on the development suite "
               f"(best {best.objective:.3f} vs {base.objective or 0.0:.3f})")
        emit(f"generation {n}: {why}")
        return Generation(**common, program_hash="", status="failed", reason=why)
    dest = lineage.program_dir(n)
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(parent_prog, dest, ignore=shutil.ignore_patterns("__pycache__"))
    for rel, text in best.files.items():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_text(text, encoding="utf-8")
    assert (dest / PROGRAM_FILE).is_file()
    h = program_hash(dest)
    m = best.metrics
    dev = Interval(value=float(best.objective or 0.0), lo=_num(m.get("dev_lo")),
                   hi=_num(m.get("dev_hi")))
    evidence = {"program": h, "parent_program": parent.program_hash,
                "candidate": hashlib.sha256(best.model_dump_json().encode()).hexdigest()}
    emit(f"generation {n}: proposed experiment {best.id} (dev score {dev.value:.3f} vs "
         f"{base.objective or 0.0:.3f}): {best.rationale[:120]}")
    return Generation(**common, program_hash=h, status="proposed", dev_score=dev,
                      evidence=evidence, reason=f"experiment {best.id} of {c.info.id}")


def _num(x: object) -> float | None:
    try:
        return float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def export_search(dest: Path) -> Path:
    """Write the built-in search researcher as a program directory (its policy in policy.json).

    Raises:
        ConfigError: `dest` exists and is not empty.
    """
    from rubicon.errors import ConfigError

    if dest.exists() and any(dest.iterdir()):
        raise ConfigError(f"{dest} is not empty; choose a new directory")
    shutil.copytree(META_TASK / "workspace", dest, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "check.py"))
    return dest
