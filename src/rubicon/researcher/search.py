"""The built-in offline researcher `search`: Optuna over a task's knobs and playbook patches.

No network, no API key. Every `propose` rebuilds its whole state from the campaign's store
(`ctx.history`), so a resumed campaign continues exactly where it stopped:

1. Each recorded experiment whose ``meta["config"]`` holds a configuration becomes one
   observation; the baseline is the baseline configuration (baseline knob values, no patches).
   Ok experiments are scored ``log(objective)`` (negated when the task maximizes); failed ones
   (crashed, timed out, gate failed, tampered, invalid) get a penalty: the worst ok score plus
   ``log 2``. The penalty keeps them in the sampler's model as *bad* points, so it steers away.
2. Plan, first match wins; a configuration already measured is never proposed again:
   0. ``start``: each starting point the task suggests (``[[start]]`` in task.toml, knob
      values) with every compatible patch; when one passed and beat the baseline, (a) and (b)
      are skipped;
   a. ``patches``: every compatible playbook patch together (baseline knobs);
   b. ``split``: if (a) failed or was not faster than the baseline, find the culprits by
      bisection (group testing): measure each half of the failing patch set, split again only
      the halves that fail, then measure every patch that passed in some half together;
   c. ``sweep``: one-change moves of single knobs around the incumbent (capped);
   d. ``tpe``: Optuna's multivariate TPE sampler on a study rebuilt from the observations;
   e. ``fill``: the unmeasured configuration nearest the best (exhaustive in small spaces);
   f. nothing left: None.
3. Proposals apply to the *baseline* files (patch edits in `requires` order, knob values for
   the knobs file), so patches always apply cleanly whatever the incumbent is.

See docs/RESEARCHERS.md, section "search", for why TPE and how failures are told to it.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from rubicon.errors import ConfigError
from rubicon.researcher import ResearchContext
from rubicon.researcher._search_space import PATCH_PREFIX, Config, SearchSpace, patch_key
from rubicon.types import Decision, Experiment, Proposal, State

PHASES = ("start", "patches", "split", "sweep", "tpe", "random", "fill")
SAMPLERS = ("tpe", "random")
FAILURE_PENALTY = math.log(2.0)  # failed configs score this much worse than the worst ok one
# the sweep moves around the incumbent unless an unpromoted ok experiment was this much faster
ANCHOR_MARGIN = math.log(1.10)
ENUMERATE_LIMIT = 200_000  # spaces up to this size are searched exhaustively when sampling stalls


@dataclass
class Observation:
    """One measured configuration as the sampler sees it."""

    config: Config
    key: str
    value: float | None  # log objective (lower is better); None when the experiment failed
    experiment: Experiment
    phase: str


def _as_int(name: str, value: Any, low: int) -> int:
    try:
        v = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"search researcher: {name}={value!r} is not an integer") from None
    if v < low:
        raise ConfigError(f"search researcher: {name}={v} must be >= {low}")
    return v


class SearchResearcher:
    """Offline researcher: searches knobs and playbook patches with Optuna.

    Arguments come from ``--researcher-arg k=v`` as strings and are converted.

    Args:
        seed: sampler seed; default the campaign's seed (``ctx.seed``).
        n_startup: random trials Optuna's TPE takes before it models (counted over all
            observations, the baseline and the first proposals included).
        sweep: at most this many one-change moves around the incumbent before TPE takes over.
        sampler: ``tpe`` (default) or ``random`` (a baseline for benchmarking the researcher).
        attempts: samples drawn per proposal to find a configuration not yet measured.

    Raises:
        ConfigError: an argument is not a valid integer or sampler name.
    """

    name = "search"

    def __init__(self, seed: int | str | None = None, n_startup: int | str = 4,
                 sweep: int | str = 48, sampler: str = "tpe", attempts: int | str = 64) -> None:
        self.seed = None if seed is None or seed == "" else _as_int("seed", seed, 0)
        self.n_startup = _as_int("n_startup", n_startup, 0)
        self.sweep = _as_int("sweep", sweep, 0)
        self.attempts = _as_int("attempts", attempts, 1)
        if sampler not in SAMPLERS:
            raise ConfigError(
                f"search researcher: sampler={sampler!r}; choose one of {', '.join(SAMPLERS)}"
            )
        self.sampler = sampler
        self.args: dict[str, Any] = {
            "seed": self.seed, "n_startup": self.n_startup, "sweep": self.sweep,
            "sampler": self.sampler, "attempts": self.attempts,
        }

    # the protocol -------------------------------------------------------------------------

    def propose(self, ctx: ResearchContext) -> Proposal | None:
        """Next configuration to measure, or None when every configuration has been measured."""
        space = SearchSpace(ctx.task, ctx.baseline.files)
        if not space.knobs and not space.patches:
            return None
        obs = observations(space, ctx)
        measured = {o.key for o in obs}
        seed = self.seed if self.seed is not None else ctx.seed
        step_seed = (seed * 1_000_003 + len(ctx.history)) % (2**31 - 1)
        plan = self._plan(space, ctx, obs, measured, step_seed)
        if plan is None:
            return None
        config, phase, why = plan
        return self._proposal(space, ctx, obs, config, phase, why)

    # planning -----------------------------------------------------------------------------

    def _plan(self, space: SearchSpace, ctx: ResearchContext, obs: list[Observation],
              measured: set[str], step_seed: int) -> tuple[Config, str, str] | None:
        def new(c: Config) -> bool:
            return space.key(c) not in measured and space.applies(c)

        base_value = next((o.value for o in obs if o.experiment.id == ctx.baseline.id), None)
        # 0. the task's suggested starting points, each with every compatible patch
        together = space.all_compatible()
        by_key = {o.key: o for o in obs}
        started = False
        for st in ctx.task.spec.start:
            start = {**together, **{k: space.normalize(k, v) for k, v in st.knobs.items()}}
            if new(start):
                n = len(space.enabled(together))
                return start, "start", (
                    f"the task suggests starting from {st.name!r} ({st.description})"
                    + (f", tried with all {n} compatible playbook patches" if n else "")
                )
            done = by_key.get(space.key(start))
            started = started or (done is not None and _helped(done, base_value))
        if space.patches and not started:
            # a. every compatible patch together
            names = space.enabled(together)
            if names and new(together):
                return together, "patches", (
                    f"first try all {len(names)} compatible playbook patches together: the "
                    "quickest route to a first confirmed improvement"
                )
            # b. bisect the combination when it did not help
            tog = next((o for o in obs if o.key == space.key(together)), None)
            if tog is not None and len(names) > 1 and not _helped(tog, base_value):
                found = self._split(space, obs, base_value, [p for p in space.order if p in names],
                                    new)
                if found is not None:
                    verdict = "failed" if tog.value is None else "was not faster than the baseline"
                    config, what = found
                    return config, "split", (
                        f"the combination of all patches (e{tog.experiment.id}) {verdict}; "
                        f"bisecting it to find the culprits: {what}"
                    )
        # c. one-change moves of single knobs around the incumbent
        swept = sum(1 for o in obs if o.phase == "sweep")
        if swept < self.sweep:
            anchor, where = self._anchor(space, ctx, obs)
            for name, v, note in sweep_moves(space, anchor):
                move = {**anchor, name: v}
                if v != anchor.get(name) and new(move):
                    return move, "sweep", (
                        f"one-change sweep around {where}{note}: a losing move costs a single "
                        "screening run"
                    )
        # d. model-based
        picked = self._sample(space, obs, measured, step_seed)
        if picked is not None:
            return picked
        # e. anything left
        return self._fill(space, measured, step_seed, self._anchor(space, ctx, obs)[0])

    def _split(self, space: SearchSpace, obs: list[Observation], base_value: float | None,
               names: list[str], new: Callable[[Config], bool]) -> tuple[Config, str] | None:
        """Next group test for a patch set that failed together, or None when resolved.

        Depth first: a measured group that passed and was faster than the baseline is cleared;
        one that failed (or was slower) is split in halves, down to single culprits. A group
        whose configuration cannot be measured (patches conflict) is split without a run. Once
        every group is resolved, all cleared patches are proposed together. With k culprits
        among n patches this costs about 2 k log2(n) runs instead of n.
        """
        by_key = {o.key: o for o in obs}
        cleared: list[str] = []

        def config(group: list[str]) -> Config:
            return space.close_requires(
                {**space.baseline_config(), **{patch_key(p): True for p in group}})

        def visit(group: list[str], root: bool) -> tuple[Config, str] | None:
            c = config(group)
            o = by_key.get(space.key(c))
            if not root and o is None and new(c):
                return c, f"measure {', '.join(group)}"
            if o is not None and _helped(o, base_value):
                cleared.extend(group)
                return None
            if len(group) == 1:
                return None  # a culprit (or a patch that does not apply alone)
            half = (len(group) + 1) // 2
            return visit(group[:half], False) or visit(group[half:], False)

        found = visit(names, True)
        if found is not None:
            return found
        union = config(cleared)
        if len(cleared) > 1 and new(union):
            return union, f"all {len(cleared)} patches that passed in their groups together"
        return None

    def _anchor(self, space: SearchSpace, ctx: ResearchContext,
                obs: list[Observation]) -> tuple[Config, str]:
        """Where the sweep moves from: the incumbent's configuration when it is ours, unless an
        ok (not promoted) observation was more than 10% faster, and its paired runs, if any, do
        not say otherwise; then that one."""
        inc = next((o for o in obs if o.experiment.id == ctx.incumbent.id), None)
        ok = [o for o in obs if o.value is not None and not _paired_level(o.experiment)]
        best = min(ok, key=_value) if ok else None
        if inc is not None and inc.value is not None and (
                best is None or _value(best) > inc.value - ANCHOR_MARGIN):
            if inc.experiment.id == ctx.baseline.id:
                return inc.config, "the baseline"
            return inc.config, f"the incumbent e{inc.experiment.id}"
        if best is not None:
            if best.experiment.id == ctx.baseline.id:
                return best.config, "the baseline"
            return best.config, f"the fastest so far e{best.experiment.id} (not yet promoted)"
        return space.baseline_config(), "the baseline"

    def _sample(self, space: SearchSpace, obs: list[Observation], measured: set[str],
                step_seed: int) -> tuple[Config, str, str] | None:
        optuna = _optuna()
        dists = distributions(space)
        penalty = penalty_value(obs)
        study = build_study(space, obs, self.sampler, step_seed, self.n_startup)
        n_ok = sum(1 for o in obs if o.value is not None)
        for _ in range(self.attempts):
            trial = study.ask(dists)
            config = space.close_requires(from_params(space, trial.params))
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            if not space.applies(config):  # patches that conflict: teach it, costs no run
                _add(study, space, dists, config, penalty)
                continue
            if space.key(config) in measured:
                continue
            if self.sampler == "random":
                return config, "random", (
                    f"random sampling (benchmark baseline) over {len(obs)} measured configurations"
                )
            how = "models" if len(obs) >= self.n_startup else "explores (startup) over"
            return config, "tpe", (
                f"TPE {how} {len(obs)} measured configurations "
                f"({n_ok} ok, {len(obs) - n_ok} failed) and expects this one to be fast"
            )
        return None

    def _fill(self, space: SearchSpace, measured: set[str], step_seed: int,
              anchor: Config) -> tuple[Config, str, str] | None:
        """The unmeasured configuration nearest to `anchor` (fewest differing keys); None proves
        exhaustion for small spaces."""
        why = ("the sampler kept repeating measured configurations; trying the unmeasured one "
               "nearest to the best")
        size = space.size()
        if size is not None and size <= ENUMERATE_LIMIT:
            best: tuple[int, Config] | None = None
            for config in enumerate_space(space):
                if space.key(config) in measured:
                    continue
                dist = sum(1 for k, v in config.items() if anchor.get(k) != v)
                if (best is None or dist < best[0]) and space.applies(config):
                    best = (dist, config)
                    if dist <= 1:
                        break
            return None if best is None else (best[1], "fill", why)
        optuna = _optuna()
        dists = distributions(space)
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=step_seed + 1))
        for _ in range(self.attempts * 16):
            trial = study.ask(dists)
            config = space.close_requires(from_params(space, trial.params))
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            if space.key(config) not in measured and space.applies(config):
                return config, "fill", why
        return None

    # the proposal -------------------------------------------------------------------------

    def _proposal(self, space: SearchSpace, ctx: ResearchContext, obs: list[Observation],
                  config: Config, phase: str, why: str) -> Proposal:
        full = {**space.baseline_config(), **config}
        anchor, where = self._anchor(space, ctx, obs)
        if anchor == space.baseline_config():
            text = "; ".join(space.describe(full)) or "baseline configuration"
        else:
            step = "; ".join(space.describe(full, against=anchor)) or "same configuration"
            total = ", ".join(space.describe(full, brief=True)) or "nothing"
            text = f"{step} (relative to {where}; vs baseline: {total})"
        ok = [o for o in obs if o.value is not None and o.experiment.id != ctx.baseline.id]
        if ok:
            best = min(ok, key=_value)
            if best.experiment.speedup:
                why += f"; best so far e{best.experiment.id} at {best.experiment.speedup:.2f}x"
        return Proposal(
            parent_id=ctx.baseline.id,
            edits=space.edits(full),
            knobs=space.knob_changes(full),
            rationale=f"{text} -- because {why}",
            researcher=self.name,
            researcher_args=dict(self.args),
            meta={"config": full, "phase": phase,
                  "search": {"observations": len(obs), "sampler": self.sampler}},
        )


# pure helpers (tested directly) -------------------------------------------------------------


def _helped(o: Observation, base_value: float | None) -> bool:
    """Passed every gate and was faster than the baseline."""
    return o.value is not None and base_value is not None and o.value < base_value


def _paired_level(e: Experiment) -> bool:
    """An unpromoted experiment whose paired runs put it within the anchor margin of the
    incumbent: no better, however fast its median looked (early-stopped runs vary)."""
    if e.decision == Decision.KEEP or not e.ratio_low or not e.ratio_high:
        return False
    return 0.5 * math.log(e.ratio_low * e.ratio_high) > -ANCHOR_MARGIN


def sweep_moves(space: SearchSpace, anchor: Config) -> Iterator[tuple[str, Any, str]]:
    """One-change moves from `anchor`, in order: big levers before small ones.

    1. The task's fidelity knob halved: it is the declared cost lever, and whether the gate
       still passes is the question.
    2. Both neighbours of the first declared knob (a task lists its most consequential knob
       first, e.g. depth): like halving, a move that can change the cost by 2x.
    3. The fidelity knob cut to 71% and then 84% (a line search, for when half was too little).
       At most a 1.4x gain, and often none when the program already stops early on its own.
    4. Knob by knob, in the order the task declares them, both neighbours of the current value:
       int and float knobs doubled and halved (a value of 0 moves to a quarter of its range),
       choice knobs one step either way, bool knobs flipped.
    5. Round-robin over the knobs, the choice values further away.
    """
    fk = space.task.spec.fidelity_knob
    cuts: list[tuple[str, Any, str]] = []
    if fk is not None and fk in space.knobs and space.knobs[fk].type in ("int", "float"):
        low = space.knobs[fk].low
        cur = anchor.get(fk)
        if isinstance(cur, int | float) and low is not None:
            for factor, what in ((0.5, "halve"), (0.5**0.5, "x0.71"), (0.5**0.25, "x0.84")):
                v = space.normalize(fk, cur * factor)
                if low <= v < cur:
                    cuts.append((fk, v, f" ({what} the fidelity knob {fk})"))
    near: list[tuple[str, Any, str]] = []
    far: list[tuple[str, list[Any]]] = []
    for name, k in space.knobs.items():
        cur = anchor.get(name)
        if k.type in ("bool", "choice"):
            values: list[Any] = [False, True] if k.type == "bool" else list(k.choices or [])
            at = values.index(cur) if cur in values else 0
            others = sorted((i for i in range(len(values)) if i != at),
                            key=lambda i: (abs(i - at), i))
            near += [(name, values[i], "") for i in others if abs(i - at) <= 1]
            far.append((name, [values[i] for i in others if abs(i - at) > 1]))
        elif name != fk and isinstance(cur, int | float) and k.low is not None \
                and k.high is not None:
            steps = [cur * 2, cur / 2] if cur != 0 else [k.low + (k.high - k.low) / 4]
            alts: list[Any] = []
            for v in steps:
                nv = space.normalize(name, v)
                if nv != cur and nv not in alts:
                    alts.append(nv)
            near += [(name, v, "") for v in alts]
    first = near[0][0] if near else None
    lead = [m for m in near if m[0] == first]
    yield from cuts[:1]
    yield from lead
    yield from cuts[1:]
    yield from (m for m in near if m[0] != first)
    for rank in range(max((len(v) for _, v in far), default=0)):
        for name, alts in far:
            if rank < len(alts):
                yield name, alts[rank], ""


def _value(o: Observation) -> float:
    return o.value if o.value is not None else math.inf


def _optuna() -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna


def experiment_config(space: SearchSpace, exp: Experiment) -> Config | None:
    """The full configuration an experiment recorded in its meta (None if it has none)."""
    raw = exp.meta.get("config")
    if raw is None:
        raw = (exp.proposal.get("meta") or {}).get("config")
    if not isinstance(raw, dict) or not space.is_member(raw):
        return None
    return {**space.baseline_config(), **raw}


def score(exp: Experiment, maximize: bool) -> float | None:
    """Sampler value of an experiment: log objective (lower is better), None when failed."""
    if exp.state != State.OK or exp.objective is None or exp.objective <= 0:
        return None
    v = math.log(exp.objective)
    return -v if maximize else v


def observations(space: SearchSpace, ctx: ResearchContext) -> list[Observation]:
    """Every recorded experiment this researcher can map to a configuration, baseline first."""
    maximize = ctx.task.spec.objective.direction == "maximize"
    base = space.baseline_config()
    first = Observation(base, space.key(base), score(ctx.baseline, maximize), ctx.baseline,
                        "baseline")
    out = [first]
    by_id = {ctx.baseline.id: first}
    for e in ctx.history:
        if e.id == ctx.baseline.id or e.state == State.PENDING:
            continue
        config = experiment_config(space, e)
        if config is None:
            continue
        value = score(e, maximize)
        if e.state == State.INVALID and e.reason.startswith("duplicate of experiment"):
            # same code as an earlier experiment: it carries that one's value, not a failure
            words = e.reason.split()
            dup = by_id.get(int(words[3])) if len(words) > 3 and words[3].isdigit() else None
            value = dup.value if dup is not None else None
        o = Observation(config, space.key(config), value, e, str(e.meta.get("phase", "")))
        out.append(o)
        by_id[e.id] = o
    return out


def build_study(space: SearchSpace, obs: list[Observation], sampler: str = "tpe",
                seed: int = 0, n_startup: int = 4) -> Any:
    """An in-memory Optuna study holding one finished trial per observation.

    Ok observations carry their log objective; failed ones the penalty (see `penalty_value`).
    """
    optuna = _optuna()
    s: Any
    if sampler == "tpe":
        s = optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_startup, multivariate=True)
    else:
        s = optuna.samplers.RandomSampler(seed=seed)
    study = optuna.create_study(direction="minimize", sampler=s)
    dists = distributions(space)
    penalty = penalty_value(obs)
    for o in obs:
        _add(study, space, dists, o.config, penalty if o.value is None else o.value)
    return study


def penalty_value(obs: list[Observation]) -> float:
    """Score given to failed configurations: worse than every ok one."""
    ok = [o.value for o in obs if o.value is not None]
    return (max(ok) if ok else 0.0) + FAILURE_PENALTY


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return json.dumps(value, sort_keys=True)


def distributions(space: SearchSpace) -> dict[str, Any]:
    """Optuna distributions of every knob and patch (patches are on/off categoricals)."""
    d = _optuna().distributions
    out: dict[str, Any] = {}
    for name, k in space.knobs.items():
        if k.type == "int":
            assert k.low is not None and k.high is not None
            lo, hi = math.ceil(k.low), math.floor(k.high)
            out[name] = d.IntDistribution(lo, hi, log=k.log and lo >= 1)
        elif k.type == "float":
            assert k.low is not None and k.high is not None
            out[name] = d.FloatDistribution(k.low, k.high, log=k.log and k.low > 0)
        elif k.type == "bool":
            out[name] = d.CategoricalDistribution([False, True])
        else:
            out[name] = d.CategoricalDistribution([_encode(c) for c in k.choices or []])
    for p in space.patches:
        out[patch_key(p)] = d.CategoricalDistribution([False, True])
    return out


def to_params(space: SearchSpace, config: Config) -> dict[str, Any]:
    """A configuration as Optuna parameter values."""
    return {k: _encode(v) if k in space.knobs else bool(v) for k, v in config.items()}


def from_params(space: SearchSpace, params: dict[str, Any]) -> Config:
    """Optuna parameter values as a configuration (types restored, floats rounded)."""
    out: Config = space.baseline_config()
    for k, v in params.items():
        if k.startswith(PATCH_PREFIX):
            out[k] = bool(v)
        elif k in space.knobs:
            knob = space.knobs[k]
            if knob.type == "choice":
                out[k] = next((c for c in knob.choices or [] if _encode(c) == v), v)
            else:
                out[k] = space.normalize(k, v)
    return out


def _add(study: Any, space: SearchSpace, dists: dict[str, Any], config: Config,
         value: float) -> None:
    optuna = _optuna()
    # a value outside the current space is not an observation the sampler can use: skip it
    with contextlib.suppress(ValueError):
        study.add_trial(optuna.trial.create_trial(
            params=to_params(space, config), distributions=dists, value=value))


def enumerate_space(space: SearchSpace) -> Iterator[Config]:
    """Every configuration of a finite space (requirements closed), in a fixed order."""
    axes: list[tuple[str, list[Any]]] = []
    for name, k in space.knobs.items():
        if k.type == "int":
            assert k.low is not None and k.high is not None
            axes.append((name, list(range(math.ceil(k.low), math.floor(k.high) + 1))))
        elif k.type == "bool":
            axes.append((name, [False, True]))
        else:
            axes.append((name, list(k.choices or [])))
    axes += [(patch_key(p), [False, True]) for p in space.patches]
    names = [n for n, _ in axes]
    for combo in itertools.product(*(vals for _, vals in axes)):
        yield space.close_requires(dict(zip(names, combo, strict=True)))
