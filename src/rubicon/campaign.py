"""The campaign: the only module that wires researcher, runner, measure and store.

ask -> Proposal -> apply to the parent's files -> pending experiment (store)
tell -> trials in the sandbox -> promotion rule -> decision -> recorded in one transaction
`run()` is ask/tell in a loop under budgets; `resume` re-measures pending experiments first.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import platform
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from rubicon.errors import ConfigError, ProposalError, RubiconError
from rubicon.measure.protocol import ProtocolConfig, Verdict, compare, record_run
from rubicon.measure.stats import median
from rubicon.measure.trial import Trial, TrialRunner
from rubicon.researcher import ResearchContext, Researcher, make_researcher
from rubicon.store import Store
from rubicon.task import Task, load_task, resolve_task
from rubicon.task._spec import BUILTIN_DIR, tree_hash
from rubicon.types import CampaignInfo, Decision, Experiment, Proposal, State, TimedRun
from rubicon.workspace import apply_proposal, code_hash, diff_files, write_workspace

HARNESS_METRICS = ("wall_seconds", "cpu_seconds", "peak_memory_mb")
EXTERNAL = "external"  # researcher name of experiments proposed through `rubicon ask`
EXECUTORS = ("local", "ray")
MAX_RIVALS = 4  # a promoted candidate is re-checked against incumbents that moved at most so often


@dataclass
class CampaignConfig:
    max_experiments: int | None = None  # not counting the baseline
    budget_seconds: float | None = None  # wall time of one `run()` call
    # 2: a median and a spread for the screening margin; speedups are chained through the
    # paired ratios, and every pair against the baseline runs it again
    baseline_runs: int = 2
    seed: int = 0
    protocol: ProtocolConfig = field(default_factory=ProtocolConfig)
    # Parallel and distributed campaigns (docs/BENCHMARKS.md "Workers and Ray"):
    workers: int = 1  # experiments in flight at once; timed runs still never share cores
    executor: str = "local"  # "local" (sandbox on this machine) or "ray" (Ray tasks)
    address: str | None = None  # Ray cluster address (None: a local Ray instance)
    # Researchers as lines of work: each {"name": ..., "args": {...}} runs `lines` lines, each
    # with its own incumbent; empty: the campaign's one researcher.
    researchers: list[dict[str, Any]] = field(default_factory=list)
    lines: int = 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CampaignConfig:
        d = dict(d)
        proto = ProtocolConfig(**d.pop("protocol", {}))
        known = set(cls.__dataclass_fields__)
        return cls(protocol=proto, **{k: v for k, v in d.items() if k in known})

    def validate(self) -> None:
        if self.workers < 1:
            raise ConfigError(f"workers must be >= 1 (got {self.workers})")
        if self.lines < 1:
            raise ConfigError(f"lines must be >= 1 (got {self.lines})")
        if self.executor not in EXECUTORS:
            raise ConfigError(f"unknown executor {self.executor!r}; choose one of "
                              f"{', '.join(EXECUTORS)}")


Event = Callable[[str, dict[str, Any]], None]


def _harness_hash() -> str:
    pkg = Path(__file__).parent
    return tree_hash(pkg / "measure")[:16] + tree_hash(pkg / "runner")[:16]


def _provenance() -> dict[str, Any]:
    versions = {}
    for dist in ("rubicon", "torch", "numpy", "optuna"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[dist] = metadata.version(dist)
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


@dataclass
class Line:
    """One line of work: a researcher proposing from its own incumbent (see `Campaign.lines`)."""

    index: int
    researcher: Researcher
    exhausted: bool = False

    @property
    def name(self) -> str:
        return self.researcher.name


class Campaign:
    """A research campaign on one task. Create with `Campaign.create` or `Campaign.open`.

    Parallelism (`CampaignConfig.workers`): `run()` keeps that many experiments in flight. The
    untimed parts (proposing, preparing, evaluating) overlap; every timed run goes through a
    timing lane (`rubicon.runner.lane`) that grants it cores no other timed run holds, and the
    worker threads and evaluators are pinned to the cores outside the lane where there are any.

    Lines (`CampaignConfig.researchers` / `lines`, or `researcher_objs`): each line is a
    researcher proposing from its own incumbent; a candidate is first compared with its line's
    incumbent. The manager merges lines: a candidate that beat its line's incumbent must also
    beat an incumbent that moved while it was measured, and it becomes the campaign's incumbent
    only after beating that one too (MAX_RIVALS bounds the re-checks). Experiments record the
    researcher's name and `meta["line"]`.
    """

    def __init__(self, store: Store, info: CampaignInfo, task: Task,
                 researcher: Researcher | None, cfg: CampaignConfig,
                 researcher_objs: list[Researcher] | None = None) -> None:
        cfg.validate()
        self.store = store
        self.info = info
        self.task = task
        self.cfg = cfg
        self.lines = self._make_lines(researcher, researcher_objs)
        self.researcher = self.lines[0].researcher if self.lines else researcher
        self.untimed_cores: list[int] = []
        self.trials: Any = self._make_trials()
        self.provenance = _provenance()
        self.on_event: Event = lambda kind, data: None
        self.recovered: dict[str, int] = {}
        self._lock = threading.RLock()  # guards the store connection, info, and the fields below
        self._cond = threading.Condition(self._lock)
        self._inflight: dict[int, str] = {}  # experiment id -> code hash, being measured now
        self._asking = 0  # proposals being made now (they count against max_experiments)
        self._line_inc: dict[int, int] | None = None
        self._propose_locks: dict[int, threading.Lock] = {}
        self._queue: list[Experiment] = []
        self._stop = False
        self._error: BaseException | None = None
        self._rr = 0
        self._deadline: float | None = None  # monotonic time when run()'s budget ends

    def _make_lines(self, researcher: Researcher | None,
                    objs: list[Researcher] | None) -> list[Line]:
        if objs:
            return [Line(i, r) for i, r in enumerate(objs)]
        if self.cfg.researchers:
            made = []
            for spec in self.cfg.researchers:
                for _ in range(self.cfg.lines):
                    made.append(make_researcher(spec["name"], **dict(spec.get("args") or {})))
            return [Line(i, r) for i, r in enumerate(made)]
        if researcher is None:
            return []
        # K lines of one researcher share the object: researchers keep no state outside ctx
        return [Line(i, researcher) for i in range(self.cfg.lines)]

    def _make_trials(self) -> Any:
        if self.cfg.executor == "ray":
            from rubicon.runner.ray_executor import RayTrialRunner

            return RayTrialRunner(self.task, self.cfg.address)
        runner = TrialRunner(self.task, self.store.path.parent)
        if self.cfg.workers > 1:
            from rubicon.runner.lane import TimingLane, split_cores

            timed, untimed = split_cores(self.task.spec.run.threads)
            runner.lane = TimingLane(timed)
            runner.untimed_cores = untimed
            self.untimed_cores = untimed
        return runner

    def _label(self, what: str) -> str:
        """Trial directory prefix naming this process, so a later resume knows whose it was."""
        return f"p{os.getpid()}.{what}"

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        with self._lock:
            self.on_event(kind, data)

    # construction ------------------------------------------------------------------------

    @classmethod
    def create(cls, task: Task | str | None, researcher: str = "scripted",
               researcher_args: dict[str, Any] | None = None, directory: str | Path = "rubicon-runs",
               cfg: CampaignConfig | None = None, researcher_obj: Researcher | None = None,
               researcher_objs: list[Researcher] | None = None) -> Campaign:
        """Start a new campaign (the baseline is measured on the first `ask`/`run`).

        Several researchers: `cfg.researchers` (names and arguments, recorded so the campaign
        resumes) or `researcher_objs` (objects, one line each; pass them again to `open`).
        """
        t = task if isinstance(task, Task) else resolve_task(task)
        cfg = cfg or CampaignConfig()
        cfg.validate()
        args = researcher_args or {}
        r = researcher_obj
        if cfg.researchers:
            researcher = "+".join(str(x["name"]) for x in cfg.researchers)
        elif r is None and not researcher_objs and researcher != EXTERNAL:
            r = make_researcher(researcher, **args)
        store = Store(directory)
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        info = CampaignInfo(
            id=f"{t.name}-{stamp}-{secrets.token_hex(2)}", task_name=t.name, task_dir=str(t.dir),
            task_hash=t.hash(), researcher=researcher, researcher_args=args,
            config=cfg.to_dict(), created_at=time.time(),
        )
        store.create_campaign(info)
        return cls(store, info, t, r, cfg, researcher_objs)

    @classmethod
    def open(cls, directory: str | Path = "rubicon-runs", campaign_id: str | None = None,
             researcher_obj: Researcher | None = None, cfg: CampaignConfig | None = None,
             researcher_objs: list[Researcher] | None = None) -> Campaign:
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
        if (r is None and not researcher_objs and not cfg.researchers
                and info.researcher != EXTERNAL):
            r = make_researcher(info.researcher, **info.researcher_args)
        return cls(store, info, task, r, cfg, researcher_objs)

    # state -------------------------------------------------------------------------------

    @property
    def baseline(self) -> Experiment:
        if self.info.baseline_id is None:
            raise RubiconError("the baseline has not been measured yet")
        with self._lock:
            return self.store.experiment(self.info.baseline_id, runs=False)

    @property
    def incumbent(self) -> Experiment:
        iid = self.info.incumbent_id or self.info.baseline_id
        if iid is None:
            raise RubiconError("the baseline has not been measured yet")
        with self._lock:
            return self.store.experiment(iid, runs=False)

    def line_incumbent(self, line: int = 0) -> Experiment:
        """The incumbent of one line of work: the campaign's incumbent when there is one line;
        else the line's last kept experiment (or the baseline)."""
        if len(self.lines) <= 1:
            return self.incumbent
        with self._lock:
            if self._line_inc is None:
                best: dict[int, tuple[float, int]] = {}
                for e in self.store.experiments(self.info.id):
                    if e.seq == 0 or e.decision != Decision.KEEP or e.state != State.OK:
                        continue
                    k = int(e.meta.get("line", 0))
                    when = e.finished_at or 0.0
                    if k not in best or when >= best[k][0]:
                        best[k] = (when, e.id)
                self._line_inc = {k: v[1] for k, v in best.items()}
            iid = self._line_inc.get(line)
            return self.baseline if iid is None else self.store.experiment(iid, runs=False)

    def history(self) -> list[Experiment]:
        with self._lock:
            return self.store.experiments(self.info.id, full=True, include_pending=False)

    def _maximize(self) -> bool:
        return self.task.spec.objective.direction == "maximize"

    def speedup_of(self, objective: float | None) -> float | None:
        """Baseline objective over candidate objective (or the inverse when maximizing)."""
        if objective is None or self.info.baseline_id is None:
            return None
        with self._lock:
            base = self.store.subject_values(self.info.baseline_id)
        if not base or objective <= 0:
            return None
        b = median(base)
        return objective / b if self._maximize() else b / objective

    def _speedup(self, exp: Experiment, inc: Experiment, verdict: Verdict) -> float | None:
        """Speedup against the baseline, chained through the paired comparison when there was
        one: incumbent's speedup / paired ratio. Unlike the candidate's median over the
        baseline's median (taken hours earlier), this is immune to the machine's speed drifting
        over a campaign, and a promoted candidate always shows more speedup than what it beat.
        The median-based figure is kept in metrics as `speedup_vs_baseline_median`."""
        direct = self.speedup_of(exp.objective)
        if direct is not None:
            verdict.metrics["speedup_vs_baseline_median"] = direct
        if verdict.estimate is not None and inc.speedup:
            return inc.speedup / verdict.estimate.ratio
        return direct

    # baseline ----------------------------------------------------------------------------

    def ensure_baseline(self) -> Experiment:
        """Measure the unmodified workspace (several evaluated runs); it is the first incumbent."""
        with self._lock:
            return self._ensure_baseline()

    def _ensure_baseline(self) -> Experiment:
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
            t = self.trials.run(files, label=self._label("baseline"))
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
            "executor": self.cfg.executor,
            "workers": self.cfg.workers,
        }

    # ask / tell --------------------------------------------------------------------------

    def context(self, line: int = 0) -> ResearchContext:
        """What line `line`'s researcher sees: its line's experiments (every experiment when
        there is one line), including those in flight right now, and its line's incumbent."""
        with self._lock:
            left = None
            if self.cfg.max_experiments is not None:
                done = sum(1 for e in self.store.experiments(self.info.id) if e.seq > 0)
                left = max(0, self.cfg.max_experiments - done)
            hist = [e for e in self.store.experiments(self.info.id, full=True)
                    if e.state != State.PENDING or e.id in self._inflight]
            if len(self.lines) > 1:
                hist = [e for e in hist if e.seq == 0 or int(e.meta.get("line", 0)) == line]
            return ResearchContext(
                task=self.task, baseline=self.baseline, incumbent=self.line_incumbent(line),
                history=hist, seed=self.cfg.seed + line, experiments_left=left,
                seconds_left=(None if self._deadline is None
                              else max(0.0, self._deadline - time.monotonic())),
            )

    def _propose_lock(self, r: Researcher) -> threading.Lock:
        with self._lock:
            return self._propose_locks.setdefault(id(r), threading.Lock())

    def ask(self, line: int = 0) -> Experiment | None:
        """Ask line `line`'s researcher for a proposal and record it as pending (None: nothing
        to try). A proposal whose code is being measured right now is not recorded twice: the
        ask waits for that measurement and asks again."""
        self.ensure_baseline()
        if not self.lines:
            raise RubiconError("this campaign has no researcher; use `rubicon ask` for outside agents")
        ln = self.lines[line]
        with self._propose_lock(ln.researcher):
            for _ in range(20):
                proposal = ln.researcher.propose(self.context(line))
                if proposal is None:
                    return None
                update: dict[str, Any] = {"meta": {**proposal.meta, "line": line}}
                if not proposal.researcher:
                    update["researcher"] = ln.researcher.name
                if proposal.parent_id is None:
                    update["parent_id"] = self.line_incumbent(line).id
                proposal = proposal.model_copy(update=update)
                with self._cond:
                    twin = self._inflight_twin(proposal)
                    if twin is None:
                        exp = self.submit(proposal)
                        if exp.state == State.PENDING:
                            self._inflight[exp.id] = code_hash(exp.files)
                        return exp
                    while twin in self._inflight:
                        self._cond.wait(1.0)
        raise RubiconError(f"researcher {ln.name!r} keeps proposing code already in flight")

    def _inflight_twin(self, proposal: Proposal) -> int | None:
        """Id of an experiment in flight with the code `proposal` would produce, if any."""
        if not self._inflight or proposal.parent_id is None:
            return None
        try:
            parent = self.store.experiment(proposal.parent_id, runs=False)
            h = code_hash(apply_proposal(self.task, parent.files, proposal))
        except (ProposalError, RubiconError):
            return None
        return next((i for i, c in self._inflight.items() if c == h), None)

    def submit(self, proposal: Proposal) -> Experiment:
        """Record a proposal as a pending experiment; unusable proposals are recorded invalid."""
        with self._lock:
            return self._submit(proposal)

    def _submit(self, proposal: Proposal) -> Experiment:
        self._ensure_baseline()
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
        if not error and proposal.meta.get("error"):  # the researcher's own "unusable" verdict
            error = f"{proposal.researcher or 'researcher'}: {proposal.meta['error']}"
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
        with self._cond:
            exp.state, exp.decision, exp.reason = state, Decision.DISCARD, reason
            exp.finished_at = time.time()
            exp.provenance = self._run_provenance(0)
            self.store.finish(exp, [], {})
            self._inflight.pop(exp.id, None)
            self._cond.notify_all()
            self.on_event("finished", {"experiment": exp})
            return exp

    def tell(self, exp_id: int, files: dict[str, str] | None = None,
             outside_edits: list[str] | None = None, rationale: str | None = None) -> Experiment:
        """Measure a pending experiment (optionally with the files an outside agent wrote)."""
        with self._lock:
            exp = self.store.experiment(exp_id, runs=False)
            if exp.campaign_id != self.info.id:
                raise RubiconError(f"experiment {exp_id} belongs to campaign {exp.campaign_id}")
            if exp.state != State.PENDING:
                raise RubiconError(f"experiment {exp_id} is already recorded ({exp.state.value})")
            if files is not None:
                parent = self.store.experiment(exp.parent_id or self.info.baseline_id or 0,
                                               runs=False)
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

    # measuring ---------------------------------------------------------------------------

    def _compare(self, exp: Experiment, inc: Experiment) -> Verdict:
        metric = self.task.spec.objective.metric
        needs_eval = metric not in HARNESS_METRICS
        with self._lock:
            values = self.store.subject_values(inc.id) or [inc.objective or 1.0]
        def run_candidate(cap: float | None = None) -> Trial:
            return self.trials.run(exp.files, label=self._label(f"e{exp.id}"), time_limit=cap)

        return compare(
            run_candidate=run_candidate,
            run_incumbent=lambda: self.trials.run(inc.files, evaluate=needs_eval,
                                                  label=self._label(f"i{inc.id}")),
            incumbent_values=values,
            metric=metric,
            maximize=self._maximize(),
            cfg=self.cfg.protocol,
            deadline=self._deadline,
            screen=run_candidate,
        )

    def _measure(self, exp: Experiment) -> Experiment:
        with self._cond:
            self._inflight.setdefault(exp.id, code_hash(exp.files))
        try:
            return self._measure_lines(exp)
        finally:
            with self._cond:
                self._inflight.pop(exp.id, None)
                self._cond.notify_all()

    def _measure_lines(self, exp: Experiment) -> Experiment:
        line = int(exp.meta.get("line", 0))
        inc = self.line_incumbent(line)
        self._emit("running", {"experiment": exp, "incumbent": inc.id})
        verdict = self._compare(exp, inc)
        runs: list[TimedRun] = list(verdict.runs)
        subjects: dict[str, int | None] = {"candidate": exp.id, "incumbent": inc.id}
        values = list(verdict.candidate_values)
        beaten = {inc.id} if verdict.promote else set()
        lost: dict[int, str] = {}
        notes: list[str] = []
        state, reason, promote = verdict.state, verdict.reason, verdict.promote
        for rival_no in range(1, MAX_RIVALS + 2):
            with self._lock:
                li, gi = self.line_incumbent(line), self.incumbent
                target = None
                if promote and li.id not in beaten and rival_no <= MAX_RIVALS:
                    target = li
                elif (promote and li.id in beaten and gi.id not in beaten and gi.id not in lost
                      and rival_no <= MAX_RIVALS):
                    target = gi
                if target is None:
                    keep_line = promote and li.id in beaten
                    if promote and not keep_line:
                        reason += f"; line incumbent #{li.id} kept moving, not re-checked"
                    keep_global = keep_line and gi.id in beaten
                    if keep_line and not keep_global:
                        notes.append(f"kept in line {line}; campaign incumbent #{gi.id} stays"
                                     + (f" ({lost[gi.id]})" if gi.id in lost else ""))
                    exp.state = state
                    exp.decision = Decision.KEEP if keep_line else Decision.DISCARD
                    exp.reason = "; ".join([reason, *notes])
                    exp.metrics = verdict.metrics
                    exp.objective = median(values) if values else verdict.objective
                    exp.speedup = self._speedup(exp, inc, verdict) if state == State.OK else None
                    if verdict.estimate is not None:
                        exp.ratio_low = verdict.estimate.ratio_low
                        exp.ratio_high = verdict.estimate.ratio_high
                    exp.log_tail = verdict.log_tail
                    exp.provenance = self._run_provenance(0)
                    exp.finished_at = time.time()
                    self.store.finish(exp, runs, subjects)
                    if keep_line and self._line_inc is not None:
                        self._line_inc[line] = exp.id
                    if keep_global:
                        self.info.incumbent_id = exp.id
                        self.store.update_campaign(self.info.id, incumbent_id=exp.id)
                    self.on_event("finished", {"experiment": exp})
                    return exp
            # the incumbent it must beat moved while it was measured (or it is another line's)
            self._emit("running", {"experiment": exp, "incumbent": target.id})
            v2 = self._compare(exp, target)
            role = f"rival{rival_no}"
            subjects[role] = target.id
            offset = 100 * rival_no
            for r in v2.runs:
                runs.append(r.model_copy(update={
                    "role": role if r.role == "incumbent" else r.role, "pair": r.pair + offset}))
            values += v2.candidate_values
            what = f"vs #{target.id}: {v2.reason}"
            if v2.state != State.OK:
                state, promote = v2.state, False
                reason = f"beat #{inc.id} ({reason}), then failed {what}"
            elif v2.promote:
                beaten.add(target.id)
                notes.append(f"also better {what}")
            elif target.id == li.id:
                promote = False
                reason = f"beat #{inc.id} ({reason}) but not the newer line incumbent {what}"
            else:
                lost[target.id] = what
        raise AssertionError("unreachable")

    # the loop ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _run_lock(self) -> Iterator[None]:
        """One `run()` per campaign at a time, across processes (a flock the kernel drops if
        the process dies)."""
        path = self.store.path.parent / f".run-{self.info.id}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = path.read_text().strip() or "?"
                raise RubiconError(f"campaign {self.info.id} is already running (pid {holder}); "
                                   "wait for it or stop it before resuming") from None
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
            yield
        finally:
            os.close(fd)

    def run(self) -> Experiment:
        """Ask and tell until a budget ends or the researchers have nothing left; returns the
        incumbent. Leftovers of a process that died (orphaned sandboxes, cgroups, trial
        directories) are cleaned first, then pending experiments of that run are measured."""
        from rubicon.runner.recover import recover

        start = time.monotonic()
        if self.cfg.budget_seconds is not None:
            self._deadline = start + self.cfg.budget_seconds
        with self._run_lock():
            self.recovered = recover(self.store.path.parent)
            self.store.update_campaign(self.info.id, status="running")
            self.ensure_baseline()
            try:
                self._work(start)
            except BaseException:
                self._stop = True
                with self._lock:
                    self.store.update_campaign(self.info.id, status="interrupted")
                raise
            self.store.update_campaign(self.info.id, status="finished")
        return self.incumbent

    def _work(self, start: float) -> None:
        with self._lock:
            self._queue = [e for e in self.store.pending(self.info.id)
                           if e.researcher != EXTERNAL and e.seq > 0]
            self._stop, self._error = False, None
            for ln in self.lines:
                ln.exhausted = False
        if self.cfg.workers == 1:
            self._worker(start)
            return
        threads = [threading.Thread(target=self._worker_main, args=(start,), daemon=True,
                                    name=f"rubicon-worker-{i}") for i in range(self.cfg.workers)]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            for t in threads:
                t.join(0.1)
        if self._error is not None:
            raise self._error

    def _worker_main(self, start: float) -> None:
        from rubicon.runner.lane import pin_current_thread

        pin_current_thread(self.untimed_cores)  # proposing and preparing stay off timed cores
        try:
            self._worker(start)
        except BaseException as e:  # noqa: BLE001 - handed to the main thread
            with self._cond:
                if self._error is None:
                    self._error = e
                self._stop = True
                self._cond.notify_all()

    def _worker(self, start: float) -> None:
        while not self._stop:
            job = self._next_job(start)
            if job is None:
                return
            if isinstance(job, Experiment):
                self._measure(job)
                continue
            try:
                exp = self.ask(job)
            finally:
                with self._cond:
                    self._asking -= 1
                    self._cond.notify_all()
            if exp is None:
                with self._cond:
                    if self._inflight or self._asking:
                        # results still coming may give the researcher new ideas
                        self._cond.wait(1.0)
                    else:
                        self.lines[job].exhausted = True
                        if all(ln.exhausted for ln in self.lines):
                            self.on_event("exhausted", {})
                continue
            if exp.state == State.PENDING:
                self.tell(exp.id)

    def _next_job(self, start: float) -> Experiment | int | None:
        """A pending experiment to measure, or the line to ask next, or None: stop."""
        with self._cond:
            if self._queue:
                exp = self._queue.pop(0)
                self._inflight[exp.id] = code_hash(exp.files)
                return exp
            if self._stop or self._budget_spent(start):
                return None
            live = [ln for ln in self.lines if not ln.exhausted]
            if not live:
                return None
            ln = live[self._rr % len(live)]
            self._rr += 1
            self._asking += 1
            self.on_event("asking", {"line": ln.index, "researcher": ln.name})
            return ln.index

    def _budget_spent(self, start: float) -> bool:
        if self.cfg.budget_seconds is not None and time.monotonic() - start >= self.cfg.budget_seconds:
            return True
        if self.cfg.max_experiments is not None:
            with self._lock:
                done = sum(1 for e in self.store.experiments(self.info.id) if e.seq > 0)
                return done + self._asking >= self.cfg.max_experiments
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
        with self._lock:
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
