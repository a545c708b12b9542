from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from rubicon.analytics import (
    WORK_MONTH_MINUTES,
    ModelPoint,
    fit_trend,
    frontier,
    load_published,
    parse_duration,
    published_points,
)
from rubicon.errors import AnalyticsError

D0 = dt.date(2022, 1, 1)


def _exact(doubling: float, n: int = 8) -> list[ModelPoint]:
    return [
        ModelPoint(f"m{i}", D0 + dt.timedelta(days=100 * i), 2.0 ** (100 * i / doubling))
        for i in range(n)
    ]


def test_exact_exponential_doubling_and_crossing() -> None:
    tr = fit_trend(_exact(200.0), n_bootstrap=200, method="metr")
    assert tr.doubling_days.value == pytest.approx(200.0)
    assert tr.r_squared == pytest.approx(1.0)
    # 1 minute at D0, doubling every 200 days -> 1024 minutes after 2000 days
    est, lo, hi = tr.crossing(1024.0)
    assert est == D0 + dt.timedelta(days=2000)
    assert lo == est == hi  # no uncertainty in the points -> no spread
    assert tr.predict(D0 + dt.timedelta(days=400)) == pytest.approx(4.0)
    assert tr.probability_by(1024.0, D0 + dt.timedelta(days=1999)) == 0.0
    assert tr.probability_by(1024.0, D0 + dt.timedelta(days=2001)) == 1.0


def test_noisy_points_give_intervals_and_monotone_probability() -> None:
    pts = [
        ModelPoint(p.name, p.release_date, p.minutes, p.minutes / 2, p.minutes * 2)
        for p in _exact(150.0)
    ]
    tr = fit_trend(pts, n_bootstrap=500, seed=0)
    dd = tr.doubling_days
    assert dd.low is not None and dd.high is not None and dd.low < 150.0 < dd.high
    probs = [tr.probability_by(6000.0, D0 + dt.timedelta(days=d)) for d in (1500, 1900, 2500)]
    assert probs == sorted(probs) and probs[0] < 0.5 < probs[-1]
    _, low, high = tr.band([D0 + dt.timedelta(days=3000)])
    assert low[0] < tr.predict(D0 + dt.timedelta(days=3000)) < high[0]


def test_joint_samples_are_used() -> None:
    pts = _exact(100.0, n=4)
    samples = np.tile([p.minutes for p in pts], (50, 1))
    tr = fit_trend(pts, samples=samples, method="metr")
    assert tr.samples.shape == (50, 2)
    np.testing.assert_allclose(1 / tr.samples[:, 1], 100.0)
    with pytest.raises(AnalyticsError, match="shape"):
        fit_trend(pts, samples=samples[:, :2])


def test_frontier_is_state_of_the_art_at_release() -> None:
    pts = [
        ModelPoint("a", D0, 1.0),
        ModelPoint("b", D0 + dt.timedelta(days=10), 0.5),
        ModelPoint("c", D0 + dt.timedelta(days=20), 2.0),
        ModelPoint("d", D0 + dt.timedelta(days=20), 1.5),
    ]
    assert [p.name for p in frontier(pts)] == ["a", "c", "d"]


def test_trend_needs_two_dates() -> None:
    with pytest.raises(AnalyticsError, match="two different release dates"):
        fit_trend([ModelPoint("a", D0, 1.0)])


def test_parse_duration() -> None:
    assert parse_duration("100h") == 6000.0
    assert parse_duration("1 work-month") == WORK_MONTH_MINUTES == 167 * 60
    assert parse_duration("30 s") == 0.5
    with pytest.raises(AnalyticsError, match="work-month"):
        parse_duration("a fortnight")


def test_published_table_spans_the_frontier() -> None:
    rows = load_published()
    assert len(rows) >= 20
    assert all(r.source.startswith("METR") for r in rows)
    assert all(r.p50_low <= r.p50 <= r.p50_high for r in rows)
    pts = published_points(since=dt.date(2022, 1, 1))
    front = frontier(pts)
    first, last = front[0], front[-1]
    assert first.release_date.year == 2022 and 0.3 < first.minutes < 1.0  # ~30 seconds
    assert last.release_date.year == 2026 and 600 < last.minutes < 800  # ~12 hours
    tr = fit_trend(front, seed=0)
    dd = tr.doubling_days
    assert dd.value is not None and 90 < dd.value < 250
    est, _, _ = tr.crossing(parse_duration("100h"))
    assert est is not None and est > last.release_date
