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
   Playbook patches and start points are the task author's hints: with hints off
   (`CampaignConfig.hints`, the default of `rubicon bench`) the campaign shows this researcher
   a task without them, so steps 0, a and b do nothing and it searches the knobs only.
3. Proposals apply to the *baseline* files (patch edits in `requires` order, knob values for
   the knobs file), so patches always apply cleanly whatever the incumbent is.

See docs/RESEARCHERS.md, section "search", for why TPE and how failures are told to it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from rubicon.researcher import ResearchContext
from rubicon.researcher._registry import ResearcherSettings, parse_settings
from rubicon.researcher._search_space import Config, SearchSpace, patch_key
from rubicon.researcher._search_study import (  # re-exported: tested and used as search.*
    FAILURE_PENALTY,
    Observation,
    _add,
    _optuna,
    _value,
    build_study,
    distributions,
    enumerate_space,
    experiment_config,
    from_params,
    observations,
    penalty_value,
    score,
    to_params,
)
from rubicon.types import Decision, Experiment, Proposal

__all__ = [
    "ANCHOR_MARGIN", "ENUMERATE_LIMIT", "FAILURE_PENALTY", "PHASES", "SAMPLERS", "Observation",
    "SearchResearcher", "SearchSettings", "build_study", "distributions", "enumerate_space",
    "experiment_config", "from_params", "observations", "penalty_value", "score", "sweep_moves",
    "to_params",
]

PHASES = ("start", "patches", "split", "sweep", "tpe", "random", "fill")
SAMPLERS = ("tpe", "random")
# the sweep moves around the incumbent unless an unpromoted ok experiment was this much faster
ANCHOR_MARGIN = math.log(1.10)
ENUMERATE_LIMIT = 200_000  # spaces up to this size are searched exhaustively when sampling stalls


def _blank_is_none(v: Any) -> Any:
    return None if v == "" else v


class SearchSettings(ResearcherSettings):
    """Arguments of the `search` researcher (docs/RESEARCHERS.md, section "search")."""

    seed: Annotated[int | None, BeforeValidator(_blank_is_none)] = Field(
        default=None, ge=0, description="sampler seed; default the campaign's seed")
    n_startup: int = Field(default=4, ge=0,
                           description="random trials TPE takes before it models (the baseline "
                                       "and first proposals included)")
    sweep: int = Field(default=48, ge=0, description="at most this many one-change moves around "
                                                     "the incumbent before TPE takes over")
    sampler: Literal["tpe", "random"] = Field(
        default="tpe", description="tpe, or random (a baseline for benchmarking the researcher)")
    attempts: int = Field(default=64, ge=1, description="samples drawn per proposal to find a "
                                                        "configuration not yet measured")


class SearchResearcher:
    """Offline researcher: searches knobs and playbook patches with Optuna.

    Arguments: a `SearchSettings`, or its fields as keywords (strings from `-R key=value` are
    converted).

    Raises:
        ConfigError: an argument is not a valid integer or sampler name.
    """

    name = "search"
    Settings = SearchSettings

    def __init__(self, settings: SearchSettings | None = None, /, **args: Any) -> None:
        self.settings = s = parse_settings(SearchSettings, "search", settings, args)
        self.seed, self.n_startup, self.sweep = s.seed, s.n_startup, s.sweep
        self.sampler, self.attempts = s.sampler, s.attempts
        self.args: dict[str, Any] = s.model_dump(mode="json")

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
