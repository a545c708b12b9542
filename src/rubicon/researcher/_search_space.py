"""The search space of the offline `search` researcher: knobs and playbook patches.

A *configuration* is a flat dict: one entry per knob (its value) and one entry
``"patch:NAME": bool`` per playbook patch. It is what the researcher records in
``Proposal.meta["config"]``, what it deduplicates on, and what it tells the sampler.
This module is pure (no optuna import): mapping a configuration to a proposal and back.
"""

from __future__ import annotations

import json
import math
from typing import Any

from rubicon.errors import ProposalError
from rubicon.task import Knob, PlaybookPatch, Task
from rubicon.types import Edit
from rubicon.workspace import apply_edits, validate_knobs

PATCH_PREFIX = "patch:"
Config = dict[str, Any]


def patch_key(name: str) -> str:
    """The configuration key of a playbook patch."""
    return PATCH_PREFIX + name


def round_float(value: float, low: float, high: float) -> float:
    """Round to 3 significant digits (readable, and makes float knobs deduplicable), clipped."""
    if value == 0 or not math.isfinite(value):
        return min(max(float(value), low), high) if math.isfinite(value) else low
    r = float(f"{value:.3g}")
    return min(max(r, low), high)


class SearchSpace:
    """Knobs and playbook patches of a task as a typed search space.

    Args:
        task: the loaded task.
        baseline_files: the baseline experiment's editable files; the knob values found in
            the knobs file are the baseline configuration (falling back to declared defaults).
    """

    def __init__(self, task: Task, baseline_files: dict[str, str]) -> None:
        self.task = task
        self.base_files = dict(baseline_files)
        self.knobs: dict[str, Knob] = dict(task.spec.knobs)
        self.patches: dict[str, PlaybookPatch] = {p.name: p for p in task.playbook}
        self.order = _topological(task.playbook)
        self._apply_cache: dict[tuple[str, ...], bool] = {}
        current: dict[str, Any] = {}
        kf = task.spec.knobs_file
        if kf is not None and kf in self.base_files:
            try:
                loaded = json.loads(self.base_files[kf] or "{}")
                if isinstance(loaded, dict):
                    current = loaded
            except json.JSONDecodeError:
                current = {}
        self.base_knobs: dict[str, Any] = {}
        for name, k in self.knobs.items():
            v = current.get(name, k.default)
            ok = self.knob_allows(name, v)
            self.base_knobs[name] = v if ok else self.normalize(name, k.default)

    # values -------------------------------------------------------------------------------

    def knob_allows(self, name: str, value: Any) -> bool:
        """True when `value` is a legal value of knob `name` (the harness's own rule)."""
        try:
            validate_knobs(self.task, {name: value})
        except ProposalError:
            return False
        return True

    def normalize(self, name: str, value: Any) -> Any:
        """Coerce a sampled value to the knob's type (ints as int, floats rounded)."""
        k = self.knobs[name]
        if k.type == "int":
            assert k.low is not None and k.high is not None
            return int(min(max(round(float(value)), math.ceil(k.low)), math.floor(k.high)))
        if k.type == "float":
            assert k.low is not None and k.high is not None
            return round_float(float(value), k.low, k.high)
        if k.type == "bool":
            return bool(value)
        return value

    # configurations -----------------------------------------------------------------------

    def baseline_config(self) -> Config:
        """The configuration of the unmodified workspace: baseline knob values, no patches."""
        cfg: Config = dict(self.base_knobs)
        cfg.update({patch_key(p): False for p in self.patches})
        return cfg

    def key(self, config: Config) -> str:
        """Canonical identity of a configuration (for deduplication)."""
        full = self.baseline_config()
        full.update({k: v for k, v in config.items() if k in full})
        return json.dumps(full, sort_keys=True, default=str)

    def is_member(self, config: Config) -> bool:
        """True when every key is known and every knob value is legal."""
        for k, v in config.items():
            if k.startswith(PATCH_PREFIX):
                if k[len(PATCH_PREFIX):] not in self.patches or not isinstance(v, bool):
                    return False
            elif k not in self.knobs or not self.knob_allows(k, v):
                return False
        return True

    def enabled(self, config: Config) -> list[str]:
        """Enabled patches in a valid application order (requirements first)."""
        return [p for p in self.order if config.get(patch_key(p), False)]

    def close_requires(self, config: Config) -> Config:
        """Turn on every patch required (transitively) by an enabled patch."""
        out = dict(config)
        stack = [p for p in self.patches if out.get(patch_key(p), False)]
        while stack:
            for r in self.patches[stack.pop()].requires:
                if not out.get(patch_key(r), False):
                    out[patch_key(r)] = True
                    stack.append(r)
        return out

    def edits(self, config: Config) -> list[Edit]:
        """The enabled patches' edits, requirements first, in playbook order otherwise."""
        return [e for p in self.enabled(config) for e in self.patches[p].edits]

    def knob_changes(self, config: Config) -> dict[str, Any]:
        """Knob values that differ from the baseline (what the proposal writes)."""
        return {k: config[k] for k in self.knobs if k in config and config[k] != self.base_knobs[k]}

    def applies(self, config: Config) -> bool:
        """True when the enabled patches apply cleanly, together, to the baseline files."""
        names = tuple(self.enabled(config))
        if names not in self._apply_cache:
            try:
                apply_edits(self.task, self.base_files, self.edits(config))
                ok = True
            except ProposalError:
                ok = False
            self._apply_cache[names] = ok
        return self._apply_cache[names]

    def all_compatible(self) -> Config:
        """Baseline knobs with as many patches as apply together (greedy, in valid order)."""
        cfg = self.baseline_config()
        for p in self.order:
            trial = self.close_requires({**cfg, patch_key(p): True})
            if self.applies(trial):
                cfg = trial
        return cfg

    def size(self) -> int | None:
        """Number of distinct configurations, or None when infinite (float knobs) or huge."""
        n = 1
        for k in self.knobs.values():
            if k.type == "float":
                return None
            if k.type == "int":
                assert k.low is not None and k.high is not None
                n *= int(math.floor(k.high) - math.ceil(k.low) + 1)
            elif k.type == "bool":
                n *= 2
            else:
                n *= len(k.choices or [])
        n *= 2 ** len(self.patches)
        return n if n <= 10**7 else None

    # readable text ------------------------------------------------------------------------

    def describe(self, config: Config, against: Config | None = None,
                 brief: bool = False) -> list[str]:
        """Human-readable changes of `config` relative to `against` (default: baseline).

        Descriptions of patches and knobs are included unless `brief`.
        """
        ref = against if against is not None else self.baseline_config()
        out: list[str] = []
        for p in self.order:
            key = patch_key(p)
            on, was = bool(config.get(key, False)), bool(ref.get(key, False))
            if on and not was:
                desc = "" if brief else f" ({self.patches[p].description})"
                out.append(f"enable {p}{desc}")
            elif was and not on:
                out.append(f"disable {p}")
        for name, k in self.knobs.items():
            if name in config and config[name] != ref.get(name, self.base_knobs[name]):
                why = f" ({k.description})" if k.description and not brief else ""
                out.append(f"{name} {_fmt(ref.get(name))} -> {_fmt(config[name])}{why}")
        return out


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _topological(patches: list[PlaybookPatch]) -> list[str]:
    """Patch names with every requirement before its dependents (playbook order otherwise)."""
    by_name = {p.name: p for p in patches}
    done: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in done:
            return
        if name in visiting:
            raise ProposalError(f"playbook patches have a cycle in `requires` through {name!r}")
        visiting.add(name)
        for r in by_name[name].requires:
            if r in by_name:
                visit(r)
        visiting.discard(name)
        done.append(name)

    for p in patches:
        visit(p.name)
    return done
