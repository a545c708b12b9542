"""The promotion rule: sequential, paired, noise-aware (DESIGN.md "Measurement protocol").

1. Screening: the candidate runs once, timed and evaluated. A failed run ends it (one run spent).
   A clear loser (objective worse than the incumbent's median by more than the loser margin,
   widened to 3 coefficients of variation of the incumbent's recorded runs) is discarded after
   that one run. When the objective is wall seconds (minimized) and the incumbent takes at least
   `screen_cap_min_seconds`, the screening run is stopped as soon as it passes that clear-loser
   time, so a slow candidate costs little more than the incumbent (recorded `timed_out`, reason
   "clear loser: still running ...").
2. Pairs: incumbent and candidate run back to back, the order alternating (AB, BA, ...) to cancel
   drift. After `min_pairs`, a one-sided t bound on the mean log ratio decides:
   promote when the upper bound is below 0 (the candidate is better with confidence);
   stop as futile when the lower bound is above -min_effect (it cannot be `min_effect` better);
   stop as futile too when, at the current trend, promotion within `max_pairs` has less than a
   `futility_power` chance (conditional power); otherwise add pairs up to `max_pairs`, then
   discard as inconclusive.
   Each look uses alpha / (number of looks) -- a Bonferroni split, so an A/A comparison is
   promoted with probability at most alpha however many looks it takes.
3. A run during which other processes used more than `max_foreign_load` cores is re-run (up to
   `max_reruns` times) and recorded as not scored.
Every candidate run in a pair is evaluated again (fresh held-out data): all must pass the gates.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rubicon.measure.stats import (
    PairedEstimate,
    coefficient_of_variation,
    conditional_power,
    median,
    paired_log_ratio,
)
from rubicon.measure.trial import Trial
from rubicon.types import State, TimedRun


@dataclass(frozen=True)
class ProtocolConfig:
    alpha: float = 0.05
    # 2: a large effect (a 3x speedup) is promoted after two pairs; small ones need more anyway,
    # since the t bound with one degree of freedom is wide
    min_pairs: int = 2
    max_pairs: int = 6
    min_effect: float = 0.01  # smallest relative improvement worth promoting
    # stop a comparison whose chance of promotion within max_pairs, at the current trend, is
    # below this (conditional power); 0 turns it off
    futility_power: float = 0.05
    loser_margin: float = 0.10  # screening: discard if worse than incumbent median by this
    max_foreign_load: float = 0.5  # cores used by other processes during a timed run
    max_reruns: int = 2
    # Stop a screening run at the clear-loser time only when the incumbent takes at least this
    # long: on short tasks the saving is nil and a finished run says more (crash, gate failure).
    screen_cap_min_seconds: float = 30.0

    @property
    def looks(self) -> int:
        return self.max_pairs - self.min_pairs + 1


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


def record_run(trial: Trial, role: str, pair: int, scored: bool, metric: str) -> TimedRun:
    f = trial.facts
    value = trial.metrics.get(metric)
    return TimedRun(
        objective=float(value) if isinstance(value, int | float) else None,
        role=role, pair=pair, wall_seconds=f.wall_seconds, cpu_seconds=f.cpu_seconds,
        peak_memory_mb=f.peak_memory_mb, foreign_load=f.foreign_load, exit_code=f.exit_code,
        scored=scored, cores=f.cores, threads=f.threads, started_at=f.started_at,
    )


def compare(
    run_candidate: Callable[[], Trial],
    run_incumbent: Callable[[], Trial],
    incumbent_values: list[float],
    metric: str,
    maximize: bool = False,
    cfg: ProtocolConfig | None = None,
    deadline: float | None = None,
    screen: Callable[[float], Trial] | None = None,
) -> Verdict:
    """Decide whether a candidate beats the incumbent. Never raises for candidate behaviour.

    `screen(cap)` runs the candidate once with its wall time capped at `cap` seconds; given, it
    is used for the screening run when the metric is ``wall_seconds`` and lower is better.

    `deadline` (time.monotonic()): no new pair starts after it; the candidate is then discarded
    as inconclusive, so a campaign's budget ends with recorded results, not an overrun.
    """
    cfg = cfg or ProtocolConfig()
    runs: list[TimedRun] = []
    sign = -1.0 if maximize else 1.0

    def timed(fn: Callable[[], Trial], role: str, pair: int) -> Trial:
        for attempt in range(cfg.max_reruns + 1):
            t = fn()
            # a run that timed out under foreign load may have been slowed by it: re-run too
            noisy = (t.facts.foreign_load > cfg.max_foreign_load
                     and (t.ok or t.state == State.TIMED_OUT))
            if noisy and attempt < cfg.max_reruns:
                runs.append(record_run(t, role, pair, False, metric))
                continue
            runs.append(record_run(t, role, pair, t.ok, metric))
            return t
        raise AssertionError("unreachable")

    inc_med = median(incumbent_values)
    # A noisy machine must not turn equal candidates into "clear losers": widen the margin to
    # three coefficients of variation of the incumbent's own recorded runs.
    margin = max(cfg.loser_margin, 3 * coefficient_of_variation(incumbent_values))
    cap = inc_med * (1 + margin)
    if (screen is not None and metric == "wall_seconds" and not maximize
            and inc_med >= cfg.screen_cap_min_seconds):
        first = timed(lambda: screen(cap), "candidate", 0)
        if first.state == State.TIMED_OUT and first.facts.wall_seconds >= cap:
            return Verdict(
                state=first.state, promote=False, runs=runs, log_tail=first.facts.output_tail,
                reason=(f"clear loser: still running after {cap:.4g} s (incumbent median "
                        f"{inc_med:.4g} s + {margin:.0%}); stopped at screening"),
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
    worse = sign * math.log(value / inc_med)
    if worse > math.log1p(margin):
        v.reason = (
            f"clear loser: {metric} {value:.4g} vs incumbent median {inc_med:.4g} "
            f"({math.exp(sign * worse):.3f}x) after one run"
        )
        return v

    cand: list[float] = []
    inc: list[float] = []
    alpha_look = cfg.alpha / cfg.looks
    for pair in range(1, cfg.max_pairs + 1):
        if deadline is not None and time.monotonic() >= deadline:
            v.reason = f"budget ended after {len(cand)} pairs: not enough evidence to promote"
            return v
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
        cand.append(float(c.metrics[metric]))
        inc.append(float(a.metrics[metric]))
        v.candidate_values.append(cand[-1])
        v.objective = median(v.candidate_values)
        if len(cand) < cfg.min_pairs:
            continue
        # log(better/worse) < 0 means the candidate is better, in either direction
        est = paired_log_ratio(inc, cand, alpha_look) if maximize else paired_log_ratio(cand, inc, alpha_look)
        v.estimate = est
        ratio = f"{est.ratio:.3f}x [{est.ratio_low:.3f}, {est.ratio_high:.3f}]"
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
