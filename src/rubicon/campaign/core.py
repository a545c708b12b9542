"""The campaign: the only place that wires researcher, runner, measure and store.

ask -> Proposal -> apply to the parent's files -> pending experiment (store)
tell -> trials in the sandbox -> promotion rule -> decision -> recorded in one transaction
`run()` is ask/tell in a loop under budgets (scheduler.py); a resumed run measures the pending
experiments of the run that stopped first.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from rubicon.campaign import measuring
from rubicon.campaign.history import Shown, StoreHistory, shown_as
from rubicon.campaign.researchers import EXTERNAL, Line, ResearcherArg, identify, make_lines
from rubicon.campaign.scheduler import Limits, Scheduler, exclusive_run, resume_command
from rubicon.campaign.state import CampaignState
from rubicon.config import CampaignConfig, ResearcherSpec
from rubicon.errors import ProposalError, RubiconError
from rubicon.measure.protocol import BudgetEnded
from rubicon.measure.review import flags_for, over_cap
from rubicon.researcher import ResearchContext, Researcher, build
from rubicon.store import Selection, Store, open_store
from rubicon.task import Task, find_task_dir, load_task, public_view, resolve_task
from rubicon.types import CampaignInfo, Experiment, Proposal, State
from rubicon.workspace import apply_proposal, code_hash, diff_files, scan_workspace, write_workspace

SPENT_EVERY = 15.0  # seconds between records of the budget spent while a run() goes on


class Campaign(CampaignState):
    """A research campaign on one task. Create with `Campaign.create` or `Campaign.open`.

    Parallelism (`CampaignConfig.workers`): `run()` keeps that many experiments in flight. The
    untimed parts (proposing, preparing, evaluating) overlap; every timed run goes through a
    timing lane (`rubicon.runner.lane`) that grants it cores no other timed run holds, and the
    worker threads and evaluators are pinned to the cores outside the lane where there are any.

    Lines (`CampaignConfig.researchers` / `lines`, or several researchers): each line is a
    researcher proposing from its own incumbent; a candidate is first compared with its line's
    incumbent, then with incumbents that moved while it was measured (the merge policy:
    lines.py). Experiments record the researcher's name and `line`.

    Events: set `on_event` to a callback `(kind, data)`; it runs outside the campaign's lock,
    and an exception in it never stops the campaign (events.py).
    """

    EXTERNAL = EXTERNAL  # researcher name of a campaign driven from outside (`ask_workspace`)

    def __init__(self, store: Store, info: CampaignInfo, task: Task,
                 researcher: Researcher | None, cfg: CampaignConfig,
                 researcher_objs: list[Researcher] | None = None) -> None:
        self.lines: list[Line] = make_lines(cfg, researcher, researcher_objs)
        super().__init__(store, info, task, cfg, len(self.lines))
        self.researcher = self.lines[0].researcher if self.lines else researcher
        self._propose_locks: dict[int, threading.Lock] = {}
        self._shown_task: Task | None = None  # what researchers are shown (context)
        self._show_record: Shown | None = None  # a honeypot's records as its twin's (context)

    # construction ------------------------------------------------------------------------

    @classmethod
    def create(cls, task: Task | str | Path | None = None,
               researcher: ResearcherArg | Sequence[ResearcherArg] = "search",
               researcher_args: dict[str, Any] | None = None, directory: str | Path = "rubicon-runs",
               cfg: CampaignConfig | None = None, researcher_obj: Researcher | None = None,
               researcher_objs: list[Researcher] | None = None) -> Campaign:
        """Start a new campaign (the baseline is measured on the first `ask`/`run`).

        Args:
            task: a Task, a built-in or installed task name, or a task directory (None: the
                default task, lm-speedrun).
            researcher: a registered name (built-in, entry point of group `rubicon.researchers`,
                or `module:Class`), a `ResearcherSpec`, a researcher object, or a list of these
                (each one a line of work); "external": proposals come from `ask_workspace`.
            researcher_args: keyword arguments for a researcher given by name.
            directory: the campaign directory (holds the store).
            cfg: how the campaign runs and measures.
            researcher_obj, researcher_objs: older spellings of `researcher` (an object, a list).

        The researcher's identity (name and arguments) is recorded so `open` builds it again.

        Raises:
            ConfigError: unknown researcher or bad arguments, or a researcher object that cannot
                be recorded (the message says how to make it rebuildable).
        """
        t = task if isinstance(task, Task) else resolve_task(task)
        if researcher_objs:
            researcher = list(researcher_objs)
        elif researcher_obj is not None:
            researcher = researcher_obj
        name, args, objs, cfg = identify(researcher, researcher_args, cfg or CampaignConfig())
        store = open_store(directory)
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        info = CampaignInfo(
            id=f"{t.name}-{stamp}-{secrets.token_hex(2)}", task_name=t.name, task_dir=str(t.dir),
            task_hash=t.identity_hash(), researcher=name, researcher_args=args,
            config=cfg.to_dict(), created_at=time.time(),
        )
        store.create_campaign(info)
        if len(objs) == 1:
            return cls(store, info, t, objs[0], cfg)
        return cls(store, info, t, None, cfg, objs or None)

    @classmethod
    def open(cls, directory: str | Path = "rubicon-runs", campaign_id: str | None = None,
             researcher_obj: Researcher | None = None, cfg: CampaignConfig | None = None,
             researcher_objs: list[Researcher] | None = None,
             overrides: dict[str, Any] | None = None) -> Campaign:
        """Reopen a recorded campaign (the latest in `directory` unless `campaign_id`) with the
        researchers it recorded, built again from their names and arguments.

        Args:
            researcher_obj, researcher_objs: use these researchers instead of the recorded ones.
            cfg: use this configuration instead of the recorded one.
            overrides: `CampaignConfig` fields to change in the recorded configuration (e.g.
                `{"budget_seconds": 600, "workers": 2}`), checked like the config itself.
        """
        store = open_store(directory, create=False)
        info = store.campaign(campaign_id)
        task_dir = find_task_dir(info.task_name, info.task_dir)
        task = load_task(task_dir)
        # campaigns recorded before identity hashes carry the whole directory's hash
        if info.task_hash not in (task.identity_hash(), task.hash()):
            raise RubiconError(
                f"task {info.task_name!r} at {task_dir} changed since campaign {info.id} started "
                "(its hash differs); start a new campaign to measure the changed task"
            )
        cfg = cfg or CampaignConfig.from_dict(info.config)
        if overrides:
            cfg = CampaignConfig(**{**cfg.model_dump(), **overrides})
        r = researcher_obj
        if (r is None and not researcher_objs and not cfg.researchers
                and info.researcher != EXTERNAL):
            r = build(ResearcherSpec(name=info.researcher, args=info.researcher_args))
        return cls(store, info, task, r, cfg, researcher_objs)

    # ask / tell --------------------------------------------------------------------------

    def ensure_baseline(self) -> Experiment:
        """Measure the unmodified workspace (several evaluated runs); it is the first incumbent."""
        return measuring.ensure_baseline(self)

    def context(self, line: int = 0) -> ResearchContext:
        """What line `line`'s researcher sees: its line's experiments (every experiment when
        there is one line), including those in flight right now, and its line's incumbent.
        Without hints (`cfg.hints` False) the task it sees has no playbook and no start points.
        A honeypot is shown as its ordinary twin (rubicon.task.public_view)."""
        if self._shown_task is None:  # once: the twin's checks and identity hash read files
            self._shown_task = public_view(self.task)
            if self._shown_task is not self.task:  # the campaign id, task hash: `shown_as`
                self._show_record = shown_as(self._shown_task)
        shown, show = self._shown_task, self._show_record
        with self._lock:
            # a fixed set, read lazily by the researcher: O(1) queries however long the campaign
            size = self.store.size(self.info.id)  # seqs 0 .. size-1; seq 0 is the baseline
            left = None
            if self.cfg.max_experiments is not None:
                left = max(0, self.cfg.max_experiments - max(0, size - 1))
            waiting = self.store.select(Selection(self.info.id, states=frozenset({State.PENDING})))
            sel = Selection(self.info.id, max_seq=size - 1,
                            line=line if len(self.lines) > 1 else None,
                            exclude_ids=frozenset(e.id for e in waiting if e.id not in self._inflight))
            baseline, incumbent = (e if show is None else show(e)
                                   for e in (self.baseline, self.line_incumbent(line)))
            return ResearchContext(
                task=shown if self.cfg.hints else shown.without_hints(),
                hints=self.cfg.hints, baseline=baseline, incumbent=incumbent,
                history=StoreHistory(self.store, sel, shown=show), seed=self.cfg.seed + line,
                experiments_left=left, seconds_left=self._seconds_left(),
            )

    def ask(self, line: int = 0) -> Experiment | None:
        """Ask line `line`'s researcher for a proposal and record it as pending (None: nothing
        to try). A proposal whose code is being measured right now is not recorded twice: the
        ask waits for that measurement and asks again."""
        self.ensure_baseline()
        if not self.lines:
            raise RubiconError("this campaign has no researcher; use `rubicon ask` for outside agents")
        ln = self.lines[line]
        with self._lock:
            propose_lock = self._propose_locks.setdefault(id(ln.researcher), threading.Lock())
        with propose_lock:
            for _ in range(20):
                proposal = ln.researcher.propose(self.context(line))
                if proposal is None:
                    return None
                update: dict[str, Any] = {}
                if not proposal.researcher:
                    update["researcher"] = ln.researcher.name
                if proposal.parent_id is None:
                    update["parent_id"] = self.line_incumbent(line).id
                proposal = proposal.model_copy(update=update)
                with self._lock:
                    twin = self._inflight_twin(proposal)
                    if twin is None:
                        exp = self.submit(proposal, line)
                        if exp.state == State.PENDING:
                            self._inflight[exp.id] = code_hash(exp.files)
                        return exp
                    while twin in self._inflight:
                        self._lock.wait(1.0)
        raise RubiconError(f"researcher {ln.name!r} keeps proposing code already in flight")

    def submit(self, proposal: Proposal, line: int = 0) -> Experiment:
        """Record a proposal as a pending experiment; unusable proposals are recorded invalid."""
        measuring.ensure_baseline(self)
        with self._lock:
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
            if not error:
                error = over_cap(files, self.task.spec.max_editable_bytes)
            draft = Experiment(
                id=0, campaign_id=self.info.id, seq=0, parent_id=parent.id,
                researcher=proposal.researcher or "unknown", researcher_args=proposal.researcher_args,
                rationale=proposal.rationale, proposal=proposal.model_dump(mode="json"),
                diff=diff_files(parent.files, files), files=files, meta=dict(proposal.meta),
                seed=self.cfg.seed, provenance={"task_hash": self.info.task_hash}, line=line,
                flags=[] if error else flags_for(files, self._editable_baseline),
            )
            exp = self.store.experiment(self.store.add_pending(draft, code_hash(files)))
            if error:
                measuring.finish_unmeasured(self, exp, State.INVALID, error)
            return exp

    def tell(self, exp_id: int, files: dict[str, str] | None = None,
             outside_edits: list[str] | None = None, rationale: str | None = None,
             refused: list[str] | None = None) -> Experiment:
        """Measure a pending experiment (optionally with the files an outside agent wrote).
        `refused`: workspace entries that were not read (symlinks, fifos, ...: see
        rubicon.workspace.scan_workspace); any makes the experiment invalid."""
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
                exp.flags = flags_for(files, self._editable_baseline)
                if rationale is not None:
                    exp.rationale = rationale
                self.store.update_code(exp, code_hash(files))
                if refused:
                    return measuring.finish_unmeasured(
                        self, exp, State.INVALID,
                        f"workspace entries refused (never read or followed): "
                        f"{'; '.join(refused[:10])} (only plain files and directories are read)")
                too_big = over_cap(files, self.task.spec.max_editable_bytes)
                if too_big:
                    return measuring.finish_unmeasured(self, exp, State.INVALID, too_big)
            if outside_edits:
                return measuring.finish_unmeasured(
                    self, exp, State.INVALID,
                    f"edits outside the editable files: {', '.join(outside_edits[:10])} "
                    f"(editable: {', '.join(self.task.spec.editable)})",
                )
            dup = self.store.find_code(self.info.id, code_hash(exp.files))
            if dup is not None and dup != exp.id:
                exp.duplicate_of = dup
                return measuring.finish_unmeasured(self, exp, State.INVALID,
                                                   f"duplicate of experiment {dup}")
        return measuring.measure(self, exp)

    # the loop ----------------------------------------------------------------------------

    def run(self) -> Experiment:
        """Ask and tell until a budget ends or the researchers have nothing left; returns the
        incumbent. Leftovers of a process that died (orphaned sandboxes, cgroups, trial
        directories) are cleaned first, then pending experiments of that run are measured."""
        from rubicon.runner.lane import pin_current_thread
        from rubicon.runner.recover import recover

        start = time.monotonic()
        with exclusive_run(self.store.path.parent, self.info.id), _session(self, start) as limits:
            self.recovered = recover(self.store.path.parent)
            # proposing and preparing stay off the timed cores
            pin = partial(pin_current_thread, self.untimed_cores)
            with self._working_for(threading.Event()):  # the baseline, inside the budget
                self.ensure_baseline()
            Scheduler(_Work(self), self.lines, limits, start, initializer=pin).run()
        return self.incumbent

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

    def tell_workspace(self, exp_id: int, workspace: str | Path | None = None,
                       rationale: str | None = None) -> Experiment:
        """Measure what was left in the workspace `ask_workspace` wrote for experiment `exp_id`
        (default: the directory it recorded). Edits outside the editable files make it invalid."""
        exp = self.store.experiment(exp_id, runs=False)
        ws = Path(workspace or exp.meta.get("workspace", ""))
        if ws.is_symlink() or (workspace is None and os.path.realpath(ws) != str(ws)):
            raise RubiconError(f"workspace {ws} is (or lies under) a symbolic link now; "
                               f"pass the real directory with --workspace")
        if not ws.is_dir():
            raise RubiconError(f"workspace {ws} not found; pass the directory `ask` wrote")
        scan = scan_workspace(self.task, ws, self.task.workspace_files())
        return self.tell(exp_id, files=scan.files, outside_edits=scan.outside,
                         rationale=rationale, refused=scan.refused)


@contextlib.contextmanager
def _session(c: Campaign, start: float) -> Iterator[Limits]:
    """The bookkeeping of one `run()`: the budget (it counts what earlier runs spent), the
    spent time recorded as it goes (`_heartbeat`) and at the end, and the status recorded at
    the end: finished, interrupted, or failed with its reason (a baseline that does not pass)."""
    c._spent_before = c.store.campaign(c.info.id).spent_seconds
    c._run_start = start
    budget = c.cfg.budget_seconds
    left = None if budget is None else budget - c._spent_before
    c._deadline = None if left is None else start + left
    c.store.update_campaign(c.info.id, status="running", reason="")
    status, reason = "interrupted", ""
    beat = threading.Event()
    threading.Thread(target=_heartbeat, args=(c, beat), daemon=True, name="rubicon-spent").start()
    try:
        yield Limits(c.cfg.workers, left, c.cfg.max_experiments)
        status = "finished"
    except measuring.BaselineFailed as e:
        status, reason = "failed", e.cause
        raise
    except BudgetEnded:
        reason = "the budget ended while the baseline was measured"
        raise RubiconError(
            f"campaign {c.info.id}: {reason}; its finished runs are kept: continue with "
            f"`{resume_command(c.info.id, c.store.path.parent)} --budget B` and a larger budget B "
            f"than {budget or 0:.0f} s") from None
    finally:
        beat.set()
        with c._lock:
            c._record_spent()
            c.store.update_campaign(c.info.id, status=status, reason=reason)
            c._run_start = None


def _heartbeat(c: Campaign, stop: threading.Event) -> None:
    """Record the budget spent every SPENT_EVERY seconds, so a kill -9 loses little of it."""
    while not stop.wait(SPENT_EVERY):
        with c._lock:
            if c._run_start is None:
                return
            c._record_spent()


class _Work:
    """A campaign as the scheduler's `Work` for one `run()`."""

    def __init__(self, c: Campaign) -> None:
        self.c = c
        self.stopped = threading.Event()

    def queued(self) -> list[Experiment]:
        with self.c._lock:
            return [e for e in self.c.store.pending(self.c.info.id)
                    if e.researcher != EXTERNAL and e.seq > 0]

    def measure(self, exp: Experiment) -> Experiment:
        with self.c._working_for(self.stopped):
            return measuring.measure(self.c, exp)

    def ask(self, line: int) -> Experiment | None:
        with self.c._working_for(self.stopped):
            return self.c.ask(line)

    def tell(self, exp_id: int) -> Experiment:
        with self.c._working_for(self.stopped):
            return self.c.tell(exp_id)

    def recorded(self) -> int:
        with self.c._lock:
            return max(0, self.c.store.size(self.c.info.id) - 1)  # seqs have no gaps

    def emit(self, kind: str, data: dict[str, Any]) -> None:
        self.c._emit(kind, data)

    def stop_trials(self) -> None:
        self.stopped.set()
