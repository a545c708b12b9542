"""`rubicon horizon` options (issue 24, items 7 and 9): checked before any work, typed units,
no numpy warnings."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import rubicon.analytics as analytics
from rubicon.analytics import WORK_MONTH_MINUTES, duration_reading, parse_duration
from rubicon.cli.main import main

Rows = Callable[..., list[dict[str, Any]]]


@pytest.fixture
def runs(tmp_path: Path, make_rows: Rows) -> Path:
    rows = make_rows({"a": 4.0, "b": 30.0, "c": 200.0})
    dates = {"a": "2023-01-01", "b": "2024-01-01", "c": "2025-01-01"}
    p = tmp_path / "runs.jsonl"
    p.write_text("".join(json.dumps({**r, "release_date": dates[r["alias"]]}) + "\n"
                         for r in rows))
    return p


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--target", "soon"], "cannot read duration 'soon'"),
        (["--by", "next year"], "--by: expected a date"),
        (["--plot", "x.svg"], "--plot x.svg: charts are written as .png or .html"),
        (["--curves", "c.jpg"], "--curves c.jpg: charts are written as .png"),
        (["--since", "2024-13-01"], "--since: expected a date"),
        (["--horizon-ci", "wide"], "unknown --horizon-ci 'wide'; choose one of metr, censored"),
        (["--trend-ci", "x"], "choose one of metr, resample-models"),
        (["--ci", "95"], "--ci must be between 0 and 1"),
        (["--release-dates", "missing.yaml"], "no such release-dates file"),
    ],
)
def test_bad_options_exit_2_before_any_work(
    runs: Path, extra: list[str], message: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def no_work(*a: Any, **k: Any) -> Any:
        raise AssertionError("the runs were loaded before the options were checked")

    monkeypatch.setattr(analytics, "load_runs", no_work)
    assert main(["horizon", str(runs), *extra]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "Traceback" not in captured.err
    assert "no trend" not in captured.out


def test_published_mode_checks_the_same_way(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["horizon", "--published", "--plot", "p.svg"]) == 2
    assert ".png or .html" in capsys.readouterr().err


def test_units_people_type() -> None:
    assert parse_duration("1 month") == WORK_MONTH_MINUTES == 167 * 60
    assert parse_duration("1 week") == 40 * 60
    assert parse_duration("2 days") == 16 * 60
    assert parse_duration("90 mins") == 90 and parse_duration("3 hrs") == 180
    assert duration_reading("2 days") == "'2 days' read as 2 x work-day of 8 h = 16 h of work"
    assert duration_reading("100h") is None


def test_targets_in_calendar_units_are_explained(
    runs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["horizon", str(runs), "--bootstrap", "30", "--target", "1 week", "--target", "2 days"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "trend reaches 1 week" in out
    assert "'1 week' read as 1 x work-week of 40 h = 40 h of work" in out


def test_unfittable_trend_with_plot_is_an_error_not_exit_0(
    tmp_path: Path, make_rows: Rows, capsys: pytest.CaptureFixture[str]
) -> None:
    p = tmp_path / "r.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in make_rows({"a": 4.0})))
    assert main(["horizon", str(p), "--bootstrap", "0", "--plot", str(tmp_path / "f.png")]) == 2
    assert "--plot needs a trend" in capsys.readouterr().err


def test_single_family_file_prints_no_numpy_warnings(
    metr_runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [line for line in metr_runs.read_text().splitlines()
            if json.loads(line)["task_family"] == "pico_ctf"]
    one = tmp_path / "pico.jsonl"
    one.write_text("\n".join(rows) + "\n")
    dates = str(metr_runs.parent / "release_dates.yaml")
    for rules in ([], ["--horizon-ci", "censored", "--trend-ci", "resample-models"]):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            argv = ["horizon", str(one), "--bootstrap", "200", "--release-dates", dates,
                    "--plot", str(tmp_path / "f.png"), "--curves", str(tmp_path / "c.png"),
                    *rules]
            assert main(argv) == 0
        out = capsys.readouterr().out
        assert "only one task family" in out and "Frontier trend" in out
