"""The campaign: the only module that wires researcher, runner, measure and store.

ask -> Proposal -> apply to the parent's files -> pending experiment (store)
tell -> trials in the sandbox -> promotion rule -> decision -> recorded in one transaction
`run()` is ask/tell in a loop under budgets; `resume` re-measures pending experiments first.
"""

from __future__ import annotations

import os
import platform
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from rubicon.errors import ProposalError, RubiconError
from rubicon.measure.protocol import ProtocolConfig, Verdict, compare, record_run
from rubicon.measure.stats import median
from rubicon.measure.trial import TrialRunner
from rubicon.researcher import ResearchContext, Researcher, make_researcher
from rubicon.store import Store
from rubicon.task import Task, load_task, resolve_task
from rubicon.task._spec import BUILTIN_DIR, tree_hash
from rubicon.types import CampaignInfo, Decision, Experiment, Proposal, State
from rubicon.workspace import apply_proposal, code_hash, diff_files, write_workspace

HARNESS_METRICS = ("wall_seconds", "cpu_seconds", "peak_memory_mb")
EXTERNAL = "external"  # researcher name of experiments proposed through `rubicon ask`


@dataclass
class CampaignConfig:
    max_experiments: int | None = None  # not counting the baseline
    budget_seconds: float | None = None  # wall time of one `run()` call
    baseline_runs: int = 3
    seed: int = 0
    protocol: ProtocolConfig = field(default_factory=ProtocolConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CampaignConfig:
        d = dict(d)
        proto = ProtocolConfig(**d.pop("protocol", {}))
        return cls(protocol=proto, **d)


Event = Callable[[str, dict[str, Any]], None]


def _harness_hash() -> str:
    pkg = Path(__file__).parent
    return tree_hash(pkg / "measure")[:16] + tree_hash(pkg / "runner")[:16]


def _provenance() -> dict[str, Any]:
    versions = {}
    for dist in ("rubicon", "torch", "numpy", "optuna"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return {
        "harness_hash": _harness_hash(),
        "python": platform.python_version(),
        "packages": versions,
        "machine": {
            "node": platform.node(),
            "platform": platform.platform(),
            "processor": platform.machine(),
            "cpus": os.cpu_count(),
        },
    }


class Campaign:
    """A research campaign on one task. Create with `Campaign.create` or `Campaign.open`."""

    def __init__(self, store: Store, info: CampaignInfo, task: Task,
                 researcher: Researcher | None, cfg: CampaignConfig) -> None:
        self.store = store
        self.info = info
        self.task = task
        self.researcher = researcher
        self.cfg = cfg
        self.trials = TrialRunner(task, store.path.parent)
        self.provenance = _provenance()
        self.on_event: Event = lambda kind, data: None

    # construction ------------------------------------------------------------------------

    @classmethod
    def create(cls, task: Task | str | None, researcher: str = "scripted",
               researcher_args: dict[str, Any] | None = None, directory: str | Path = "rubicon-runs",
               cfg: CampaignConfig | None = None, researcher_obj: Researcher | None = None) -> Campaign:
        """Start a new campaign (the baseline is measured on the first `ask`/`run`)."""
        t = task if isinstance(task, Task) else resolve_task(task)
        cfg = cfg or CampaignConfig()
        args = researcher_args or {}
        r = researcher_obj
        if r is None and researcher != EXTERNAL:
            r = make_researcher(researcher, **args)
        store = Store(directory)
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        info = CampaignInfo(
            id=f"{t.name}-{stamp}-{secrets.token_hex(2)}", task_name=t.name, task_dir=str(t.dir),
            task_hash=t.hash(), researcher=researcher, researcher_args=args,
            config=cfg.to_dict(), created_at=time.time(),
        )
        store.create_campaign(info)
        return cls(store, info, t, r, cfg)

    @classmethod
    def open(cls, directory: str | Path = "rubicon-runs", campaign_id: str | None = None,
             researcher_obj: Researcher | None = None, cfg: CampaignConfig | None = None) -> Campaign:
        """Reopen a recorded campaign (for resume, ask/tell, show)."""
        store = Store(directory, create=False)
        info = store.campaign(campaign_id)
        task_dir = Path(info.task_dir)
        if not task_dir.is_dir():
            builtin = BUILTIN_DIR / info.task_name
            task_dir = builtin if builtin.is_dir() else task_dir
        task = load_task(task_dir)
        if task.hash() != info.task_hash:
            raise RubiconError(
                f"task {info.task_name!r} at {task_dir} changed since campaign {info.id} started "
                "(its hash differs); start a new campaign to measure the changed task"
            )
        cfg = cfg or CampaignConfig.from_dict(info.config)
        r = researcher_obj
        if r is None and info.researcher != EXTERNAL:
            r = make_researcher(info.researcher, **info.researcher_args)
        return cls(store, info, task, r, cfg)

    # state -------------------------------------------------------------------------------

    @property
    def baseline(self) -> Experiment:
        if self.info.baseline_id is None:
            raise RubiconError("the baseline has not been measured yet")
        return self.store.experiment(self.info.baseline_id, runs=False)

    @property
    def incumbent(self) -> Experiment:
        iid = self.info.incumbent_id or self.info.baseline_id
        if iid is None:
            raise RubiconError("the baseline has not been measured yet")
        return self.store.experiment(iid, runs=False)

    def history(self) -> list[Experiment]:
        return self.store.experiments(self.info.id, full=True, include_pending=False)

    def _maximize(self) -> bool:
        return self.task.spec.objective.direction == "maximize"

    def speedup_of(self, objective: float | None) -> float | None:
        """Baseline objective over candidate objective (or the inverse when maximizing)."""
        if objective is None or self.info.baseline_id is None:
            return None
        base = self.store.subject_values(self.info.baseline_id)
        if not base or objective <= 0:
            return None
        b = median(base)
        return objective / b if self._maximize() else b / objective

    # baseline ----------------------------------------------------------------------------

    def ensure_baseline(self) -> Experiment:
        """Measure the unmodified workspace (several evaluated runs); it is the first incumbent."""
        if self.info.baseline_id is not None:
            return self.baseline
        files = self.task.editable_files()
        base = next((e for e in self.store.pending(self.info.id) if e.seq == 0), None)
        if base is None:
            draft = Experiment(
                id=0, campaign_id=self.info.id, seq=0, parent_id=None, researcher="baseline",
                rationale="the task's workspace as given", files=files,
                provenance={**self.provenance, "task_hash": self.info.task_hash},
            )
            eid = self.store.add_pending(draft, code_hash(files))
            base = self.store.experiment(eid)
        self.on_event("baseline", {"id": base.id, "runs": self.cfg.baseline_runs})
        metric = self.task.spec.objective.metric
        trials = []
        runs = []
        for i in range(self.cfg.baseline_runs):
            t = self.trials.run(files, label="baseline")
            trials.append(t)
            runs.append(record_run(t, "baseline", i, t.ok, metric))
            if not t.ok:
                break
        bad = next((t for t in trials if not t.ok), None)
        values = [float(t.metrics[metric]) for t in trials if t.ok]
        base.state = bad.state if bad else State.OK
        base.decision = Decision.DISCARD if bad else Decision.KEEP
        base.reason = f"baseline: {bad.reason}" if bad else f"baseline: {len(values)} runs"
        base.metrics = dict(trials[0].metrics)
        base.objective = median(values) if values else None
        base.speedup = 1.0 if values else None
        base.log_tail = trials[-1].facts.output_tail
        base.provenance = self._run_provenance(trials[-1].facts.seed)
        base.finished_at = time.time()
        self.store.finish(base, runs, {"baseline": base.id})
        if bad:
            raise RubiconError(
                f"the baseline of task {self.task.name!r} does not pass: {bad.state.value}: "
                f"{bad.reason}\n--- output tail ---\n{bad.facts.output_tail[-1500:]}"
            )
        self.info.baseline_id = self.info.incumbent_id = base.id
        self.store.update_campaign(self.info.id, baseline_id=base.id, incumbent_id=base.id)
        self.on_event("finished", {"experiment": base})
        return base

    def _run_provenance(self, seed: int) -> dict[str, Any]:
        return {
            **self.provenance,
            "task_hash": self.info.task_hash,
            "sandbox": self.trials.backend,
            "cores": self.trials.cores,
            "threads": self.task.spec.run.threads,
            "last_run_seed": seed,
        }

    # ask / tell --------------------------------------------------------------------------

    def context(self) -> ResearchContext:
        left = None
        if self.cfg.max_experiments is not None:
            done = sum(1 for e in self.store.experiments(self.info.id) if e.seq > 0)
            left = max(0, self.cfg.max_experiments - done)
        return ResearchContext(
            task=self.task, baseline=self.baseline, incumbent=self.incumbent,
            history=self.history(), seed=self.cfg.seed, experiments_left=left,
        )

    def ask(self) -> Experiment | None:
        """Ask the researcher for a proposal and record it as pending (None: nothing to try)."""
        self.ensure_baseline()
        if self.researcher is None:
            raise RubiconError("this campaign has no researcher; use `rubicon ask` for outside agents")
        proposal = self.researcher.propose(self.context())
        if proposal is None:
            return None
        if not proposal.researcher:
            proposal = proposal.model_copy(update={"researcher": self.researcher.name})
        return self.submit(proposal)

    def submit(self, proposal: Proposal) -> Experiment:
        """Record a proposal as a pending experiment; unusable proposals are recorded invalid."""
        self.ensure_baseline()
        parent_id = proposal.parent_id or self.info.incumbent_id
        assert parent_id is not None
        error = ""
        try:
            parent = self.store.experiment(parent_id, runs=False)
            if parent.campaign_id != self.info.id:
                raise ProposalError(f"parent {parent_id} belongs to another campaign")
            files = apply_proposal(self.task, parent.files, proposal)
        except (ProposalError, RubiconError) as e:
            parent = self.incumbent
            files, error = parent.files, str(e)
        draft = Experiment(
            id=0, campaign_id=self.info.id, seq=0, parent_id=parent.id,
            researcher=proposal.researcher or "unknown", researcher_args=proposal.researcher_args,
            rationale=proposal.rationale, proposal=proposal.model_dump(mode="json"),
            diff=diff_files(parent.files, files), files=files, meta=dict(proposal.meta),
            seed=self.cfg.seed, provenance={"task_hash": self.info.task_hash},
        )
        eid = self.store.add_pending(draft, code_hash(files))
        exp = self.store.experiment(eid)
        if error:
            self._finish_unmeasured(exp, State.INVALID, error)
        return exp

    def _finish_unmeasured(self, exp: Experiment, state: State, reason: str) -> Experiment:
        exp.state, exp.decision, exp.reason = state, Decision.DISCARD, reason
        exp.finished_at = time.time()
        exp.provenance = self._run_provenance(0)
        self.store.finish(exp, [], {})
        self.on_event("finished", {"experiment": exp})
        return exp

    def tell(self, exp_id: int, files: dict[str, str] | None = None,
             outside_edits: list[str] | None = None, rationale: str | None = None) -> Experiment:
        """Measure a pending experiment (optionally with the files an outside agent wrote)."""
        exp = self.store.experiment(exp_id, runs=False)
        if exp.campaign_id != self.info.id:
            raise RubiconError(f"experiment {exp_id} belongs to campaign {exp.campaign_id}")
        if exp.state != State.PENDING:
            raise RubiconError(f"experiment {exp_id} is already recorded ({exp.state.value})")
        if files is not None:
            parent = self.store.experiment(exp.parent_id or self.info.baseline_id or 0, runs=False)
            exp.files = files
            exp.diff = diff_files(parent.files, files)
            if rationale is not None:
                exp.rationale = rationale
            self.store.update_code(exp, code_hash(files))
        if outside_edits:
            return self._finish_unmeasured(
                exp, State.INVALID,
                f"edits outside the editable files: {', '.join(outside_edits[:10])} "
                f"(editable: {', '.join(self.task.spec.editable)})",
            )
        dup = self.store.find_code(self.info.id, code_hash(exp.files))
        if dup is not None and dup != exp.id:
            return self._finish_unmeasured(exp, State.INVALID, f"duplicate of experiment {dup}")
        return self._measure(exp)

    def _measure(self, exp: Experiment) -> Experiment:
        inc = self.incumbent
        metric = self.task.spec.objective.metric
        self.on_event("running", {"experiment": exp, "incumbent": inc.id})
        needs_eval = metric not in HARNESS_METRICS
        verdict: Verdict = compare(
            run_candidate=lambda: self.trials.run(exp.files, label=f"e{exp.id}"),
            run_incumbent=lambda: self.trials.run(inc.files, evaluate=needs_eval, label=f"i{inc.id}"),
            incumbent_values=self.store.subject_values(inc.id) or [inc.objective or 1.0],
            metric=metric,
            maximize=self._maximize(),
            cfg=self.cfg.protocol,
        )
        exp.state = verdict.state
        exp.decision = Decision.KEEP if verdict.promote else Decision.DISCARD
        exp.reason = verdict.reason
        exp.metrics = verdict.metrics
        exp.objective = verdict.objective
        exp.speedup = self.speedup_of(verdict.objective) if verdict.state == State.OK else None
        if verdict.estimate is not None:
            exp.ratio_low, exp.ratio_high = verdict.estimate.ratio_low, verdict.estimate.ratio_high
        exp.log_tail = verdict.log_tail
        exp.provenance = self._run_provenance(0)
        exp.finished_at = time.time()
        self.store.finish(exp, verdict.runs, {"candidate": exp.id, "incumbent": inc.id})
        if verdict.promote:
            self.info.incumbent_id = exp.id
            self.store.update_campaign(self.info.id, incumbent_id=exp.id)
        self.on_event("finished", {"experiment": exp})
        return exp

    # the loop ----------------------------------------------------------------------------

    def run(self) -> Experiment:
        """Ask and tell until a budget ends or the researcher has nothing left; returns the
        incumbent. Pending experiments from an interrupted run are measured first."""
        start = time.monotonic()
        self.store.update_campaign(self.info.id, status="running")
        self.ensure_baseline()
        try:
            for exp in self.store.pending(self.info.id):
                if exp.researcher != EXTERNAL:
                    self._measure(exp)
            while not self._budget_spent(start):
                self.on_event("asking", {})
                exp = self.ask()
                if exp is None:
                    self.on_event("exhausted", {})
                    break
                if exp.state == State.PENDING:
                    self.tell(exp.id)
        except BaseException:
            self.store.update_campaign(self.info.id, status="interrupted")
            raise
        self.store.update_campaign(self.info.id, status="finished")
        return self.incumbent

    def _budget_spent(self, start: float) -> bool:
        if self.cfg.budget_seconds is not None and time.monotonic() - start >= self.cfg.budget_seconds:
            return True
        if self.cfg.max_experiments is not None:
            done = sum(1 for e in self.store.experiments(self.info.id) if e.seq > 0)
            return done >= self.cfg.max_experiments
        return False

    # outside agents ----------------------------------------------------------------------

    def ask_workspace(self, dest: Path) -> Experiment:
        """Write the incumbent's full workspace to `dest` and record a pending external
        experiment whose parent is the incumbent; `tell` measures what is left in `dest`."""
        self.ensure_baseline()
        parent = self.incumbent
        if dest.exists() and any(dest.iterdir()):
            raise RubiconError(f"{dest} is not empty; choose a new directory for the workspace")
        draft = Experiment(
            id=0, campaign_id=self.info.id, seq=0, parent_id=parent.id, researcher=EXTERNAL,
            files=parent.files, provenance={"task_hash": self.info.task_hash},
            meta={"workspace": str(dest.resolve())},
        )
        eid = self.store.add_pending(draft, code_hash(parent.files))
        write_workspace(self.task, parent.files, dest)
        return self.store.experiment(eid)


def export_experiment(store: Store, exp_id: int, dest: Path) -> Path:
    """Write an experiment's full workspace (task baseline + its editable files) to `dest`."""
    exp = store.experiment(exp_id, runs=False)
    info = store.campaign(exp.campaign_id)
    task_dir = Path(info.task_dir)
    if not task_dir.is_dir():
        task_dir = BUILTIN_DIR / info.task_name
    if dest.exists() and any(dest.iterdir()):
        raise RubiconError(f"{dest} is not empty; export needs a new or empty directory")
    write_workspace(load_task(task_dir), exp.files, dest)
    return dest
