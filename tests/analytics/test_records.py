from __future__ import annotations

import builtins
import json
from pathlib import Path
from typing import Any

import pytest

from rubicon.analytics import load_release_dates, load_runs, records_from_rows
from rubicon.errors import AnalyticsError, RubiconError

ROW = {
    "task_id": "f/a",
    "task_family": "f",
    "alias": "x",
    "human_minutes": 3.0,
    "score_binarized": 1,
}


def _write(tmp_path: Path, rows: list[dict[str, Any]], name: str = "runs.jsonl") -> Path:
    p = tmp_path / name
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return p


def test_analytics_error_is_rubicon_error() -> None:
    assert issubclass(AnalyticsError, RubiconError)


def test_missing_column_names_field_file_and_line(tmp_path: Path) -> None:
    bad = {k: v for k, v in ROW.items() if k != "human_minutes"}
    p = _write(tmp_path, [ROW, bad])
    with pytest.raises(AnalyticsError, match=r"line 2: missing field\(s\) human_minutes"):
        load_runs(p)


def test_missing_score_lists_alternatives() -> None:
    bad = {k: v for k, v in ROW.items() if k != "score_binarized"}
    with pytest.raises(AnalyticsError, match="score_binarized or score_cont or score"):
        records_from_rows([bad])


def test_task_without_human_time_raises_or_is_dropped() -> None:
    rows = [ROW, {**ROW, "task_id": "f/b", "human_minutes": None}]
    with pytest.raises(AnalyticsError, match=r"1 task\(s\) have no positive human_minutes.*f/b"):
        records_from_rows(rows)
    recs = records_from_rows(rows, drop_untimed=True)
    assert recs.task.tolist() == ["f/a"]


def test_score_out_of_range_and_family_conflict() -> None:
    with pytest.raises(AnalyticsError, match=r"outside \[0, 1\]"):
        records_from_rows([{**ROW, "score_binarized": 3}])
    with pytest.raises(AnalyticsError, match="exactly one family"):
        records_from_rows([ROW, {**ROW, "task_family": "g"}])


def test_score_fallbacks_and_release_date() -> None:
    row = {k: v for k, v in ROW.items() if k != "score_binarized"}
    recs = records_from_rows([{**row, "score": 0.25, "release_date": "2025-01-02"}])
    assert recs.score.tolist() == [0.25]
    assert recs.release_dates["x"].isoformat() == "2025-01-02"


def test_directory_and_invalid_json(tmp_path: Path) -> None:
    _write(tmp_path, [ROW], "a.jsonl")
    _write(tmp_path, [{**ROW, "alias": "y"}], "b.jsonl")
    assert sorted(load_runs(tmp_path).agents) == ["x", "y"]
    (tmp_path / "c.jsonl").write_text("{not json\n")
    with pytest.raises(AnalyticsError, match="c.jsonl, line 1: not valid JSON"):
        load_runs(tmp_path)
    with pytest.raises(AnalyticsError, match="no such file"):
        load_runs(tmp_path / "missing.jsonl")


def test_inspect_log_without_inspect_names_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_import = builtins.__import__

    def fake_import(name: str, *a: Any, **k: Any) -> Any:
        if name.startswith("inspect_ai"):
            raise ImportError(name)
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    p = tmp_path / "log.eval"
    p.write_bytes(b"PK")
    with pytest.raises(AnalyticsError, match="pip install inspect_ai"):
        load_runs(p)


def test_release_dates_formats(tmp_path: Path) -> None:
    y = tmp_path / "d.yaml"
    y.write_text("date:\n  o1: 2024-12-05\n  Claude 3.5 Sonnet (New): 2024-10-22\n")
    assert load_release_dates(y)["Claude 3.5 Sonnet (New)"].isoformat() == "2024-10-22"
    j = tmp_path / "d.json"
    j.write_text(json.dumps({"o1": "2024-12-05"}))
    assert load_release_dates(j)["o1"].year == 2024
    c = tmp_path / "d.csv"
    c.write_text("alias,release_date\no1,2024-12-05\n")
    assert load_release_dates(c)["o1"].month == 12
    c.write_text("name,date\no1,2024-12-05\n")
    with pytest.raises(AnalyticsError, match="alias,release_date"):
        load_release_dates(c)
    y.write_text("o1: soon\n")
    with pytest.raises(AnalyticsError, match="expected a date"):
        load_release_dates(y)


def test_agent_filters(synthetic: Any) -> None:
    assert synthetic.only_agents(["fast"]).agents == ["fast"]
    assert synthetic.without_agents(["fast"]).agents == ["slow"]
    with pytest.raises(AnalyticsError, match="the records have: fast, slow"):
        synthetic.only_agents(["nope"])
