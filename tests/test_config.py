"""Configuration: pydantic records with precise errors, recorded configs of the previous code
still load, and the layered settings (flag > env > rubicon.toml > default) with their sources."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rubicon import CampaignConfig, ConfigError, ProtocolConfig, ResearcherSpec, load_settings
from rubicon.cli.main import main

# What `dataclasses.asdict(CampaignConfig(...))` wrote before the configs became pydantic models
# (commit 9e9e935), as stored in the campaigns table.
OLD_RECORDED = {
    "max_experiments": 3, "budget_seconds": 120.0, "baseline_runs": 2, "seed": 0,
    "protocol": {"alpha": 0.05, "min_pairs": 2, "max_pairs": 6, "min_effect": 0.01,
                 "futility_power": 0.05, "loser_margin": 0.1, "max_foreign_load": 0.5,
                 "max_reruns": 2, "screen_cap_min_seconds": 30.0},
    "workers": 1, "executor": "local", "address": None,
    "researchers": [{"name": "scripted", "args": {"script": "s.json"}},
                    {"name": "search", "args": {}}],
    "lines": 2,
}


def test_recorded_configs_of_the_previous_code_load() -> None:
    cfg = CampaignConfig.from_dict(OLD_RECORDED)
    assert cfg.budget_seconds == 120.0 and cfg.lines == 2
    assert cfg.researchers == [ResearcherSpec(name="scripted", args={"script": "s.json"}),
                               ResearcherSpec(name="search")]
    # same shape written back, plus keys added since with their defaults: campaigns recorded
    # before hints were a setting showed them; those recorded before the quick look go on
    # without it (quick_share 0), so a resumed campaign keeps the protocol it started with
    assert cfg.hints is True and cfg.protocol.quick_share == 0.0
    assert cfg.to_dict() == {**OLD_RECORDED, "hints": True, "protocol": {
        **OLD_RECORDED["protocol"], "quick_share": 0.0, "quick_margin": 0.25}}  # type: ignore[dict-item]
    assert CampaignConfig.from_dict(CampaignConfig().to_dict()).protocol.quick_share == ProtocolConfig().quick_share > 0
    # older still: keys added later are missing, a key since removed is ignored
    older = {"max_experiments": None, "seed": 1, "protocol": {"alpha": 0.1, "gone": 1}, "gone": 2}
    cfg = CampaignConfig.from_dict(older)
    assert cfg.seed == 1 and cfg.protocol.alpha == 0.1 and cfg.workers == 1


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"executor": "dask"}, "executor='dask': allowed: local, ray"),
    ({"workers": 0}, "workers=0: Input should be greater than or equal to 1"),
    ({"wrokers": 2}, "wrokers: unknown key; allowed: max_experiments"),
    ({"protocol": {"min_pairs": 4, "max_pairs": 2}}, "max_pairs=2 must be >= min_pairs=4"),
    ({"protocol": {"alpha": 1.5}}, "alpha=1.5: Input should be less than 1"),
    ({"protocol": {"min_pairs": 1}}, "min_pairs=1: Input should be greater than or equal to 2"),
])
def test_bad_config_values_are_config_errors(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        CampaignConfig(**kwargs)  # type: ignore[arg-type]


def test_configs_check_assignment_and_protocol_is_frozen() -> None:
    cfg = CampaignConfig()
    cfg.max_experiments = 5
    with pytest.raises(ConfigError, match="lines=0"):
        cfg.lines = 0
    with pytest.raises(ConfigError, match="frozen"):
        cfg.protocol.max_pairs = 3
    assert ProtocolConfig(min_pairs=2, max_pairs=5).looks == 4


# layered settings ---------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project (pyproject.toml) with a rubicon.toml; the current directory is a subdirectory
    whose campaign directory has its own rubicon.toml. No RUBICON_* variable leaks in."""
    import os

    for k in list(os.environ):
        if k.startswith("RUBICON_"):
            monkeypatch.delenv(k)
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (tmp_path / "rubicon.toml").write_text(
        'budget = "20m"\nworkers = 2\nmax_pairs = 3\nresearcher = ["llm"]\n'
        '[researcher_args]\nmodel = "m"\n')
    work = tmp_path / "sub" / "work"
    (work / "runs").mkdir(parents=True)
    (work / "runs" / "rubicon.toml").write_text("max_pairs = 5\nseed = 7\n")
    (tmp_path.parent / "rubicon.toml").write_text("lines = 9\n")  # above the project: not read
    monkeypatch.chdir(work)
    monkeypatch.setenv("RUBICON_DIR", "runs")
    return tmp_path


def test_layers_and_their_sources(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUBICON_SEED", "8")
    res = load_settings({"workers": "3", "researcher_args": {"max_cost_usd": "1"}},
                        flag_names={"workers": "--workers"})
    s, origin = res.settings, res.origin
    camp, proj = project / "sub" / "work" / "runs" / "rubicon.toml", project / "rubicon.toml"
    assert (s.workers, origin["workers"]) == (3, "flag --workers")  # flag > file
    assert (s.seed, origin["seed"]) == (8, "env RUBICON_SEED")  # env > campaign file
    assert (s.max_pairs, origin["max_pairs"]) == (5, f"file {camp}")  # campaign > project
    assert (s.budget, origin["budget"]) == (1200.0, f"file {proj}")
    assert (s.lines, origin["lines"]) == (1, "default")  # the file above the project is not read
    assert (s.dir, origin["dir"]) == ("runs", "env RUBICON_DIR")
    assert s.researcher == ["llm"]
    assert s.researcher_args == {"model": "m", "max_cost_usd": "1"}  # tables merge
    assert origin["researcher_args"] == f"flag --researcher-args + file {proj}"
    assert res.files == [camp, proj]
    cfg = res.campaign_config()
    assert (cfg.workers, cfg.seed, cfg.budget_seconds, cfg.protocol.max_pairs) == (3, 8, 1200.0, 5)


def test_outside_a_project_only_the_current_directory_counts(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "rubicon.toml").write_text("workers = 4\n")
    (tmp_path / "inner").mkdir()
    monkeypatch.delenv("RUBICON_WORKERS", raising=False)
    assert load_settings(cwd=tmp_path).settings.workers == 4
    assert load_settings(cwd=tmp_path / "inner").origin["workers"] == "default"


@pytest.mark.parametrize(("env", "toml", "message"), [
    ({"RUBICON_WORKERS": "many"}, "", "workers='many' (from env RUBICON_WORKERS): Input should be a valid integer"),
    ({"RUBICON_EXECUTOR": "dask"}, "", "executor='dask' (from env RUBICON_EXECUTOR): allowed: local, ray"),
    ({}, 'budget = "soon"\n', "budget='soon' (from file"),
    ({}, "wrokers = 2\n", "wrokers (from file"),
    ({}, "x = [\n", "not a valid TOML file"),
    ({}, 'dir = "elsewhere"\n', "cannot be set in the campaign directory's own rubicon.toml"),
])
def test_bad_layers_are_named(project: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                              toml: str, message: str) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    if toml:
        Path("runs/rubicon.toml").write_text(toml)
    with pytest.raises(ConfigError) as e:
        load_settings()
    assert message in str(e.value)


def test_rubicon_config_prints_values_and_sources(project: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("RUBICON_MAX_FOREIGN_LOAD", "2.5")
    assert main(["config", "--baseline-runs", "3", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["baseline_runs"] == {"value": 3, "source": "flag --baseline-runs"}
    assert got["max_foreign_load"] == {"value": 2.5, "source": "env RUBICON_MAX_FOREIGN_LOAD"}
    assert got["max_pairs"]["source"].endswith("runs/rubicon.toml")
    assert got["alpha"] == {"value": 0.05, "source": "default"}
    assert main(["config"]) == 0
    table = capsys.readouterr().out
    assert "env RUBICON_DIR" in table and "rubicon.toml files read" in table
    assert main(["config", "--workers", "none"]) == 2
    assert "workers='none' (from flag --workers)" in capsys.readouterr().err


def test_env_twin_of_a_flag_that_is_not_a_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rubicon.cli._common import finish
    from rubicon.cli.main import build_parser

    monkeypatch.setenv("RUBICON_TAIL", "77")
    parser = build_parser("show")
    args = parser.parse_args(["show", "--last", "5", "--dir", str(tmp_path)])
    finish(args, parser.subparser("show"))
    assert (args.tail, args.last, args.experiment, args.dir) == (77, 5, None, str(tmp_path))
    monkeypatch.setenv("RUBICON_TAIL", "lots")
    args = parser.parse_args(["show"])
    with pytest.raises(ConfigError, match="RUBICON_TAIL='lots'"):
        finish(args, parser.subparser("show"))


def test_researcher_arguments_are_checked_from_the_command_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "demo-inversions", "--researcher", "search", "-R", "sweep=lots",
                 "--dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "search researcher: bad arguments: sweep='lots'" in err
    code = main(["run", "demo-inversions", "--researcher", "search", "-R", "sampler=cmaes",
                 "--dir", str(tmp_path)])
    assert code == 2 and "sampler='cmaes': allowed: tpe, random" in capsys.readouterr().err
