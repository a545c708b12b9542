from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rubicon.analytics import (
    estimate_horizons,
    get_settings,
    hierarchical_counts,
    load_runs,
    records_from_rows,
)
from rubicon.analytics.settings import PRESETS
from rubicon.errors import AnalyticsError


def test_synthetic_horizons_recovered_with_intervals(
    make_rows: Callable[..., list[dict[str, Any]]],
) -> None:
    rows = make_rows({"fast": 120.0, "slow": 8.0}, n_families=30, runs_per_task=10)
    rep = estimate_horizons(records_from_rows(rows), "metr-low-reg", n_bootstrap=200, seed=1)
    for name, true in (("fast", 120.0), ("slow", 8.0)):
        h = rep.agent(name).horizon(0.5)
        assert h.minutes is not None and h.ci_low is not None and h.ci_high is not None
        assert true / 2 < h.minutes < true * 2
        assert h.ci_low < true < h.ci_high
        assert h.ci_low < h.minutes < h.ci_high
        h80 = rep.agent(name).horizon(0.8)
        assert h80.minutes is not None and h80.minutes < h.minutes
    assert rep.agent("fast").samples is not None
    assert rep.agent("fast").samples.shape == (200, 2)


def test_same_seed_same_answer_and_no_bootstrap(
    make_rows: Callable[..., list[dict[str, Any]]],
) -> None:
    recs = records_from_rows(make_rows({"a": 30.0}))
    r1 = estimate_horizons(recs, n_bootstrap=50, seed=3).agent("a").horizon()
    r2 = estimate_horizons(recs, n_bootstrap=50, seed=3).agent("a").horizon()
    assert r1 == r2
    r0 = estimate_horizons(recs, n_bootstrap=0).agent("a").horizon()
    assert r0.minutes == r1.minutes and r0.ci_low is None and r0.ci_high is None


def test_no_successes_and_no_failures_are_not_numbers(
    make_rows: Callable[..., list[dict[str, Any]]],
) -> None:
    rows = make_rows({"a": 30.0})
    rows += [{**r, "alias": "zero", "score_binarized": 0} for r in rows if r["alias"] == "a"]
    rows += [{**r, "alias": "all", "score_binarized": 1} for r in rows if r["alias"] == "a"]
    rep = estimate_horizons(records_from_rows(rows), n_bootstrap=20)
    zero, full = rep.agent("zero"), rep.agent("all")
    assert zero.fit is None and zero.horizon(0.5).minutes is None
    assert "no successes" in (zero.horizon(0.5).reason or "")
    assert full.horizon(0.8).minutes is None
    assert "no failures" in (full.horizon(0.8).reason or "")
    assert zero.weighted_success == 0.0 and full.weighted_success == pytest.approx(1.0)


def test_single_family_is_reported(make_rows: Callable[..., list[dict[str, Any]]]) -> None:
    rows = make_rows({"a": 30.0}, n_families=1, tasks_per_family=20)
    rep = estimate_horizons(records_from_rows(rows), n_bootstrap=20)
    assert any("only one task family" in n for n in rep.notes)
    assert rep.agent("a").horizon().minutes is not None


def test_single_task_length_cannot_be_fit() -> None:
    rows = [
        {
            "task_id": f"t{i}",
            "task_family": "f",
            "alias": "a",
            "human_minutes": 5.0,
            "score_binarized": i % 2,
        }
        for i in range(6)
    ]
    h = estimate_horizons(records_from_rows(rows), n_bootstrap=10).agent("a").horizon()
    assert h.minutes is None and "same task length" in (h.reason or "")


def test_hierarchical_counts_structure(make_rows: Callable[..., list[dict[str, Any]]]) -> None:
    recs = records_from_rows(make_rows({"a": 30.0, "b": 3.0}, runs_per_task=3))
    c = hierarchical_counts(recs, 100, np.random.default_rng(0))
    assert c.shape == (100, len(recs))
    for agent in ("a", "b"):
        m = recs.agent == agent
        # each drawn task instance brings as many runs as the task had for that agent
        tasks = np.unique(recs.task)
        per_task = np.stack([c[:, m & (recs.task == t)].sum(axis=1) for t in tasks], axis=1)
        assert np.all(per_task % 3 == 0)
    # joint across agents: both agents draw the same tasks
    ta = np.stack([c[:, (recs.agent == "a") & (recs.task == t)].sum(1) for t in tasks], 1)
    tb = np.stack([c[:, (recs.agent == "b") & (recs.task == t)].sum(1) for t in tasks], 1)
    np.testing.assert_array_equal(ta, tb)
    fixed = hierarchical_counts(recs, 5, np.random.default_rng(0), levels="")
    assert np.all(fixed == 1)


def test_settings_presets_and_validation(make_rows: Callable[..., list[dict[str, Any]]]) -> None:
    assert PRESETS["metr-2025"].regularization == 0.1
    assert PRESETS["metr-2025"].weighting == "invsqrt"
    assert PRESETS["metr-low-reg"].regularization < 0.1
    s = get_settings("metr-2025", regularization=0.5)
    assert s.name == "custom" and s.regularization == 0.5
    with pytest.raises(AnalyticsError, match="metr-2025"):
        get_settings("nope")
    with pytest.raises(AnalyticsError, match=">= 0"):
        get_settings("metr-2025", regularization=-1)
    recs = records_from_rows(make_rows({"a": 30.0}))
    with pytest.raises(AnalyticsError, match="levels"):
        estimate_horizons(recs, levels=(1.5,))


def test_metr_file(metr_runs: Path) -> None:
    recs = load_runs(metr_runs)
    rep = estimate_horizons(recs, "metr-2025", n_bootstrap=100, seed=0)
    assert rep.agent("davinci-002").horizon(0.5).minutes is None
    # three successes: the fit lands far below every task, so no number is reported
    gpt35 = rep.agent("gpt-3.5-turbo-instruct").horizon(0.5)
    assert gpt35.minutes is None and "not estimable" in (gpt35.reason or "")
    o1 = rep.agent("o1").horizon(0.5)
    assert o1.minutes is not None and o1.ci_low is not None and o1.ci_high is not None
    assert 5 < o1.minutes < 300 and o1.ci_low < o1.minutes < o1.ci_high
    new = rep.agent("Claude 3.5 Sonnet (New)").horizon(0.5).minutes
    old = rep.agent("GPT-4 0314").horizon(0.5).minutes
    assert new is not None and old is not None and new > old
    lowreg = estimate_horizons(recs, "metr-low-reg", n_bootstrap=0)
    assert lowreg.agent("o1").horizon(0.5).minutes != o1.minutes
