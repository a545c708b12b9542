"""The scripted researcher: replays a fixed list of proposals (for tests and demos)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rubicon.config import ResearcherSpec
from rubicon.errors import ConfigError
from rubicon.researcher import ResearchContext
from rubicon.types import Proposal


class ScriptedResearcher:
    """Proposes `proposals` in order, skipping those already recorded (so it resumes).

    Args:
        proposals: Proposal objects or dicts; or `script`, a JSON file holding a list of them.
        name: the name its experiments are recorded under (to tell two scripted lines apart).

    A campaign records the proposals themselves (not the script's path), so a reopened campaign
    replays the same list even if the file changed.
    """

    name = "scripted"

    def __init__(self, proposals: list[Proposal | dict[str, Any]] | None = None,
                 script: str | None = None, name: str = "scripted") -> None:
        self.name = name
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

    def spec(self) -> ResearcherSpec:
        """Identity as a campaign records it: the proposals, as JSON."""
        args: dict[str, Any] = {"proposals": [p.model_dump(mode="json", exclude_defaults=True)
                                              for p in self.proposals]}
        if self.name != "scripted":
            args["name"] = self.name
        return ResearcherSpec(name="scripted", args=args)

    def propose(self, ctx: ResearchContext) -> Proposal | None:
        done = len(ctx.history.where(researcher=self.name))
        if done >= len(self.proposals):
            return None
        p = self.proposals[done]
        return p.model_copy(update={"researcher": self.name,
                                    "rationale": p.rationale or f"scripted step {done + 1}"})
