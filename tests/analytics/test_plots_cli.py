from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rubicon.analytics import (
    estimate_horizons,
    fit_trend,
    frontier,
    plot_frontier,
    plot_success_curves,
    published_points,
    records_from_rows,
)
from rubicon.cli.main import main
from rubicon.errors import AnalyticsError

PNG = b"\x89PNG\r\n\x1a\n"


def test_plots_write_png(make_rows: Callable[..., list[dict[str, Any]]], tmp_path: Path) -> None:
    pts = published_points()
    out = plot_frontier(pts, tmp_path / "f.png", trend=fit_trend(frontier(pts)), targets=[6000])
    assert out.read_bytes()[:8] == PNG
    recs = records_from_rows(make_rows({"a": 30.0, "b": 3.0}))
    rep = estimate_horizons(recs, n_bootstrap=0)
    assert plot_success_curves(recs, rep, tmp_path / "c.png").read_bytes()[:8] == PNG
    with pytest.raises(AnalyticsError, match="PNG"):
        plot_frontier(pts, tmp_path / "f.jpg")


def test_cli_published(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "p.png"
    assert main(["horizon", "--published", "--plot", str(png), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert png.read_bytes()[:8] == PNG
    assert out["trend"]["frontier"][-1] == "Claude Opus 4.6"
    assert out["trend"]["forecasts"][0]["target"] == "100h"
    assert 0 <= out["trend"]["forecasts"][0]["probability_by"].popitem()[1] <= 1


def test_cli_runs_with_release_dates(
    make_rows: Callable[..., list[dict[str, Any]]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rows = make_rows({"a": 4.0, "b": 30.0, "c": 200.0})
    dates = {"a": "2023-01-01", "b": "2024-01-01", "c": "2025-01-01"}
    runs = tmp_path / "runs.jsonl"
    runs.write_text(
        "".join(json.dumps({**r, "release_date": dates[r["alias"]]}) + "\n" for r in rows)
    )
    curves = tmp_path / "c.png"
    argv = ["horizon", str(runs), "--bootstrap", "50", "--curves", str(curves), "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert [a["agent"] for a in out["agents"]] == ["a", "b", "c"]
    assert out["trend"]["doubling_days"] > 0
    assert curves.read_bytes()[:8] == PNG
    assert main(["horizon", str(runs), "--bootstrap", "20"]) == 0
    assert "Time horizons" in capsys.readouterr().out


def test_cli_user_errors_exit_2_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task_id": "x"}\n')
    assert main(["horizon", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "missing field(s)" in err and "Traceback" not in err
    assert main(["horizon"]) == 2
    assert "--published" in capsys.readouterr().err
    assert main(["horizon", "--published", "--target", "soon"]) == 2
    assert "cannot read duration" in capsys.readouterr().err


def test_cli_metr_file(metr_runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    alone = tmp_path / metr_runs.name  # without the release_dates.yaml that lies beside it
    alone.write_bytes(metr_runs.read_bytes())
    assert main(["horizon", str(alone), "--bootstrap", "20", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    by = {a["agent"]: a for a in out["agents"]}
    assert round(by["o1"]["weighted_success"], 4) == 0.4693
    assert by["davinci-002"]["horizons"][0]["minutes"] is None
    assert "no trend" in out["trend_error"]
    # in place, the release dates beside the runs file are found: a trend
    assert main(["horizon", str(metr_runs), "--bootstrap", "20", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["release_dates_file"] == str(metr_runs.parent / "release_dates.yaml")
    assert "trend" in out and "trend_error" not in out


def test_frontier_chart_labels_dotted_line_and_extrapolation() -> None:
    from rubicon.analytics.plots import _draw_frontier, _pyplot

    pts = published_points()
    tr = fit_trend(frontier(pts))
    fig, ax, _, labels = _draw_frontier(pts, tr, dt.date(2028, 1, 1), [6000.0], "t", None)
    try:
        renderer = fig.canvas.get_renderer()
        boxes = [lab.get_window_extent(renderer) for lab in labels]
        assert len(labels) == len(frontier(pts))
        clashes = [(labels[i].get_text(), labels[j].get_text())
                   for i in range(len(boxes)) for j in range(i) if boxes[i].overlaps(boxes[j])]
        assert not clashes
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert any(t.startswith("last frontier release (2026-02-05)") for t in legend)
        assert "trend extrapolated past the last frontier model" in legend
        styles = {line.get_label(): line.get_linestyle() for line in ax.get_lines()}
        assert styles["trend extrapolated past the last frontier model"] == "--"
        assert [s for k, s in styles.items() if k.startswith("exponential trend")] == ["-"]
    finally:
        _pyplot().close(fig)


def test_success_curves_have_an_interval_band(make_rows: Callable[..., list[dict[str, Any]]],
                                              tmp_path: Path) -> None:
    from matplotlib.collections import PolyCollection

    from rubicon.analytics import plots

    recs = records_from_rows(make_rows({"a": 30.0, "b": 3.0}))
    rep = estimate_horizons(recs, n_bootstrap=100)
    seen: list[Any] = []
    real_save = plots._save

    def keep(fig: Any, path: Any) -> Path:
        seen.extend(fig.axes)
        return real_save(fig, path)

    plots._save = keep  # type: ignore[assignment]
    try:
        plot_success_curves(recs, rep, tmp_path / "c.png")
    finally:
        plots._save = real_save  # type: ignore[assignment]
    bands = [ax for ax in seen if any(isinstance(c, PolyCollection) for c in ax.collections)]
    assert len(bands) == 2


def test_interactive_html_chart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "f.html"
    assert main(["horizon", "--published", "--plot", str(out), "--bootstrap", "200"]) == 0
    page = out.read_text()
    assert page.startswith("<!doctype html>") and "<svg" in page and "http://" not in page.split(
        "<svg", 1)[0]
    for p in published_points(since=dt.date(2022, 1, 1)):
        assert f"<title>{p.name}" in page.replace("&#x27;", "'")
    assert page.count("<tr><td>") == len(published_points(since=dt.date(2022, 1, 1)))
