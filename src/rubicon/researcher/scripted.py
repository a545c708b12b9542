"""The scripted researcher: replays a fixed list of proposals (for tests and demos)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rubicon.errors import ConfigError
from rubicon.researcher import ResearchContext
from rubicon.types import Proposal


class ScriptedResearcher:
    """Proposes `proposals` in order, skipping those already recorded (so it resumes).

    Args:
        proposals: Proposal objects or dicts; or `script`, a JSON file holding a list of them.
    """

    name = "scripted"

    def __init__(self, proposals: list[Proposal | dict[str, Any]] | None = None,
                 script: str | None = None) -> None:
        items: list[Any] = list(proposals or [])
        if script is not None:
            try:
                items += json.loads(Path(script).read_text())
            except (OSError, ValueError) as e:
                raise ConfigError(f"scripted researcher: cannot read script {script!r}: {e}") from None
        try:
            self.proposals = [p if isinstance(p, Proposal) else Proposal.model_validate(p)
                              for p in items]
        except ValueError as e:
            raise ConfigError(f"scripted researcher: bad proposal: {e}") from None

    def propose(self, ctx: ResearchContext) -> Proposal | None:
        done = sum(1 for e in ctx.history if e.researcher == self.name)
        if done >= len(self.proposals):
            return None
        p = self.proposals[done]
        return p.model_copy(update={"researcher": self.name,
                                    "rationale": p.rationale or f"scripted step {done + 1}"})
