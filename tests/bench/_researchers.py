"""Researchers for the bench tests (importable: a campaign rebuilds them by `module:Class`)."""

from __future__ import annotations

from typing import Any

from rubicon import Proposal, ResearchContext, ResearcherSettings


class CrashSettings(ResearcherSettings):
    pass


class Crash:
    """Proposes once, then raises: the attempt must be recorded as failed, with the reason."""

    name = "crash"
    Settings = CrashSettings

    def __init__(self, **args: Any) -> None:
        self.settings = CrashSettings(**args)

    def propose(self, ctx: ResearchContext) -> Proposal | None:
        if len(ctx.history) > 1:
            raise RuntimeError("the researcher broke down")
        return Proposal(knobs={"method": "mergesort"}, rationale="merge sort")
