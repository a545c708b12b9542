"""`rubicon report BENCH_DIR`: scores with intervals per researcher x task, every attempt's
best-score-versus-time curve, the horizon chart, every attempt with failures and their reasons;
self-contained; read in a real browser."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from rubicon import CampaignConfig
from rubicon.bench import AttemptResult, Bench
from rubicon.bench._attempt import save
from rubicon.bench._manifest import Segment
from rubicon.cli.main import main
from rubicon.task import resolve_task
from tests.report.conftest import artifact

LEVELS = ["2x", "3x", "4x", "6.8x", "7.5x", "reference"]


@pytest.fixture(scope="module")
def bench_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bench of 2 researchers x demo-inversions x 3 attempts, recorded as done (no campaign
    runs: the report reads manifests only), one attempt failed; its report."""
    tmp = tmp_path_factory.mktemp("bench-report")
    bench = Bench.create(tmp / "b", ["search", "search:sampler=random"],
                         [str(resolve_task("demo-inversions").dir)], attempts=3,
                         cfg=CampaignConfig(budget_seconds=120))
    for att in bench.attempts():
        t0 = 1000.0 * (att.index + 1)
        att.started_at, att.completed_at = t0, t0 + 100
        att.segments = [Segment(start=t0, end=t0 + 100, pid=1)]
        if att.researcher == "search:sampler=random" and att.index == 2:
            att.status, att.reason = "failed", "RuntimeError: the sampler <crashed>"
        else:
            top = 0.55 + 0.1 * att.index + (0.2 if att.researcher == "search" else 0)
            reached = sum(1 for s in (0.33, 0.5, 0.66, 0.9, 0.96, 1.0) if top >= s)
            att.status = "finished"
            att.result = AttemptResult(score=top, speedup=3.4 ** top, experiments=5,
                                       milestones={n: i < reached for i, n in enumerate(LEVELS)},
                                       curve=[(5.0, 0.0), (40.0, top / 2), (80.0, top)])
        save(bench.dir, att)
    out = tmp / "report" / "index.html"
    assert main(["report", str(bench.dir), "--out", str(out)]) == 0
    return out


def test_bench_report_contents(bench_report: Path) -> None:
    html = bench_report.read_text()
    assert '<b id="bench-hints">off</b>' in html and "answer key" in html
    scores = html.split('id="scores"')[1].split("</table>")[0]
    assert scores.count("<tr>") == 3  # header + 2 researcher x task rows
    assert re.search(r"0\.\d\d \[0\.\d\d, 0\.\d\d\]", scores)  # mean [low, high]
    assert "3x&nbsp;3/3" in scores and "6.8x&nbsp;1/3" in scores
    assert "3x&nbsp;2/3" in scores  # the failed attempt reaches no level
    attempts = html.split('id="attempts"')[1].split("</table>")[0]
    assert attempts.count("<tr ") == 6 and attempts.count('data-status="failed"') == 1
    assert "RuntimeError: the sampler &lt;crashed&gt;" in attempts  # escaped, shown
    assert html.count("data:image/png;base64,") == 2
    assert (bench_report.parent / "bench_curves.png").stat().st_size > 1000
    assert (bench_report.parent / "bench_horizon.png").stat().st_size > 1000
    horizons = html.split('id="horizons"')[1].split("</table>")[0]
    assert "search" in horizons and "search:sampler=random" in horizons


def _column(browser: Any, table: str, col: int) -> list[str]:
    return browser.execute_script(
        f"return Array.from(document.querySelectorAll('#{table} tbody tr')).map("
        f"function (r) {{ return r.cells[{col}].getAttribute('data-v') || "
        f"r.cells[{col}].textContent.trim(); }});")


def test_bench_report_in_a_browser(bench_report: Path, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    browser.get(bench_report.as_uri())
    assert "rubicon bench" in browser.title
    assert browser.find_element(By.ID, "bench-hints").text == "off"
    widths = browser.execute_script(
        "return Array.from(document.images).map(function (i) { return i.naturalWidth; });")
    assert len(widths) == 2 and all(w > 100 for w in widths)  # curves and horizon decoded
    assert browser.find_element(By.ID, "plot-curves").is_displayed()
    assert browser.find_element(By.ID, "plot-horizon").is_displayed()
    headers = browser.find_elements(By.CSS_SELECTOR, "#attempts thead th")
    col = [h.text.strip() for h in headers].index("score")
    headers[col].click()
    values = [float(v) for v in _column(browser, "attempts", col)]
    assert values == sorted(values) and values[0] == 0.0  # the failed attempt scores 0
    failed = browser.find_element(By.CSS_SELECTOR, '#attempts tr[data-status="failed"]')
    assert "the sampler <crashed>" in failed.text
    browser.save_screenshot(str(artifact("bench_report.png")))
