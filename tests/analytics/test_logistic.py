from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from rubicon.analytics import LogisticFit, fit_logistic
from rubicon.analytics.logistic import fit_logistic_batch


def test_recovers_known_curve_without_regularization() -> None:
    rng = np.random.default_rng(1)
    minutes = np.geomspace(0.5, 1000, 40000)
    true = LogisticFit(intercept=4.0, slope=-0.9)
    y = (rng.random(minutes.size) < true.success(minutes)).astype(float)
    fit = fit_logistic(minutes, y, regularization=0.0)
    assert fit.intercept == pytest.approx(4.0, abs=0.08)
    assert fit.slope == pytest.approx(-0.9, abs=0.02)
    assert fit.horizon(0.5) == pytest.approx(true.horizon(0.5), rel=0.1)


def test_matches_generic_optimizer_with_weights_and_penalty() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(3, 2, 300)
    y = (rng.random(300) < 1 / (1 + np.exp(-(1 - 0.7 * x)))).astype(float)
    y[:20] = 0.3  # fractional scores are allowed
    w = rng.random(300)
    w /= w.sum()
    lam = 0.1

    def obj(p: np.ndarray) -> float:
        eta = p[0] + p[1] * x
        return float(np.sum(w * (np.logaddexp(0, eta) - y * eta)) + 0.5 * lam * p[1] ** 2)

    ref = minimize(obj, np.zeros(2), method="BFGS", options={"gtol": 1e-12}).x
    a, b, ok = fit_logistic_batch(x, y, np.stack([w, w * 2]), lam)
    assert ok.all()
    assert a[0] == pytest.approx(ref[0], abs=1e-5)
    assert b[0] == pytest.approx(ref[1], abs=1e-5)
    assert a[1] != pytest.approx(a[0], abs=1e-5)  # doubling weights halves the penalty's pull


def test_horizon_formula_and_flat_slope() -> None:
    fit = LogisticFit(intercept=2.0, slope=-1.0)  # p = 0.5 at log2 m = 2 -> 4 minutes
    assert fit.horizon(0.5) == pytest.approx(4.0)
    # p = 0.8: logit 0.8 = ln 4 -> log2 m = 2 - ln 4
    assert fit.horizon(0.8) == pytest.approx(2 ** (2 - np.log(4)))
    assert LogisticFit(0.0, 0.1).horizon(0.5) is None
    assert float(fit.success([4.0])[0]) == pytest.approx(0.5)
