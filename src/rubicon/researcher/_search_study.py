"""The `search` researcher's view of a campaign: observations and the Optuna study over them.

Every recorded experiment this researcher can map to a configuration becomes an `Observation`
(log objective, or None when it failed); `build_study` turns them into an in-memory Optuna study
(failed ones carry `penalty_value`). Pure helpers, tested directly (tests/researcher).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rubicon.researcher import ResearchContext
from rubicon.researcher._search_space import PATCH_PREFIX, Config, SearchSpace, patch_key
from rubicon.types import Experiment, State

FAILURE_PENALTY = math.log(2.0)  # failed configs score this much worse than the worst ok one


@dataclass
class Observation:
    """One measured configuration as the sampler sees it."""

    config: Config
    key: str
    value: float | None  # log objective (lower is better); None when the experiment failed
    experiment: Experiment
    phase: str


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


# A maximized score of 0 counts as this floor, as in the promotion protocol (measure.protocol).
OBJECTIVE_FLOOR = 1e-6


def score(exp: Experiment, maximize: bool) -> float | None:
    """Sampler value of an experiment: log objective (lower is better), None when failed.

    A maximized objective of 0 (a score: no test passed) is a result, not a failure: it counts
    as OBJECTIVE_FLOOR, as in the promotion protocol, so every positive score beats it."""
    if exp.state != State.OK or exp.objective is None:
        return None
    if exp.objective <= 0 and not maximize:
        return None
    v = math.log(max(exp.objective, OBJECTIVE_FLOOR))
    return -v if maximize else v


def observations(space: SearchSpace, ctx: ResearchContext) -> list[Observation]:
    """Every recorded experiment this researcher can map to a configuration, baseline first."""
    maximize = ctx.task.spec.objective.direction == "maximize"
    base = space.baseline_config()
    first = Observation(base, space.key(base), score(ctx.baseline, maximize), ctx.baseline,
                        "baseline")
    out = [first]
    by_id = {ctx.baseline.id: first}
    for e in ctx.history.light:  # light records: no files or diffs are read
        if e.id == ctx.baseline.id or e.state == State.PENDING:
            continue
        config = experiment_config(space, e)
        if config is None and e.meta.get("config") is None and not e.proposal:
            # a light record leaves the proposal out: look there only when the meta has nothing
            config = experiment_config(space, ctx.history.by_id(e.id))
        if config is None:
            continue
        value = score(e, maximize)
        if e.state == State.INVALID and e.duplicate_of is not None:
            # same code as an earlier experiment: it carries that one's value, not a failure
            dup = by_id.get(e.duplicate_of)
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
