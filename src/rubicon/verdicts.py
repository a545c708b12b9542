"""Verdicts a person understands without `rubicon show`: pure functions over a recorded
experiment, shared by the terminal (rubicon.cli) and the reports.

(The count behind a failed gate is in the gate's own reason: rubicon.task._metrics.gate_counts.)

- `crash_site`: the file and line of a crashed candidate, from the traceback in its output;
- `explain`: the recorded reason, completed: where a crash happened (and `rubicon show N`),
  why an experiment that looks faster was discarded;
- `changes`: what a proposal changes, listing every patch and knob of a multi-change proposal;
- `speedup_method`: how the one speedup figure of an experiment was measured;
- `compared_with`: the incumbent an experiment was measured against.
"""

from __future__ import annotations

import re
from typing import Any

from rubicon.types import Decision, Experiment, State

_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)', re.M)
# frames of the interpreter and installed packages: not where a candidate's bug is
_LIBRARY = ("/lib/python", "site-packages", "dist-packages", "<frozen", "<string>")
PATCH_PREFIX = "patch:"  # the search researcher's configuration keys of playbook patches
MEDIAN_SPEEDUP = "speedup_vs_baseline_median"  # measuring.py's second figure, in metrics


def crash_site(output: str) -> str | None:
    """`FILE:LINE` of the innermost traceback frame in the candidate's own files (the last frame
    outside the interpreter's library), or None when the output holds no Python traceback."""
    frames = [(m.group("file"), m.group("line")) for m in _FRAME.finditer(output)]
    ours = [f for f in frames if not any(lib in f[0] for lib in _LIBRARY)]
    if not ours:
        return None
    path, line = ours[-1]
    # trial workspaces are <trial dir>/ws/...: the workspace-relative name is what a user knows
    name = path.split("/ws/", 1)[1] if "/ws/" in path else path.rsplit("/", 1)[-1]
    return f"{name}:{line}"


def compared_with(e: Experiment) -> int | None:
    """The incumbent `e` was measured against (recorded since 2026-12; else its parent)."""
    got = e.meta.get("compared_with")
    return got if isinstance(got, int) else e.parent_id


def _ratio(e: Experiment) -> float | None:
    """The paired ratio's point estimate (the geometric middle of its interval)."""
    if e.ratio_low is None or e.ratio_high is None or e.ratio_low <= 0 or e.ratio_high <= 0:
        return None
    return float((e.ratio_low * e.ratio_high) ** 0.5)


def looks_faster_unconfirmed(e: Experiment) -> bool:
    """Discarded although its paired runs looked better than the incumbent's."""
    ratio = _ratio(e)
    return (e.decision == Decision.DISCARD and e.state == State.OK and ratio is not None
            and ratio < 1.0)


def explain(e: Experiment) -> str:
    """The recorded reason, completed so that it reads on its own (see the module doc)."""
    reason = e.reason or ""
    if e.state in (State.CRASHED, State.TIMED_OUT) and e.seq > 0:
        site = crash_site(e.log_tail)
        where = f" at {site}" if site and site not in reason else ""
        return f"{reason}{where} (details: rubicon show {e.id})".strip()
    if looks_faster_unconfirmed(e):
        ratio = _ratio(e)
        assert ratio is not None and e.ratio_low is not None and e.ratio_high is not None
        vs = compared_with(e)
        why = (f"it looked {1 / ratio:.2f}x better than #{vs}, but the interval of the ratio "
               f"[{e.ratio_low:.3f}, {e.ratio_high:.3f}] does not exclude no gain")
        if reason.startswith("futile"):
            why += ", and more pairs were unlikely to confirm it"
        return f"{reason} -- not kept: {why}"
    return reason


def changes(e: Experiment, limit: int = 0) -> str:
    """What `e`'s proposal changes. A proposal of several patches and knobs (the search
    researcher's configurations) is listed change by change; any other proposal is described
    by its rationale's first line. `limit` > 0 lists at most that many names of each kind."""
    proposal = e.proposal or {}
    knobs: dict[str, Any] = dict(proposal.get("knobs") or {})
    config = e.meta.get("config")
    patches = ([k[len(PATCH_PREFIX):] for k, v in config.items() if k.startswith(PATCH_PREFIX) and v]
               if isinstance(config, dict) else [])
    first = (e.rationale or "").strip().splitlines()[0] if (e.rationale or "").strip() else ""
    if len(patches) + len(knobs) <= 1:
        return first

    def listed(names: list[str]) -> str:
        shown = names if limit <= 0 else names[:limit]
        more = len(names) - len(shown)
        return ", ".join(shown) + (f" (+{more} more)" if more else "")

    parts = []
    if patches:
        parts.append(f"{len(patches)} patch{'es' if len(patches) > 1 else ''}: {listed(patches)}")
    if knobs:
        parts.append(f"{len(knobs)} knob{'s' if len(knobs) > 1 else ''}: "
                     + listed([f"{k}={_short(v)}" for k, v in knobs.items()]))
    return "; ".join(parts)


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def speedup_method(e: Experiment) -> str:
    """How `e.speedup` was measured: chained through the paired comparison (incumbent's
    speedup / paired ratio) when there was one, else the median of its runs over the
    baseline's median."""
    if e.seq == 0:
        return "the baseline"
    if e.ratio_low is not None and e.ratio_high is not None:
        return f"chained: #{compared_with(e)}'s speedup / paired ratio"
    return "median of its runs / the baseline's median"
