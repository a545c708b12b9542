"""Typed arguments shared by the agent researchers (`llm`, `command`).

Every field is an argument: `-R key=value` on the command line (strings are converted), a
keyword in Python, or the model itself: `LLMResearcher(LLMSettings(model="gpt-4.1"))`.
"""

from __future__ import annotations

from pydantic import Field

from rubicon.researcher._registry import ResearcherSettings


class AgentSettings(ResearcherSettings):
    """What to work on and what to show, for researchers that edit code (see `_prompt`)."""

    hints: bool = Field(default=True, description="show the task's playbook as hints (on/off)")
    lines: int = Field(default=3, ge=1, description="parallel lines of work the researcher keeps")
    explore: float = Field(default=0.25, ge=0, le=1,
                           description="chance to continue a line other than the best")
    max_debug: int = Field(default=2, ge=0,
                           description="consecutive debug steps on a failed candidate")
    history: int = Field(default=40, ge=0, description="experiments shown in the prompt or brief")
    max_invalid_in_row: int = Field(default=5, ge=1,
                                    description="stop after this many invalid proposals in a row")


__all__ = ["AgentSettings"]
