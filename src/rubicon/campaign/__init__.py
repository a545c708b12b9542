"""The campaign: the only package that wires researcher, runner, measure and store.

    core.py         Campaign: create/open, baseline, ask/submit/tell, run (the public API)
    state.py        what the parts share: records, incumbents, the lock, what is in flight
    measuring.py    the baseline; a candidate against the incumbents it must beat
    lines.py        the merge policy of lines of work (pure functions)
    scheduler.py    the run loop on concurrent.futures: budgets, exhaustion, errors
    researchers.py  the researchers' recorded identity and the lines of work
    events.py       events delivered to `on_event` outside the campaign's lock
    provenance.py   what is recorded about code, packages and machine
    history.py      the store-backed history researchers read
    export.py       an experiment's workspace as files
"""

from rubicon.campaign.core import Campaign
from rubicon.campaign.events import Event
from rubicon.campaign.export import export_experiment
from rubicon.campaign.lines import MAX_RIVALS
from rubicon.campaign.measuring import HARNESS_METRICS
from rubicon.campaign.researchers import EXTERNAL, Line, ResearcherArg
from rubicon.config import CampaignConfig  # re-exported: moved to rubicon.config

__all__ = [
    "EXTERNAL", "HARNESS_METRICS", "MAX_RIVALS", "Campaign", "CampaignConfig", "Event", "Line",
    "ResearcherArg", "export_experiment",
]
