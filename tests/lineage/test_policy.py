"""The lineage policy file: defaults, needs_human, and clear errors for bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from rubicon.lineage.policy import (
    DEFAULT_POLICY_TOML,
    Policy,
    PolicyError,
    load_policy,
    parse_policy,
)
from rubicon.lineage.records import Generation, Interval


def gen(gain: float | None) -> Generation:
    return Generation(lineage="L", generation=2, parent=1, program_hash="h", status="proposed",
                      gain=None if gain is None else Interval(value=gain, lo=gain - 0.1, hi=gain + 0.1))


def test_default_policy_asks_a_human_and_is_the_documented_text() -> None:
    p = load_policy()
    assert p == parse_policy(DEFAULT_POLICY_TOML)
    assert p.human_approval == "always" and p.max_unattended is None and p == Policy()
    assert p.needs_human(gen(0.0), 0)
    assert p.notify.command is None and p.notify.url is None
    assert "approval-needed" in p.notify.events


def test_needs_human_by_mode_threshold_and_unattended_count() -> None:
    never = parse_policy('human_approval = "never"')
    assert not never.needs_human(gen(5.0), 100)
    capped = parse_policy('human_approval = "never"\nmax_unattended = 2')
    assert [capped.needs_human(gen(0.01), n) for n in range(4)] == [False, False, True, True]
    assert "max_unattended = 2" in capped.why_human(gen(0.01), 2)
    above = parse_policy('human_approval = "if-gain-above"\ngain_threshold = 0.1')
    assert not above.needs_human(gen(0.05), 0)
    assert not above.needs_human(gen(0.1), 0)
    assert above.needs_human(gen(0.2), 0)
    assert above.needs_human(gen(None), 0)  # unknown gain: cannot tell it is small
    assert "0.2 > gain_threshold 0.1" in above.why_human(gen(0.2), 0)
    assert "<=" in above.why_human(gen(0.05), 0)


def test_a_full_file_loads(tmp_path: Path) -> None:
    f = tmp_path / "policy.toml"
    f.write_text('human_approval = "if-gain-above"\ngain_threshold = 0.02\n[notify]\n'
                 'command = ["/bin/true", "x"]\nurl = "http://127.0.0.1:9/h"\n'
                 'timeout_seconds = 2.5\nevents = ["halt", "promotion"]\n')
    p = load_policy(f)
    assert p.notify.command == ["/bin/true", "x"] and p.notify.timeout_seconds == 2.5
    assert p.notify.events == ["halt", "promotion"]


@pytest.mark.parametrize(("text", "expected"), [
    ('human_approval = "sometimes"', "human_approval='sometimes': allowed: always, never, if-gain-above"),
    ("approval = 1", "approval: unknown key; allowed: human_approval, gain_threshold"),
    ("max_unattended = -1", "max_unattended=-1"),
    ("gain_threshold = -0.5", "gain_threshold=-0.5"),
    ('[notify]\ncommand = "ls -l"', 'notify.command=\'ls -l\': an argv list of strings'),
    ("[notify]\ncommand = []", "notify.command"),
    ('[notify]\nurl = "ftp://host/x"', "an http:// or https:// URL with a host"),
    ("[notify]\ntimeout_seconds = 0", "notify.timeout_seconds=0"),
    ('[notify]\nevents = ["promote"]', "allowed: proposal, promotion, rejection, halt, approval-needed"),
    ("[notify]\nhook = 1", "allowed in [notify]: command, url, timeout_seconds, events"),
    ("human_approval = ", "not valid TOML"),
])
def test_bad_policy_files_say_what_where_and_what_is_allowed(tmp_path: Path, text: str,
                                                             expected: str) -> None:
    f = tmp_path / "policy.toml"
    f.write_text(text)
    with pytest.raises(PolicyError) as e:
        load_policy(f)
    assert str(e.value).startswith(f"policy file {f}: ")
    assert expected in str(e.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read it"):
        load_policy(tmp_path / "nope.toml")


def test_the_measured_lineages_settings_load() -> None:
    """docs/LINEAGE.md's measured lineages start from bench/lineage/: the files must stay valid
    as the config's keys change."""
    import tomllib

    from rubicon.lineage.config import LineageConfig

    here = Path(__file__).resolve().parents[2] / "bench" / "lineage"
    cfg = LineageConfig.model_validate(tomllib.loads((here / "real.toml").read_text()))
    assert cfg.max_generations == 3 and cfg.dev.suite == "dev" and cfg.heldout.attempts == 3
    assert parse_policy((here / "never.toml").read_text()).human_approval == "never"
