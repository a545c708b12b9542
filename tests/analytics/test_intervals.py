"""Interval rules (issue 24, items 1-3 and 11): METR's trend and per-agent rules, exact reasons."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pytest

from rubicon.analytics import (
    ModelPoint,
    agent_points,
    estimate_horizons,
    fit_trend,
    frontier,
    get_settings,
    load_release_dates,
    load_runs,
)
from rubicon.analytics._intervals import Resamples, censored_interval, metr_interval
from rubicon.analytics.horizon import _point_note
from rubicon.analytics.settings import PRESETS

D0 = dt.date(2023, 1, 1)


def _points(n: int = 5, doubling: float = 150.0) -> list[ModelPoint]:
    return [ModelPoint(f"m{i}", D0 + dt.timedelta(days=120 * i), 2.0 ** (120 * i / doubling))
            for i in range(n)]


def test_metr_trend_rule_keeps_models_fixed_and_drops_non_growing_samples() -> None:
    pts = _points()
    base = np.array([p.minutes for p in pts])
    rng = np.random.default_rng(0)
    samples = base[None, :] * np.exp2(rng.normal(0, 0.3, (400, len(pts))))
    samples[:10] = base[::-1]  # ten resamples in which the trend falls
    samples[10, 2] = np.nan  # a model without a horizon in one resample: refit without it
    samples[11, 3] = 1e-4  # under METR's 0.001-minute floor: dropped too
    tr = fit_trend(pts, samples=samples, method="metr")
    dd = tr.doubling_days
    assert dd.low is not None and dd.high is not None and dd.low < 150 < dd.high
    assert "10 of 400 resamples with a non-positive slope left out" in (dd.note or "")
    # sample 10 is the least-squares fit to the other four models
    keep = [0, 1, 3, 4]
    t = np.array([(p.release_date - dt.date(1970, 1, 1)).days for p in pts], float)[keep]
    slope = np.polyfit(t, np.log2(samples[10, keep]), 1)[0]
    assert tr.samples[10, 1] == pytest.approx(slope)
    # METR's percentile of the growing samples' doubling times
    pos = tr.samples[:, 1] > 0
    assert dd.low == pytest.approx(np.percentile(1 / tr.samples[pos, 1], 2.5))
    # the other rule resamples models and counts falling trends as infinite doubling times
    wide = fit_trend(pts, samples=samples, method="resample-models").doubling_days
    assert wide.high is None or wide.high > dd.high


def test_presets_default_to_metr_rules_and_keep_the_others_by_name() -> None:
    for name in ("metr-2025", "metr-low-reg"):
        assert PRESETS[name].trend_ci == "metr" and PRESETS[name].horizon_ci == "metr"
    s = get_settings("metr-2025", horizon_ci="censored", trend_ci="resample-models")
    assert (s.horizon_ci, s.trend_ci, s.name) == ("censored", "resample-models", "custom")
    with pytest.raises(Exception, match="resample-models"):
        get_settings("metr-2025", trend_ci="bogus")


def test_flat_resamples_keep_the_formula_value_under_metr_rule() -> None:
    # resample 0 has a positive slope: METR's code keeps (logit(p) - a) / b, here log2 h = 2
    a = np.array([-2.0, 4.0, 4.0, 4.0])
    b = np.array([1.0, -1.0, -1.0, -1.0])
    r = Resamples(a, b, np.zeros(4, bool), np.zeros(4, bool), x_min=0.0)
    _, _, note, h = metr_interval(r, 0.5, 0.95)
    assert h[0] == pytest.approx(4.0) and h[1] == pytest.approx(16.0)
    assert "1 resample(s) with slope >= 0 kept at the formula's value" in (note or "")
    _, _, _, hc = censored_interval(r, 0.5, 0.95)
    assert hc[0] == 0.0  # the censored rule: flat and below 50% everywhere -> horizon 0


def test_metr_rule_leaves_out_one_class_resamples() -> None:
    nb = 100
    a = np.full(nb, 4.0)
    b = np.full(nb, -1.0)
    no_s = np.zeros(nb, bool)
    no_s[:30] = True
    r = Resamples(np.where(no_s, np.nan, a), np.where(no_s, np.nan, b), no_s,
                  np.zeros(nb, bool), 0.0)
    lo, hi, note, h = metr_interval(r, 0.5, 0.95)
    assert np.isnan(h[:30]).all() and lo == pytest.approx(16.0) and hi == pytest.approx(16.0)
    assert "CI over 70 of 100 resamples (30 without successes left out" in (note or "")


def test_censored_reason_names_what_actually_happened() -> None:
    # 200 resamples, none without successes, 9 with a positive slope and success below 50%
    nb = 200
    a = np.full(nb, 4.0)
    b = np.full(nb, -1.0)
    a[:9], b[:9] = -3.0, 0.2
    r = Resamples(a, b, np.zeros(nb, bool), np.zeros(nb, bool), x_min=0.0)
    lo, hi, note, _ = censored_interval(r, 0.5, 0.95)
    assert lo is None and hi is not None
    assert "9 of 200 resamples put the horizon at 0 (0 had no successes, 9 a slope >= 0" \
        in (note or "")
    assert "many resamples had no successes" not in (note or "")


def test_knife_edge_says_the_exact_ratio() -> None:
    est, note = _point_note(0.09999, 1.0, 500.0)
    assert est is None
    assert "0.09999 min" in (note or "") and "10.001x below the shortest task" in (note or "")
    assert _point_note(0.1, 1.0, 500.0)[0] == pytest.approx(0.1)  # exactly 10x: reported


def test_metr_file_rules(metr_runs: Path) -> None:
    recs = load_runs(metr_runs)
    rep = estimate_horizons(recs, "metr-2025", n_bootstrap=200, seed=0)
    o1 = rep.agent("o1")
    assert o1.fit_samples is not None and o1.samples is not None
    a, b = o1.fit_samples[:, 0], o1.fit_samples[:, 1]
    h = np.exp2((0.0 - a) / b)  # METR's formula for every fitted resample, any slope
    assert o1.horizon(0.5).ci_low == pytest.approx(float(np.nanquantile(h, 0.025)))
    cen = estimate_horizons(recs, get_settings("metr-2025", horizon_ci="censored"),
                            n_bootstrap=200, seed=0).agent("o1")
    if (b >= 0).any():  # flat resamples exist on this file: the two rules' bounds differ
        assert cen.horizon(0.5).ci_low != o1.horizon(0.5).ci_low
    eq = estimate_horizons(recs, "equal", n_bootstrap=0).agent("GPT-4 Turbo").horizon(0.8)
    # the knife edge of the issue: withheld, and the message shows it is just past 10x
    assert eq.minutes is None and eq.fitted_minutes is not None and eq.fitted_minutes < 0.1
    assert "puts it at 0.09999 min, 10.001x below the shortest task (1 min)" in (eq.reason or "")


def test_metr_file_trend_interval_is_metrs(metr_runs: Path) -> None:
    recs = load_runs(metr_runs)
    dates = load_release_dates(metr_runs.parent / "release_dates.yaml")
    rep = estimate_horizons(recs, "metr-2025", n_bootstrap=300, seed=0)
    pts, samples, _ = agent_points(rep, dates)
    front = frontier(pts)
    idx = [pts.index(p) for p in front]
    assert samples is not None
    metr = fit_trend(front, samples=samples[:, idx], method="metr").doubling_days
    old = fit_trend(front, samples=samples[:, idx], method="resample-models").doubling_days
    assert metr.value is not None and math.isclose(metr.value, 152, abs_tol=1)
    # METR's code reports 85-313 days here; the model-resampling rule was 2-5x wider
    assert metr.low is not None and metr.high is not None
    assert 60 < metr.low < 110 and 230 < metr.high < 420
    assert old.low is not None and old.low < metr.low / 1.5
