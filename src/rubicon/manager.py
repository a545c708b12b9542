"""The manager's view of a campaign with several researchers (or lines of one researcher).

`Campaign` runs the lines (see its docstring): each line proposes from its own incumbent, the
timing lane is granted to one timed run at a time per core set, and results are merged into the
campaign's incumbent. This module compares the lines from the store (`rubicon show`) and turns
CLI flags into the recorded researcher specs. Light on imports: `rubicon show` uses it.
"""

from __future__ import annotations

from typing import Any

from rubicon.store import LineStats, Store

__all__ = ["LineStats", "line_stats", "researcher_specs"]


def line_stats(store: Store, campaign_id: str) -> list[LineStats]:
    """Per researcher and line: experiment counts by state, kept count, best kept speedup, and
    whether it holds the campaign's incumbent (the baseline not counted). One aggregate read."""
    return store.line_stats(campaign_id)


def researcher_specs(names: list[str], args: dict[str, str]) -> list[dict[str, Any]]:
    """`--researcher A --researcher B` and `-R key=value` / `-R A.key=value` (for A only) as
    the specs `CampaignConfig.researchers` records."""
    specs = []
    for name in names:
        mine: dict[str, str] = {}
        for k, v in args.items():
            prefix, dot, rest = k.partition(".")
            if dot and prefix in names:
                if prefix == name:
                    mine[rest] = v
            else:
                mine[k] = v
        specs.append({"name": name, "args": mine})
    return specs
