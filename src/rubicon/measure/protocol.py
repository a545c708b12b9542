"""The promotion rule: sequential, paired, noise-aware (DESIGN.md "Measurement protocol").

1. Screening: the candidate runs once, timed and evaluated. A failed run ends it (one run spent).
   A clear loser (objective worse than the incumbent's median by more than the loser margin,
   widened to 3 coefficients of variation of the incumbent's recorded runs) is discarded after
   that one run. When the objective is wall seconds (minimized), the screening run is stopped as
   soon as it passes that clear-loser time, but never before `screen_cap_min_seconds`, so a slow
   candidate costs little more than the incumbent (recorded `timed_out`, reason "clear loser:
   still running ...") and a short one runs to its end (a crash or gate failure says more).
2a. The quick look (only when the incumbent's own recorded runs are given as `reference_values`:
   the baseline's runs of this campaign), taken when the screening run is already better by more
   than `quick_margin`: after each of the candidate's runs (the screening run first), up to as
   many as there are reference values, its log values and the recorded runs' are compared as two
   samples (pooled-variance t bound; one look per candidate run, each at level
   `quick_share * alpha / len(reference_values)`, so the looks together keep `quick_share *
   alpha`); promote when the upper bound of the log ratio is below -log(1 + quick_margin). With
   one candidate run the variance comes from the recorded runs alone (1 degree of freedom for
   two): only a very large, steady effect passes that look. The recorded runs are not
   back to back with the candidate's, so the margin (25%) keeps drift of the machine from
   promoting an equal candidate; a large effect (lm-speedrun's first candidates are 5-10x) is then
   confirmed without running the slow baseline again.
2. Pairs: incumbent and candidate run back to back, the order alternating (AB, BA, ...) to cancel
   drift. After `min_pairs`, a one-sided t bound on the mean log ratio decides:
   promote when the upper bound is below 0 (the candidate is better with confidence);
   stop as futile when the lower bound is above -min_effect (it cannot be `min_effect` better);
   stop as futile too when, at the current trend, promotion within `max_pairs` has less than a
   `futility_power` chance (conditional power); otherwise add pairs up to `max_pairs`, then
   discard as inconclusive.
   Each look uses alpha / (number of looks) -- a Bonferroni split, so an A/A comparison is
   promoted with probability at most alpha however many looks it takes. With a quick look the
   paired looks share (1 - quick_share) * alpha, so the sum stays alpha.
3. A run during which other processes used more than `max_foreign_load` cores is re-run (up to
   `max_reruns` times) and recorded as not scored; when the last allowed re-run is loaded too, it
   is scored (a busy machine must not stall the campaign) and its note says so. Every recorded
   run carries a note: why it was scored or not (`TimedRun.note`).
Every candidate run in a pair is evaluated again (a fresh held-out draw per pair, which the
pair's two runs share: `on_pair`): all must pass the gates.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rubicon.config import ProtocolConfig as ProtocolConfig  # re-exported: moved to rubicon.config
from rubicon.measure.stats import (
    PairedEstimate,
    coefficient_of_variation,
    conditional_power,
    median,
    paired_log_ratio,
    two_sample_log_ratio,
)
from rubicon.types import KillReason, RunFacts, State, TimedRun, Trial

# Ratios need positive values, but a maximized score can be 0 (no hidden test passed, no
# question answered right). Values at or below 0 count as this floor in every ratio: any
# positive score beats 0, and 0 against 0 is a tie.
OBJECTIVE_FLOOR = 1e-6


def _pos(v: float) -> float:
    return v if v > OBJECTIVE_FLOOR else OBJECTIVE_FLOOR


@dataclass
class Verdict:
    state: State
    promote: bool
    reason: str
    metrics: dict[str, Any] = field(default_factory=dict)
    objective: float | None = None  # median of the candidate's scored objective values
    estimate: PairedEstimate | None = None
    runs: list[TimedRun] = field(default_factory=list)
    candidate_values: list[float] = field(default_factory=list)
    log_tail: str = ""


def record_run(trial: Trial, role: str, pair: int, scored: bool, metric: str,
               note: str = "") -> TimedRun:
    f = trial.facts
    value = trial.metrics.get(metric)
    return TimedRun(
        objective=float(value) if isinstance(value, int | float) else None,
        role=role, pair=pair, wall_seconds=f.wall_seconds, cpu_seconds=f.cpu_seconds,
        peak_memory_mb=f.peak_memory_mb, foreign_load=f.foreign_load, exit_code=f.exit_code,
        scored=scored, cores=f.cores, threads=f.threads, started_at=f.started_at,
        kill_reason="" if f.kill_reason == KillReason.NONE else f.kill_reason.value,
        note=note, state=trial.state.value,
        metrics={k: v for k, v in trial.metrics.items() if isinstance(v, int | float | str | bool)},
    )


class BudgetEnded(Exception):  # noqa: N818 - a stop, not an error
    """A timed run was stopped because the campaign's budget ended (its kill reason is
    `budget`); it is recorded, not scored, and the measurement stays unfinished."""


def replayed(r: TimedRun, metric: str) -> Trial:
    """The Trial a recorded run stands for (to continue an interrupted measurement)."""
    facts = RunFacts(exit_code=r.exit_code, wall_seconds=r.wall_seconds, cpu_seconds=r.cpu_seconds,
                     peak_memory_mb=r.peak_memory_mb, foreign_load=r.foreign_load, cores=r.cores,
                     threads=r.threads, started_at=r.started_at)
    metrics: dict[str, Any] = dict(r.metrics)
    if r.objective is not None:
        metrics.setdefault(metric, r.objective)
    return Trial(facts=facts, metrics=metrics, state=State(r.state or State.OK.value))


class RunLog:
    """The timed runs of one measurement, in the order they ran: the re-run rule for loaded
    runs (module doc, 3), a note on every run saying why it was scored or not, `on_run` called
    with each new run (the campaign stores it at once, so a kill loses no finished run), and the
    replay of `prior`: runs an interrupted measurement of the same comparison recorded, used in
    place of running again as long as they match what the rule asks for next."""

    def __init__(self, cfg: ProtocolConfig, metric: str, prior: Sequence[TimedRun] = (),
                 on_run: Callable[[TimedRun], None] | None = None) -> None:
        self.cfg = cfg
        self.metric = metric
        self.runs: list[TimedRun] = []
        self.replayed = 0
        self._prior = deque(r for r in prior if r.state and r.kill_reason != KillReason.BUDGET)
        self._on_run = on_run

    def _next(self, fn: Callable[[], Trial], role: str, pair: int) -> tuple[Trial, TimedRun | None]:
        if self._prior and self._prior[0].role == role and self._prior[0].pair == pair:
            r = self._prior.popleft()
            self.replayed += 1
            return replayed(r, self.metric), r
        self._prior.clear()  # the measurement took another path: run from here on
        return fn(), None

    def _add(self, t: Trial, old: TimedRun | None, role: str, pair: int, scored: bool,
             note: str) -> None:
        if old is not None:
            self.runs.append(old)
            return
        r = record_run(t, role, pair, scored, self.metric, note)
        self.runs.append(r)
        if self._on_run is not None:
            self._on_run(r)

    def timed(self, fn: Callable[[], Trial], role: str, pair: int) -> Trial:
        """One scored run of `fn` (re-running loaded ones); raises BudgetEnded when the
        campaign's budget stopped it."""
        cfg, limit = self.cfg, self.cfg.max_foreign_load
        for attempt in range(cfg.max_reruns + 1):
            t, old = self._next(fn, role, pair)
            load = t.facts.foreign_load
            if t.facts.kill_reason == KillReason.BUDGET:
                self._add(t, old, role, pair, False,
                          f"stopped at {t.facts.wall_seconds:.0f} s: the campaign's budget ended "
                          "(not scored; a resumed run runs it again)")
                raise BudgetEnded(t.reason)
            loaded = load > limit
            # a run that timed out under foreign load may have been slowed by it: re-run too
            if loaded and (t.ok or t.state == State.TIMED_OUT) and attempt < cfg.max_reruns:
                self._add(t, old, role, pair, False,
                          f"re-run: other processes used {load:.2f} cores during it "
                          f"(more than max_foreign_load {limit:g})")
                continue
            if not t.ok:
                note = f"not scored: the run {t.state.value.replace('_', ' ')}"
            elif loaded:
                note = (f"scored although other processes used {load:.2f} cores (more than "
                        f"max_foreign_load {limit:g}): the re-run limit (max_reruns "
                        f"{cfg.max_reruns}) was reached")
            else:
                note = f"scored: other processes used {load:.2f} cores (at most {limit:g})"
            self._add(t, old, role, pair, t.ok, note)
            return t
        raise AssertionError("unreachable")


def compare(
    run_candidate: Callable[[], Trial],
    run_incumbent: Callable[[], Trial],
    incumbent_values: list[float],
    metric: str,
    maximize: bool = False,
    cfg: ProtocolConfig | None = None,
    deadline: float | None = None,
    screen: Callable[[float], Trial] | None = None,
    reference_values: Sequence[float] = (),
    prior: Sequence[TimedRun] = (),
    on_run: Callable[[TimedRun], None] | None = None,
    on_pair: Callable[[int], None] | None = None,
) -> Verdict:
    """Decide whether a candidate beats the incumbent. Never raises for candidate behaviour
    (BudgetEnded: the campaign's budget stopped a run; the runs so far went to `on_run`).

    `screen(cap)` runs the candidate once with its wall time capped at `cap` seconds; given, it
    is used for the screening run when the metric is ``wall_seconds`` and lower is better.

    `deadline` (time.monotonic()): no new pair starts after it; the candidate is then discarded
    as inconclusive, so a campaign's budget ends with recorded results, not an overrun.

    `reference_values`: the incumbent's own recorded runs, for the quick look (module doc, 2a).
    `prior`, `on_run`: see RunLog.
    `on_pair(k)` is called before pair k's two runs (k >= 1): the campaign draws the seeds
    that both runs of the pair share there (rubicon.runner.Seeds).
    """
    cfg = cfg or ProtocolConfig()
    log = RunLog(cfg, metric, prior, on_run)
    runs = log.runs
    timed = log.timed
    sign = -1.0 if maximize else 1.0

    inc_med = _pos(median(incumbent_values))
    # A noisy machine must not turn equal candidates into "clear losers": widen the margin to
    # three coefficients of variation of the incumbent's own recorded runs.
    margin = max(cfg.loser_margin, 3 * coefficient_of_variation(incumbent_values))
    loser_time = inc_med * (1 + margin)
    if screen is not None and metric == "wall_seconds" and not maximize:
        cap = max(loser_time, cfg.screen_cap_min_seconds)
        first = timed(lambda: screen(cap), "candidate", 0)
        if first.state == State.TIMED_OUT and first.facts.wall_seconds >= cap:
            floor = (f"; no screening run is stopped before {cap:.4g} s"
                     if cap > loser_time else "")
            return Verdict(
                state=first.state, promote=False, runs=runs, log_tail=first.facts.output_tail,
                reason=(f"clear loser: still running after {cap:.4g} s (incumbent median "
                        f"{inc_med:.4g} s + {margin:.0%}{floor}); stopped at screening"),
            )
    else:
        first = timed(run_candidate, "candidate", 0)
    v = Verdict(state=first.state, promote=False, reason=first.reason, metrics=first.metrics,
                runs=runs, log_tail=first.facts.output_tail)
    if not first.ok:
        return v
    value = float(first.metrics[metric])
    v.candidate_values.append(value)
    v.objective = value
    worse = sign * math.log(_pos(value) / inc_med)
    if worse > math.log1p(margin):
        v.reason = (
            f"clear loser: {metric} {value:.4g} vs incumbent median {inc_med:.4g} "
            f"({math.exp(sign * worse):.3f}x) after one run"
        )
        return v

    ref = [_pos(x) for x in reference_values]
    quick = cfg.quick_share > 0 and len(ref) >= 2
    alpha_look = cfg.alpha * ((1 - cfg.quick_share) if quick else 1.0) / cfg.looks
    # the quick look could not pass unless the screening run already shows the margin
    if quick and -worse > math.log1p(cfg.quick_margin):
        done = _quick_look(v, log, run_candidate, ref, metric, maximize, cfg, deadline)
        if done:
            return v

    cand: list[float] = []
    inc: list[float] = []
    for pair in range(1, cfg.max_pairs + 1):
        if deadline is not None and time.monotonic() >= deadline:
            v.reason = f"budget ended after {len(cand)} pairs: not enough evidence to promote"
            return v
        if on_pair is not None:
            on_pair(pair)
        order = [("incumbent", run_incumbent), ("candidate", run_candidate)]
        if pair % 2 == 0:
            order.reverse()
        got: dict[str, Trial] = {}
        for role, fn in order:
            got[role] = timed(fn, role, pair)
        c, a = got["candidate"], got["incumbent"]
        if not c.ok:
            v.state, v.reason, v.metrics = c.state, f"pair {pair}: {c.reason}", c.metrics
            v.log_tail = c.facts.output_tail
            return v
        if not a.ok:  # the incumbent failed on a re-run: no evidence either way from this pair
            continue
        cand.append(_pos(float(c.metrics[metric])))
        inc.append(_pos(float(a.metrics[metric])))
        v.candidate_values.append(float(c.metrics[metric]))
        v.objective = median(v.candidate_values)
        if len(cand) < cfg.min_pairs:
            continue
        # log(better/worse) < 0 means the candidate is better, in either direction
        est = paired_log_ratio(inc, cand, alpha_look) if maximize else paired_log_ratio(cand, inc, alpha_look)
        v.estimate = est
        ratio = ratio_text(est, maximize)
        if est.high < 0:
            v.promote = True
            v.reason = f"better: {metric} ratio {ratio} over {est.n} pairs"
            return v
        if est.low > -math.log1p(cfg.min_effect):
            v.reason = f"not better: {metric} ratio {ratio} over {est.n} pairs"
            return v
        # from 3 pairs: with 2 the sd (1 degree of freedom) is too unreliable to extrapolate
        if 3 <= est.n < cfg.max_pairs and cfg.futility_power > 0:
            chance = conditional_power(est, cfg.max_pairs, alpha_look)
            if chance < cfg.futility_power:
                v.reason = (f"futile: {metric} ratio {ratio} over {est.n} pairs; at this trend "
                            f"a {chance:.0%} chance of promotion within {cfg.max_pairs} pairs")
                return v
    n = len(cand)
    v.reason = f"inconclusive after {n} pairs" + (
        f": ratio {v.estimate.ratio:.3f}x [{v.estimate.ratio_low:.3f}, {v.estimate.ratio_high:.3f}]"
        if v.estimate else ""
    )
    return v


def ratio_text(est: PairedEstimate, maximize: bool) -> str:
    """A paired estimate as people read it: candidate / incumbent, so a better candidate reads
    below 1x for a time and above 1x for a score (`est` is always worse / better: below 1 is a
    gain; `paired_log_ratio`)."""
    if maximize:
        return f"{1 / est.ratio:.3g}x [{1 / est.ratio_high:.3g}, {1 / est.ratio_low:.3g}]"
    return f"{est.ratio:.3f}x [{est.ratio_low:.3f}, {est.ratio_high:.3f}]"


def _quick_look(v: Verdict, log: RunLog, run_candidate: Callable[[], Trial], ref: list[float],
                metric: str, maximize: bool, cfg: ProtocolConfig, deadline: float | None) -> bool:
    """Step 2a of the module doc. True when it decided (promoted, or the candidate failed)."""
    cand = [_pos(x) for x in v.candidate_values]
    alpha = cfg.alpha * cfg.quick_share / len(ref)  # one look per candidate run (Bonferroni)
    while True:
        est = (two_sample_log_ratio(ref, cand, alpha) if maximize
               else two_sample_log_ratio(cand, ref, alpha))
        if est.high < -math.log1p(cfg.quick_margin):
            v.estimate, v.promote = est, True
            v.reason = (f"better: {metric} ratio {ratio_text(est, maximize)} over {est.n} "
                        f"run{'s' if est.n > 1 else ''} "
                        f"against the baseline's {len(ref)} recorded runs (quick look: more "
                        f"than {cfg.quick_margin:.0%} better)")
            return True
        if len(cand) >= len(ref) or (deadline is not None and time.monotonic() >= deadline):
            return False
        t = log.timed(run_candidate, "candidate", 0)
        if not t.ok:
            v.state, v.reason, v.metrics = t.state, f"screening: {t.reason}", t.metrics
            v.log_tail = t.facts.output_tail
            return True
        cand.append(_pos(float(t.metrics[metric])))
        v.candidate_values.append(float(t.metrics[metric]))
        v.objective = median(v.candidate_values)
