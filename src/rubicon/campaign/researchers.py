"""Who proposes in a campaign: the researchers' recorded identity and the lines of work.

A campaign records each researcher by name and arguments (`ResearcherSpec`), so `Campaign.open`
builds the same researchers again. Each line of work is one researcher proposing from its own
incumbent; `lines` lines of one researcher share the researcher object (researchers keep no
state outside the context they are given).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rubicon.config import CampaignConfig, ResearcherSpec
from rubicon.errors import ConfigError
from rubicon.researcher import Researcher, build, spec_of

EXTERNAL = "external"  # researcher name of experiments proposed through `rubicon ask`

ResearcherArg = str | ResearcherSpec | Researcher


@dataclass
class Line:
    """One line of work: a researcher proposing from its own incumbent (see `Campaign.lines`).

    `exhausted`: the researcher had nothing left to propose in the last `run()`."""

    index: int
    researcher: Researcher
    exhausted: bool = False

    @property
    def name(self) -> str:
        return self.researcher.name


def _resolve(item: ResearcherArg, args: dict[str, Any] | None) -> tuple[Researcher, ResearcherSpec]:
    """The researcher object and the identity a campaign records for it."""
    if isinstance(item, str):
        if item == EXTERNAL:
            raise ConfigError(f"researcher {EXTERNAL!r} (proposals from `ask`) cannot be combined "
                              "with other researchers")
        item = ResearcherSpec(name=item, args=args or {})
    elif args:
        raise ConfigError("researcher_args apply to a researcher given by name, not to an object")
    if isinstance(item, ResearcherSpec):
        r = build(item)
        return r, spec_of(r, fallback=item)
    return item, spec_of(item)


def identify(researcher: ResearcherArg | Sequence[ResearcherArg], args: dict[str, Any] | None,
             cfg: CampaignConfig) -> tuple[str, dict[str, Any], list[Researcher], CampaignConfig]:
    """What `Campaign.create` records: the researcher's name and arguments (several: their
    specs in `cfg.researchers`), the objects built, and the config to record."""
    if researcher == EXTERNAL:
        return EXTERNAL, {}, [], cfg
    if cfg.researchers and isinstance(researcher, str):  # recorded lines, built by the campaign
        return "+".join(s.name for s in cfg.researchers), {}, [], cfg
    items = ([researcher] if isinstance(researcher, str | ResearcherSpec)
             or not isinstance(researcher, Sequence) else list(researcher))
    made = [_resolve(item, args if len(items) == 1 else None) for item in items]
    objs, specs = [r for r, _ in made], [s for _, s in made]
    if len(specs) == 1:
        return specs[0].name, specs[0].args, objs, cfg.model_copy(update={"researchers": []})
    return "+".join(s.name for s in specs), {}, objs, cfg.model_copy(update={"researchers": specs})


def make_lines(cfg: CampaignConfig, researcher: Researcher | None,
               objs: list[Researcher] | None) -> list[Line]:
    """The lines of work of a campaign: `cfg.lines` per researcher (the objects given, else
    those `cfg.researchers` names, else `researcher`); none for an external campaign."""
    if objs:  # each researcher runs `lines` lines; lines of one researcher share the object
        return [Line(i, r) for i, r in enumerate(r for r in objs for _ in range(cfg.lines))]
    if cfg.researchers:
        made = [build(spec) for spec in cfg.researchers for _ in range(cfg.lines)]
        return [Line(i, r) for i, r in enumerate(made)]
    if researcher is None:
        return []
    # K lines of one researcher share the object: researchers keep no state outside ctx
    return [Line(i, researcher) for i in range(cfg.lines)]
