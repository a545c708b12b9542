"""The returns meter: trends of synthetic lineages (increasing, decreasing, flat), costs and
cumulative alignment, a real campaign's promotions, the CLI and the report's chart."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from rubicon.analytics.returns import DECREASING, INCREASING, TOO_FEW, UNDECIDED, Step, trend
from rubicon.cli.main import main
from rubicon.lineage.audit import AUDIT_FILE, AuditLog
from rubicon.lineage.records import Cost, Generation, Interval
from rubicon.lineage.returns import campaign_returns, lineage_returns

from . import _campaign


@pytest.fixture(scope="module")
def campaign_dir() -> Iterator[Path]:
    yield from _campaign.steps_campaign()


def lineage(gains: list[float], spread: float = 0.2, rate: float | None = 0.9,
            rejected: dict[int, float] | None = None) -> list[Generation]:
    """Generation 0 and one promoted generation per gain (interval gain * (1 -/+ spread)); a
    rejected sibling costing `rejected[k]` seconds before generation k."""
    gens = [Generation(lineage="L", generation=0, parent=None, program_hash="h0", status="promoted",
                       capability=Interval(value=0.2, lo=0.15, hi=0.25))]
    cap, parent, n = 0.2, 0, 1
    for k, g in enumerate(gains, start=1):
        if rejected and k in rejected:
            gens.append(Generation(lineage="L", generation=n, parent=parent, program_hash="r",
                                   status="rejected", cost=Cost(wall_seconds=rejected[k], runs=7)))
            n += 1
        cap += g
        gens.append(Generation(
            lineage="L", generation=n, parent=parent, program_hash=f"h{n}", status="promoted",
            capability=Interval(value=cap), honeypot_pass_rate=rate,
            gain=Interval(value=g, lo=g * (1 - spread), hi=g * (1 + spread)),
            cost=Cost(wall_seconds=1800, runs=10, tokens=100)))
        parent, n = n, n + 1
    return gens


@pytest.mark.parametrize(("gains", "verdict", "ratio"), [
    ([0.01, 0.02, 0.04, 0.08], INCREASING, 2.0),
    ([0.08, 0.04, 0.02, 0.01], DECREASING, 0.5),
    ([0.05, 0.05, 0.05, 0.05], UNDECIDED, 1.0),
])
def test_synthetic_lineages_get_the_right_verdict(gains: list[float], verdict: str,
                                                  ratio: float) -> None:
    r = lineage_returns(lineage(gains), bootstrap=1000)
    assert r.gain.verdict == verdict
    assert r.gain.ratio is not None and r.gain.slope is not None
    assert r.gain.ratio.value == pytest.approx(ratio)
    assert r.gain.slope.value == pytest.approx(math.log(ratio), abs=1e-9)
    assert r.gain.ratio.lo is not None and r.gain.ratio.hi is not None
    assert r.gain.ratio.lo < ratio < r.gain.ratio.hi
    assert r.gain.ratios == pytest.approx([b / a for a, b in zip(gains, gains[1:], strict=False)])
    # the same hours per generation: gain per hour follows the gains
    assert r.per_hour.verdict == verdict
    assert [row.gain_per_hour for row in r.rows[1:]] == pytest.approx([g * 2 for g in gains])


def test_wide_intervals_are_not_distinguishable() -> None:
    r = lineage_returns(lineage([0.02, 0.03, 0.045], spread=0.95), bootstrap=1000)
    assert r.gain.verdict == UNDECIDED
    assert r.gain.slope is not None and r.gain.slope.value > 0
    assert r.gain.slope.lo is not None and r.gain.slope.lo < 0


def test_gains_at_or_below_zero_are_floored_and_widen_the_interval() -> None:
    def last(gain: float, lo: float, hi: float) -> Step:
        return Step("c", 3, gain, lo, hi)

    head = [Step("a", 1, 0.1, 0.05, 0.15), Step("b", 2, 0.1, 0.05, 0.15)]
    small = trend([*head, last(0.04, 0.02, 0.06)], bootstrap=500)
    gone = trend([*head, last(-0.01, -0.06, 0.04)], bootstrap=500)
    assert "floored at 0.001" in gone.method
    assert gone.ratios[1] == pytest.approx(-0.1) and gone.verdict == DECREASING
    for t in (small, gone):
        assert t.slope is not None and t.slope.lo is not None and t.slope.hi is not None
    assert small.slope and gone.slope and small.slope.lo and small.slope.hi
    assert gone.slope.hi - (gone.slope.lo or 0) > 2 * (small.slope.hi - small.slope.lo)
    after_zero = trend([Step("a", 1, -0.1, -0.2, 0.0), Step("b", 2, 0.1, 0.05, 0.15)], bootstrap=100)
    assert after_zero.ratios == [None]


def test_too_few_and_fixed_gains() -> None:
    assert lineage_returns(lineage([0.1])).gain.verdict == TOO_FEW
    assert lineage_returns(lineage([])).gain.verdict == TOO_FEW
    fixed = trend([Step("a", 1, 0.1), Step("b", 2, 0.05)])
    assert fixed.verdict == UNDECIDED and "no gain has an interval" in fixed.method
    one = trend([Step("a", 1, 0.1), Step("b", 2, 0.05, 0.04, 0.06)], bootstrap=200)
    assert "1 of 2 gains have no interval and are held fixed" in one.method


def test_costs_include_rejected_siblings_and_alignment_compounds() -> None:
    gens = lineage([0.1, 0.05, 0.02], rate=0.9, rejected={2: 3600.0})
    r = lineage_returns(gens, bootstrap=200)
    by_label = {row.label: row for row in r.rows}
    assert [row.status for row in r.rows] == ["promoted", "promoted", "rejected", "promoted",
                                              "promoted"]
    assert by_label["gen 3"].hours == pytest.approx(1.5)  # its own 0.5 h + the rejected 1 h
    assert by_label["gen 3"].runs == 17
    assert by_label["gen 1"].hours == pytest.approx(0.5) and by_label["gen 1"].tokens == 100
    assert by_label["gen 2"].alignment is None  # rejected: not in the product
    assert [by_label[g].alignment for g in ("gen 1", "gen 3", "gen 4")] == pytest.approx(
        [0.9, 0.81, 0.729])
    assert r.alignment == pytest.approx(0.729)
    assert [s.index for s in r.steps] == [1, 3, 4]
    assert not r.notes
    partial = lineage_returns(lineage([0.1, 0.05], rate=None), bootstrap=100)
    assert partial.alignment is None and "without a honeypot pass rate" in partial.notes[0]


def test_lineage_cli_reads_the_audit_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = AuditLog(tmp_path / AUDIT_FILE)
    for g in lineage([0.08, 0.04, 0.02]):
        log.append("start" if g.generation == 0 else "proposal", g.generation,
                   g.model_copy(update={"status": "proposed"}) if g.generation else g)
        if g.generation:
            log.append("promotion", g.generation, g)
    png = tmp_path / "out" / "returns.png"
    assert main(["returns", str(tmp_path), "--json", "--plot", str(png), "--bootstrap", "300"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["kind"] == "lineage" and doc["gain_trend"]["verdict"] == DECREASING
    assert [row["status"] for row in doc["rows"]] == ["promoted"] * 4
    assert doc["cumulative_alignment"] == pytest.approx(0.9 ** 3)
    assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 10_000
    assert main(["returns", str(tmp_path / AUDIT_FILE), "--bootstrap", "300"]) == 0
    out = capsys.readouterr().out
    assert "decreasing" in out and "cumulative alignment" in out and "0.729" in out


def test_cli_refuses_a_tampered_log_and_bad_flags(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    log = AuditLog(tmp_path / AUDIT_FILE)
    for g in lineage([0.1, 0.05]):
        log.append("promotion", g.generation, g)
    lines = log.path.read_text().splitlines()
    lines[1] = lines[1].replace('"honeypot_pass_rate":0.9', '"honeypot_pass_rate":1.0')
    log.path.write_text("\n".join(lines) + "\n")
    assert main(["returns", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "fails verification" in err and "seq 1" in err and "edited" in err
    assert main(["returns", str(tmp_path), "--plot", "x.svg"]) == 2
    assert "--plot=x.svg: allowed: a file name ending in .png" in capsys.readouterr().err
    assert main(["returns", str(tmp_path), "--ci", "1.5"]) == 2
    assert "--ci=1.5" in capsys.readouterr().err
    assert main(["returns", "nope", "--dir", str(tmp_path / "empty")]) == 2
    assert "rubicon: error:" in capsys.readouterr().err


def test_a_real_campaign_shows_shrinking_gains(campaign_dir: Path) -> None:
    r = campaign_returns(campaign_dir, bootstrap=300)
    assert r.kind == "campaign" and "score-steps" in r.name
    assert [row.status for row in r.rows] == ["baseline", "promoted", "promoted", "promoted"]
    assert [row.value.value for row in r.rows if row.value] == pytest.approx([1.0, 1.5, 2.0, 2.25])
    # deterministic scores: the paired ratios are exact
    assert [s.gain for s in r.steps] == pytest.approx([0.5, 1 / 3, 0.125], rel=1e-6)
    assert r.gain.verdict == DECREASING
    assert r.gain.ratios == pytest.approx([2 / 3, 0.375], rel=1e-6)
    assert all(row.hours is not None and row.hours > 0 for row in r.rows[1:])
    assert [row.runs for row in r.rows] == [1, 1, 1, 1]  # one experiment finished per step
    assert r.rows[1].gain_per_hour == pytest.approx(0.5 / (r.rows[1].hours or 1), rel=1e-6)


def test_campaign_cli_and_report_chart(campaign_dir: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["returns", "--dir", str(campaign_dir), "--bootstrap", "200"]) == 0
    out = capsys.readouterr().out
    assert "score-steps" in out and "decreasing" in out and "promoted" in out
    assert main(["returns", str(campaign_dir), "--json", "--bootstrap", "200"]) == 0
    assert json.loads(capsys.readouterr().out)["gain_trend"]["n"] == 3
    from rubicon.report import write_report

    html = write_report(campaign_dir, out=tmp_path / "index.html").read_text()
    assert 'id="plot-returns"' in html
    assert "3 promotion(s) with a gain over the incumbent they replaced; returns decreasing" in html
    assert (tmp_path / "returns.png").stat().st_size > 10_000


def test_report_band_of_a_maximized_objective_holds_the_candidate(campaign_dir: Path) -> None:
    from rubicon.report import campaign_view, open_read_only

    store = open_read_only(campaign_dir)
    view = campaign_view(store)
    store.close()
    for row in view.rows[1:]:
        assert row.ci_low is not None and row.ci_high is not None and row.objective is not None
        assert row.ci_low == pytest.approx(row.objective, rel=1e-6)  # exact scores: a point band
        assert row.ci_high == pytest.approx(row.objective, rel=1e-6)
