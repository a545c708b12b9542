"""`rubicon horizon` writes and reads files where the user points: no chart in the current
directory unless asked, release dates found beside the runs file."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rubicon.cli.main import main

Rows = Callable[..., list[dict[str, Any]]]


def write_runs(d: Path, make_rows: Rows) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    p = d / "runs.jsonl"
    rows = make_rows({"a": 4.0, "b": 30.0, "c": 200.0})
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return p


def test_release_dates_beside_the_runs_are_found(tmp_path: Path, make_rows: Rows,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    runs = write_runs(tmp_path / "metr", make_rows)
    assert main(["horizon", str(runs), "--bootstrap", "50"]) == 0
    out = capsys.readouterr().out
    assert "no trend" in out and "release_dates.yaml" in out  # says how to give one
    dates = runs.parent / "release_dates.yaml"
    dates.write_text("date:\n  a: 2023-01-01\n  b: 2024-01-01\n  c: 2025-01-01\n")
    assert main(["horizon", str(runs), "--bootstrap", "50"]) == 0
    out = "".join(capsys.readouterr().out.split())  # long paths are folded at the width
    assert f"releasedatesfrom{dates}" in out and "Frontiertrend" in out


def test_published_writes_no_chart_unless_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["horizon", "--published", "--bootstrap", "50"]) == 0
    assert list(tmp_path.iterdir()) == []
    assert "--plot FILE.png" in capsys.readouterr().out
    chart = tmp_path / "charts" / "frontier.png"
    chart.parent.mkdir()
    assert main(["horizon", "--published", "--bootstrap", "50", "--plot", str(chart)]) == 0
    assert chart.is_file() and sorted(p.name for p in tmp_path.iterdir()) == ["charts"]
