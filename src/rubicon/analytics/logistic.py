"""Weighted, L2-regularised logistic regression of success on log2(human minutes).

The fit is vectorised: many weight vectors (e.g. bootstrap samples) over the same x and y are
fitted at once with a damped Newton method on the two parameters (intercept, slope).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class LogisticFit:
    """P(success) = sigmoid(intercept + slope * log2(minutes)).

    Attributes:
        intercept: log-odds of success at a 1-minute task.
        slope: change in log-odds per doubling of task length (negative when longer is harder).
    """

    intercept: float
    slope: float

    def success(self, minutes: npt.ArrayLike) -> Array:
        """Predicted success probability at the given task lengths (minutes)."""
        x = np.log2(np.asarray(minutes, dtype=np.float64))
        return np.asarray(1.0 / (1.0 + np.exp(-(self.intercept + self.slope * x))))

    def horizon(self, p: float = 0.5) -> float | None:
        """Task length (minutes) with predicted success ``p``; None if slope >= 0."""
        if self.slope >= 0:
            return None
        return float(2.0 ** ((math.log(p / (1 - p)) - self.intercept) / self.slope))


def _objective(a: Array, b: Array, x: Array, y: Array, w: Array, lam: float) -> Array:
    eta = a[:, None] + b[:, None] * x[None, :]
    # softplus(eta) - y*eta, computed stably
    loss = np.logaddexp(0.0, eta) - y[None, :] * eta
    return np.asarray(np.sum(w * loss, axis=1) + 0.5 * lam * b * b)


def fit_logistic_batch(
    x: Array,
    y: Array,
    w: Array,
    regularization: float,
    max_iter: int = 100,
    tol: float = 1e-10,
) -> tuple[Array, Array, npt.NDArray[np.bool_]]:
    """Fit one logistic regression per row of ``w``.

    Minimises ``sum_i w_i [softplus(a + b x_i) - y_i (a + b x_i)] + regularization/2 * b**2``.
    Fractional ``y`` is allowed (equivalent to splitting a run into weighted 0 and 1 parts).

    Args:
        x: (n,) predictors, log2 minutes.
        y: (n,) success in [0, 1].
        w: (B, n) non-negative weights; each row is one fit.
        regularization: L2 penalty on the slope.
        max_iter: Newton iterations.
        tol: convergence tolerance on the parameter step.

    Returns:
        (intercepts (B,), slopes (B,), converged (B,)). Rows with all-zero or one-class weight
        have no finite optimum when ``regularization`` is 0 or only the intercept diverges;
        callers must screen those (see :func:`class_totals`).
    """
    w = np.atleast_2d(w)
    nb = w.shape[0]
    tot = w.sum(axis=1)
    pos = (w * y[None, :]).sum(axis=1)
    frac = np.clip(pos / np.where(tot > 0, tot, 1.0), 1e-6, 1 - 1e-6)
    a = np.log(frac / (1 - frac))
    b = np.zeros(nb)
    lam = float(regularization)
    done = np.zeros(nb, dtype=bool)
    obj = _objective(a, b, x, y, w, lam)
    for _ in range(max_iter):
        eta = a[:, None] + b[:, None] * x[None, :]
        p = 1.0 / (1.0 + np.exp(-eta))
        r = w * (p - y[None, :])
        ga = r.sum(axis=1)
        gb = (r * x[None, :]).sum(axis=1) + lam * b
        s = w * p * (1 - p)
        haa = s.sum(axis=1) + 1e-12
        hab = (s * x[None, :]).sum(axis=1)
        hbb = (s * (x * x)[None, :]).sum(axis=1) + lam + 1e-12
        det = haa * hbb - hab * hab
        det = np.where(det > 1e-300, det, 1e-300)
        da = (hbb * ga - hab * gb) / det
        db = (haa * gb - hab * ga) / det
        # damp huge steps, then backtrack until the objective does not increase
        scale = np.minimum(1.0, 10.0 / np.maximum(np.abs(da), np.abs(db)).clip(1e-300))
        step = np.where(done, 0.0, scale)
        for _ in range(30):
            na, nbv = a - step * da, b - step * db
            nobj = _objective(na, nbv, x, y, w, lam)
            worse = (nobj > obj + 1e-14 * np.abs(obj)) & (step > 0)
            if not worse.any():
                break
            step = np.where(worse, step / 2, step)
        small = step * np.maximum(np.abs(da), np.abs(db)) < tol
        a, b, obj = na, nbv, np.minimum(nobj, obj)
        done |= small
        if done.all():
            break
    return a, b, done


def fit_logistic(
    minutes: npt.ArrayLike,
    success: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
    regularization: float = 0.1,
) -> LogisticFit:
    """Fit success against log2(task minutes) (METR's time-horizon model).

    Args:
        minutes: human time per run's task, minutes (> 0).
        success: success per run in [0, 1].
        weights: per-run weights (default: equal, summing to 1).
        regularization: L2 penalty on the slope (METR headline: 0.1).

    Returns:
        The fitted curve.
    """
    x = np.log2(np.asarray(minutes, dtype=np.float64))
    y = np.asarray(success, dtype=np.float64)
    w = np.full(x.shape, 1.0 / len(x)) if weights is None else np.asarray(weights, np.float64)
    a, b, _ = fit_logistic_batch(x, y, w[None, :], regularization)
    return LogisticFit(float(a[0]), float(b[0]))


def horizon_log2(a: Array, b: Array, p: float, x_min: float) -> Array:
    """log2 horizon for arrays of fits; +inf/-inf when the slope is not negative."""
    logit = math.log(p / (1 - p))
    with np.errstate(divide="ignore", invalid="ignore"):
        h = (logit - a) / b
    flat_high = a + b * x_min >= logit
    return np.where(b < 0, h, np.where(flat_high, np.inf, -np.inf))
