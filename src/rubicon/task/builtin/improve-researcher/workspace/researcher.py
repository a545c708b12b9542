"""The built-in offline search as a researcher program: its policy lives in policy.json.

policy.json holds the search's settings: `sweep` (one-change moves around the incumbent before
the sampler takes over), `sampler` (tpe or random), `n_startup` (random trials before TPE
models), `attempts` (samples drawn per proposal to find an unmeasured configuration). Edit
either file; `make()` must return an object with `name` and `propose(ctx)`.
"""

import json
from pathlib import Path

from rubicon.researcher.search import SearchResearcher

POLICY = Path(__file__).with_name("policy.json")


def make() -> SearchResearcher:
    policy = json.loads(POLICY.read_text(encoding="utf-8"))
    return SearchResearcher(**policy)
