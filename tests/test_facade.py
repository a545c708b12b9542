"""The public facade: `from rubicon import *` gives exactly the names docs/API.md documents, each
one resolves to the real object, and `import rubicon` loads none of them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import rubicon

ROOT = Path(__file__).resolve().parents[1]


def documented_names() -> list[str]:
    section = (ROOT / "docs" / "API.md").read_text().split("## Public names", 1)[1]
    return re.findall(r"^\| `(\w+)` \|", section, re.M)


def test_all_is_exactly_the_documented_names() -> None:
    names = documented_names()
    assert len(names) > 20 and len(set(names)) == len(names)
    assert sorted(rubicon.__all__) == sorted(names)


def test_star_import_gives_every_name() -> None:
    ns: dict[str, object] = {}
    exec("from rubicon import *", ns)
    got = {k for k in ns if k != "__builtins__"}
    assert got == set(rubicon.__all__)
    assert all(ns[k] is not None for k in got)


def test_names_are_the_defining_modules_objects() -> None:
    from rubicon.campaign import Campaign
    from rubicon.config import CampaignConfig, ProtocolConfig
    from rubicon.measure.protocol import ProtocolConfig as MeasureProtocolConfig
    from rubicon.researcher import Researcher
    from rubicon.types import Proposal

    assert rubicon.Campaign is Campaign and rubicon.CampaignConfig is CampaignConfig
    assert rubicon.ProtocolConfig is ProtocolConfig is MeasureProtocolConfig
    assert rubicon.Researcher is Researcher and rubicon.Proposal is Proposal
    assert set(rubicon.__all__) <= set(dir(rubicon))


def test_unknown_name_is_an_attribute_error() -> None:
    try:
        rubicon.open_campaign  # noqa: B018 - the name the old facade listed but never had
    except AttributeError as e:
        assert "open_campaign" in str(e)
    else:
        raise AssertionError("rubicon.open_campaign should not exist")


def test_import_rubicon_loads_nothing_heavy() -> None:
    """DESIGN.md: `import rubicon` under 300 ms. Checked by what it imports, not by a clock:
    no submodule but the one-line version module, and none of pydantic, rich, numpy, optuna."""
    code = ("import sys, rubicon\n"
            "heavy = ('rubicon.', 'pydantic', 'rich', 'numpy', 'optuna', 'scipy')\n"
            "print(sorted(m for m in sys.modules if m.startswith(heavy)))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "['rubicon._version']"
