"""Measuring: the baseline, and a candidate against the incumbents it must beat.

`measure` compares a pending experiment with its line's incumbent (rubicon.measure.protocol),
re-checks it against incumbents that moved meanwhile as the merge policy (lines.py) says, and
records the decision in one store transaction. Trials go through `CampaignState._trial`.
"""

from __future__ import annotations

import logging
import threading
import time
from functools import partial

from rubicon.campaign import lines
from rubicon.campaign.slow import SlowBaseline
from rubicon.campaign.state import CampaignState
from rubicon.errors import RubiconError
from rubicon.measure.protocol import BudgetEnded, RunLog, Verdict, compare
from rubicon.measure.review import review_hold
from rubicon.measure.stats import median
from rubicon.runner import Seeds, environment_problem
from rubicon.types import Decision, Experiment, State, TimedRun, Trial
from rubicon.workspace import code_hash

log = logging.getLogger("rubicon.campaign")
HARNESS_METRICS = ("wall_seconds", "cpu_seconds", "peak_memory_mb")


class BaselineFailed(RubiconError):
    """The baseline does not pass: the campaign cannot start (`cause`: one line, recorded as
    the campaign's reason)."""

    def __init__(self, message: str, cause: str) -> None:
        super().__init__(message)
        self.cause = cause


def ensure_baseline(s: CampaignState) -> Experiment:
    """Measure the unmodified workspace (several evaluated runs) unless it is recorded; it is
    the first incumbent. One thread measures it, without holding the campaign's lock (so its
    events arrive while it runs); other threads wait for it."""
    with s._lock:
        while s._baseline_by is not None and s.info.baseline_id is None:
            if s._baseline_by == threading.get_ident():
                raise RubiconError("the baseline is being measured by this thread (an event "
                                   "callback cannot wait for it)")
            s._lock.wait(1.0)
        if s.info.baseline_id is not None:
            return s.baseline
        base = next((e for e in s.store.pending(s.info.id) if e.seq == 0), None)
        if base is None:
            files = s.task.editable_files()
            draft = Experiment(
                id=0, campaign_id=s.info.id, seq=0, parent_id=None, researcher="baseline",
                rationale="the task's workspace as given", files=files,
                provenance={**s.provenance, "task_hash": s.info.task_hash},
            )
            base = s.store.experiment(s.store.add_pending(draft, code_hash(files)))
        s._baseline_by = threading.get_ident()
        s._emit("baseline", {"id": base.id, "runs": s.cfg.baseline_runs})
    try:
        return _measure_baseline(s, base)
    finally:
        with s._lock:
            s._baseline_by = None
            s._lock.notify_all()


def _measure_baseline(s: CampaignState, base: Experiment) -> Experiment:
    metric = s.task.spec.objective.metric
    trials: list[Trial] = []
    files = s.task.editable_files()
    subjects: dict[str, int | None] = {"baseline": base.id}
    with s._lock:
        prior = s.store.runs(base.id)  # the finished runs of a run that was killed
    log = RunLog(s.cfg.protocol, metric, prior, on_run=partial(store_run, s, base.id, subjects))
    slow = SlowBaseline(s.task.name, s.task.spec.baseline_seconds, s.info.id,
                        s.store.path.parent, s.cfg.protocol.max_foreign_load,
                        partial(_warn, s), threads=s.task.spec.run.threads)

    def one(i: int) -> Trial:
        slow.start(i)
        t = s._trial(files, "baseline")
        slow.done(i, t.facts)
        return t

    for i in range(s.cfg.baseline_runs):
        t = log.timed(partial(one, i), "baseline", i)
        trials.append(t)
        if not t.ok:
            break
    runs = log.runs
    bad = next((t for t in trials if not t.ok), None)
    values = [float(t.metrics[metric]) for t in trials if t.ok]
    base.state = bad.state if bad else State.OK
    base.decision = Decision.DISCARD if bad else Decision.KEEP
    base.reason = f"baseline: {bad.reason}" if bad else f"baseline: {len(values)} runs"
    base.metrics = dict(trials[0].metrics)
    base.objective = median(values) if values else None
    base.speedup = 1.0 if values else None
    base.log_tail = trials[-1].facts.output_tail
    base.provenance = s._run_provenance(trials[-1].facts.seed)
    base.finished_at = time.time()
    with s._lock:
        s.store.finish(base, runs, {"baseline": base.id})
        if bad:
            env = environment_problem(bad.facts, bad.reason)
            hint = (f"\nthis is the machine, not the task: {env}\n(run `rubicon doctor` for "
                    f"every check)") if env else ""
            cause = f"the baseline does not pass: {bad.state.value}: {bad.reason}"
            raise BaselineFailed(
                f"the baseline of task {s.task.name!r} does not pass: {bad.state.value}: "
                f"{bad.reason}{hint}\n--- output tail ---\n{bad.facts.output_tail[-1500:]}",
                cause=cause + (f" ({env})" if env else ""))
        s.info.baseline_id = s.info.incumbent_id = base.id
        s.store.update_campaign(s.info.id, baseline_id=base.id, incumbent_id=base.id)
        s._emit("finished", {"experiment": base})
        return base


def _warn(s: CampaignState, text: str) -> None:
    log.warning("%s", text)
    s._emit("warning", {"message": text})


def store_run(s: CampaignState, eid: int, subjects: dict[str, int | None], run: TimedRun) -> None:
    """Record one finished run of a pending experiment at once (a kill loses no finished run),
    and the wall time the campaign has spent."""
    with s._lock:
        s.store.add_runs(eid, [run], subjects)
        s._record_spent()


def finish_unmeasured(s: CampaignState, exp: Experiment, state: State, reason: str) -> Experiment:
    """Record `exp` as discarded with `state` and `reason`, without running it."""
    with s._lock:
        exp.state, exp.decision, exp.reason = state, Decision.DISCARD, reason
        exp.finished_at = time.time()
        exp.provenance = s._run_provenance(0)
        s.store.finish(exp, [], {})
        s._inflight.pop(exp.id, None)
        s._lock.notify_all()
        s._emit("finished", {"experiment": exp})
        return exp


def measure(s: CampaignState, exp: Experiment) -> Experiment:
    """Measure a pending experiment and record the decision (it is in flight meanwhile)."""
    with s._lock:
        s._inflight.setdefault(exp.id, code_hash(exp.files))
    try:
        return _measure(s, exp)
    finally:
        with s._lock:
            s._inflight.pop(exp.id, None)
            s._lock.notify_all()


def _compare(s: CampaignState, exp: Experiment, inc: Experiment,
             prior: list[TimedRun] | None = None) -> Verdict:
    metric = s.task.spec.objective.metric
    # an objective that counts the evaluator's time needs the incumbent evaluated too
    needs_eval = metric not in HARNESS_METRICS or s.task.spec.objective.include_evaluator
    with s._lock:
        values = s.store.subject_values(inc.id) or [inc.objective or 1.0]
        # the quick look pairs the candidate's first runs with the baseline's recorded runs
        reference = ([r.objective for r in s.store.runs(inc.id) if r.role == "baseline"
                      and r.scored and r.objective is not None]
                     if inc.id == s.info.baseline_id else [])

    # a pair's two runs share their seeds: both are judged on the same held-out draw, so a
    # task whose score varies with it (a fresh rule, a fresh test set) compares like with like
    # (None until the first pair: screening draws its own; a pair half-measured before a kill
    # is finished on a new draw on resume, the seeds are not recorded)
    pair_seeds: list[Seeds | None] = [None]

    def new_pair(_: int) -> None:
        pair_seeds[0] = Seeds.fresh()

    def run_candidate(cap: float | None = None) -> Trial:
        return s._trial(exp.files, f"e{exp.id}", time_limit=cap, seeds=pair_seeds[0])

    subjects: dict[str, int | None] = {"candidate": exp.id, "incumbent": inc.id}
    return compare(
        run_candidate=run_candidate,
        run_incumbent=lambda: s._trial(inc.files, f"i{inc.id}", evaluate=needs_eval,
                                       seeds=pair_seeds[0]),
        on_pair=new_pair,
        incumbent_values=values,
        metric=metric,
        maximize=s._maximize(),
        cfg=s.cfg.protocol,
        deadline=s._deadline,
        screen=run_candidate,
        reference_values=reference,
        prior=prior or [],
        on_run=None if prior is None else partial(store_run, s, exp.id, subjects),
    )


def _look(v: Verdict) -> lines.Look:
    return lines.Look(state=v.state, promote=v.promote, reason=v.reason)


def _measure(s: CampaignState, exp: Experiment) -> Experiment:
    inc = s.line_incumbent(exp.line)
    s._emit("running", {"experiment": exp, "incumbent": inc.id})
    with s._lock:  # the finished runs of a measurement that was killed or interrupted
        prior = [r for r in s.store.runs(exp.id) if r.pair < 100]
    if prior and {r.role for r in prior} - {"candidate", "incumbent"}:
        prior = []
    if exp.parent_id != inc.id:
        prior = []  # its incumbent is not the one it was proposed against: measure it anew
    try:
        verdict = _compare(s, exp, inc, prior)
    except BudgetEnded:
        return exp  # stays pending with its finished runs; a resumed run continues it
    _hold_for_review(s, exp, verdict)
    runs: list[TimedRun] = list(verdict.runs)
    subjects: dict[str, int | None] = {"candidate": exp.id, "incumbent": inc.id}
    values = list(verdict.candidate_values)
    standing = lines.start(exp.line, inc.id, _look(verdict))
    while True:
        with s._lock:
            li, gi = s.line_incumbent(exp.line), s.incumbent
            step = lines.decide(standing, li.id, gi.id)
            if isinstance(step, lines.Outcome):
                return _record(s, exp, inc, verdict, step, runs, subjects, values)
        # the incumbent it must beat moved while it was measured (or it is another line's)
        target = li if step.target == li.id else gi
        s._emit("running", {"experiment": exp, "incumbent": target.id})
        try:
            v2 = _compare(s, exp, target)
        except BudgetEnded:
            return exp  # pending: a resumed run measures it again (its first comparison replayed)
        role = f"rival{step.number}"
        subjects[role] = target.id
        for r in v2.runs:
            runs.append(r.model_copy(update={
                "role": role if r.role == "incumbent" else r.role, "pair": r.pair + 100 * step.number}))
        values += v2.candidate_values
        standing = lines.after_recheck(standing, step, _look(v2))


def _hold_for_review(s: CampaignState, exp: Experiment, verdict: Verdict) -> None:
    """A candidate flagged for embedded data is not promoted until a person clears its code
    (`rubicon review`): it is measured and recorded as usual, and held."""
    if not (verdict.promote and exp.flags):
        return
    with s._lock:
        reviews = s.store.reviews(s.info.id, s.store.code_hash_of(exp.id))
    hold = review_hold(verdict.promote, exp.flags, reviews)
    if hold:
        verdict.promote = False
        verdict.reason = f"{hold} (measured: {verdict.reason})"
        exp.meta["held_for_review"] = True


def _record(s: CampaignState, exp: Experiment, inc: Experiment, verdict: Verdict,
            outcome: lines.Outcome, runs: list[TimedRun], subjects: dict[str, int | None],
            values: list[float]) -> Experiment:
    """Record the decision (the caller holds the lock)."""
    exp.state = outcome.state
    exp.decision = Decision.KEEP if outcome.keep_line else Decision.DISCARD
    exp.reason = outcome.reason
    exp.metrics = verdict.metrics
    exp.objective = median(values) if values else verdict.objective
    exp.speedup = _speedup(s, exp, inc, verdict) if outcome.state == State.OK else None
    if verdict.estimate is not None:
        exp.ratio_low = verdict.estimate.ratio_low
        exp.ratio_high = verdict.estimate.ratio_high
    exp.log_tail = verdict.log_tail
    exp.meta["compared_with"] = inc.id  # the incumbent it was measured against (show: "vs")
    exp.provenance = s._run_provenance(0)
    exp.finished_at = time.time()
    s.store.finish(exp, runs, subjects)
    s._kept(exp, in_line=outcome.keep_line, globally=outcome.keep_global)
    s._emit("finished", {"experiment": exp})
    return exp


def _speedup(s: CampaignState, exp: Experiment, inc: Experiment, verdict: Verdict) -> float | None:
    """Speedup against the baseline, chained through the paired comparison when there was
    one: incumbent's speedup / paired ratio. Unlike the candidate's median over the
    baseline's median (taken hours earlier), this is immune to the machine's speed drifting
    over a campaign, and a promoted candidate always shows more speedup than what it beat.
    The median-based figure is kept in metrics as `speedup_vs_baseline_median`."""
    direct = s.speedup_of(exp.objective)
    if direct is not None:
        verdict.metrics["speedup_vs_baseline_median"] = direct
    if not inc.speedup or not inc.objective or inc.objective <= 0:
        return direct  # a score of 0 has no ratio: no chained speedup either
    if verdict.estimate is not None:
        return inc.speedup / verdict.estimate.ratio
    return direct
