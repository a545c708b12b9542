"""The researcher contract: `Researcher` (protocol) and `ResearchContext` (what it may read)."""

from __future__ import annotations

from typing import Annotated, Protocol, runtime_checkable

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from rubicon.researcher._history import History, ListHistory, as_history
from rubicon.task import Task
from rubicon.types import Experiment, Proposal


class ResearchContext(BaseModel):
    """Everything a researcher may read when proposing."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    task: Task
    baseline: Experiment
    incumbent: Experiment  # the best kept experiment so far
    # every recorded one the researcher may see, oldest first (a list is accepted too)
    history: Annotated[History, BeforeValidator(as_history)] = Field(default_factory=ListHistory)
    seed: int = 0
    experiments_left: int | None = None
    seconds_left: float | None = None
    # False: the campaign runs without hints; `task` then has no playbook and no start points
    hints: bool = True


@runtime_checkable
class Researcher(Protocol):
    """Anything with a `name` and `propose(ctx)`. To be recorded by a campaign (and rebuilt when
    it is reopened), a researcher also needs an identity: see `rubicon.researcher._registry`
    (a `Settings` model kept as `self.settings`, or a `spec()` method)."""

    name: str

    def propose(self, ctx: ResearchContext) -> Proposal | None: ...
