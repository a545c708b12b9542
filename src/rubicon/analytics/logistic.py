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
        eta = self.intercept + self.slope * x
        return np.asarray(0.5 * (1.0 + np.tanh(eta / 2)))  # the logistic, overflow-free

    def horizon(self, p: float = 0.5) -> float | None:
        """Task length (minutes) with predicted success ``p``; None if slope >= 0."""
        if self.slope >= 0:
            return None
        return float(2.0 ** ((math.log(p / (1 - p)) - self.intercept) / self.slope))


#: Newton steps smaller than this (max of |d intercept|, |d slope|) skip the objective check
NEWTON_ZONE = 0.05


def _sigmoid(a: Array, b: Array, x: Array) -> Array:
    """sigmoid(a + b x) per row, in place in one buffer (exp overflow gives exactly 0)."""
    out = np.multiply(b[:, None], x[None, :])
    out += a[:, None]
    np.negative(out, out=out)
    with np.errstate(over="ignore"):
        np.exp(out, out=out)
    out += 1.0
    np.reciprocal(out, out=out)
    return out


def _evaluate(
    a: Array, b: Array, x: Array, total: Array, success: Array, lam: float
) -> tuple[Array, Array]:
    """Objective per row and fitted probabilities, sharing one exp per element.

    softplus(eta) = max(eta, 0) + log1p(exp(-|eta|)) and sigmoid(eta) from the same
    exp(-|eta|): stable for any eta, and about half the cost of logaddexp + a second exp.
    """
    eta = a[:, None] + b[:, None] * x[None, :]
    e = np.exp(-np.abs(eta))
    loss = total * (np.maximum(eta, 0.0) + np.log1p(e)) - success * eta
    inv = 1.0 / (1.0 + e)
    p = np.where(eta >= 0, inv, e * inv)
    return np.asarray(loss.sum(axis=1) + 0.5 * lam * b * b), np.asarray(p)


def fit_logistic_stats(
    x: Array,
    total: Array,
    success: Array,
    regularization: float,
    max_iter: int = 100,
    tol: float = 1e-10,
    start: tuple[float, float] | None = None,
) -> tuple[Array, Array, npt.NDArray[np.bool_]]:
    """Fit one logistic regression per row from grouped data (weights per distinct x).

    Minimises ``sum_j [total_j softplus(a + b x_j) - success_j (a + b x_j)] + lam/2 b**2``,
    which equals the per-run objective when ``total_j`` is the weight of the runs at ``x_j``
    and ``success_j`` their weight x score.

    Args:
        x: (n,) distinct predictors, log2 minutes.
        total: (B, n) non-negative weights per predictor value; each row is one fit.
        success: (B, n) weight x score per predictor value (0 <= success <= total).
        regularization: L2 penalty on the slope.
        max_iter: Newton iterations.
        tol: convergence tolerance on the parameter step.
        start: starting (intercept, slope) for every row, e.g. the fit to the original data
            when the rows are its bootstrap resamples (fewer Newton steps; the objective is
            convex, so the optimum does not depend on the start).

    Returns:
        (intercepts (B,), slopes (B,), converged (B,)). Rows with all-zero or one-class weight
        have no finite optimum when ``regularization`` is 0 or only the intercept diverges;
        callers must screen those.
    """
    total = np.atleast_2d(total)
    success = np.atleast_2d(success)
    nb = total.shape[0]
    if start is not None:
        a = np.full(nb, float(start[0]))
        b = np.full(nb, float(start[1]))
    else:
        tot = total.sum(axis=1)
        pos = success.sum(axis=1)
        frac = np.clip(pos / np.where(tot > 0, tot, 1.0), 1e-6, 1 - 1e-6)
        a = np.log(frac / (1 - frac))
        b = np.zeros(nb)
    lam = float(regularization)
    done = np.zeros(nb, dtype=bool)
    # obj[i] is the objective at the current (a[i], b[i]) where fresh[i]; it is computed only
    # when a step has to be checked against it
    obj = np.full(nb, np.inf)
    fresh = np.zeros(nb, dtype=bool)
    p = _sigmoid(a, b, x)
    xx = x * x
    act = np.arange(nb)  # rows still iterating; wa/sa/p hold exactly those rows
    wa, sa = total, success
    for _ in range(max_iter):
        if not len(act):
            break
        aa, ba, oa = a[act], b[act], obj[act]
        wp = wa * p
        r = wp - sa
        ga = r.sum(axis=1)
        gb = r @ x + lam * ba
        np.multiply(wp, p, out=r)
        np.subtract(wp, r, out=r)  # r now holds w p (1 - p), the Hessian weights
        haa = r.sum(axis=1) + 1e-12
        hab = r @ x
        hbb = r @ xx + lam + 1e-12
        del wp, r
        det = haa * hbb - hab * hab
        det = np.where(det > 1e-300, det, 1e-300)
        da = (hbb * ga - hab * gb) / det
        db = (haa * gb - hab * ga) / det
        # damp huge steps; a full step below NEWTON_ZONE (in parameter units) is taken
        # unchecked: there the objective is locally quadratic and Newton converges. Larger
        # steps backtrack (re-evaluating only the rows that got worse) until the objective
        # does not increase.
        size = np.maximum(np.abs(da), np.abs(db))
        step = np.minimum(1.0, 10.0 / size.clip(1e-300))
        na, nbv = aa - step * da, ba - step * db
        check = size > NEWTON_ZONE
        nobj = np.full(len(act), -np.inf)
        np_ = np.empty_like(p) if check.all() else _sigmoid(na, nbv, x)
        if check.any():
            ci = np.flatnonzero(check)
            stale = ci[~fresh[act[ci]]]
            if len(stale):  # the objective at the current point was skipped: compute it
                oa[stale], _ = _evaluate(aa[stale], ba[stale], x, wa[stale], sa[stale], lam)
            nobj[ci], np_[ci] = _evaluate(na[ci], nbv[ci], x, wa[ci], sa[ci], lam)
            for _ in range(30):
                worse = np.flatnonzero(nobj > oa + 1e-14 * np.abs(oa))
                if not len(worse):
                    break
                step[worse] /= 2
                na[worse] = aa[worse] - step[worse] * da[worse]
                nbv[worse] = ba[worse] - step[worse] * db[worse]
                nobj[worse], np_[worse] = _evaluate(na[worse], nbv[worse], x, wa[worse],
                                                    sa[worse], lam)
        small = step * size < tol
        a[act], b[act], obj[act] = na, nbv, np.where(check, np.minimum(nobj, oa), oa)
        fresh[act] = check
        done[act[small]] = True
        if small.all():
            break
        if small.any():
            keep = ~small
            act, p, wa, sa = act[keep], np_[keep], wa[keep], sa[keep]
        else:
            p = np_
    return a, b, done


def fit_logistic_batch(
    x: Array,
    y: Array,
    w: Array,
    regularization: float,
    max_iter: int = 100,
    tol: float = 1e-10,
) -> tuple[Array, Array, npt.NDArray[np.bool_]]:
    """Fit one logistic regression per row of ``w`` (per-run data).

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
        (intercepts (B,), slopes (B,), converged (B,)); see :func:`fit_logistic_stats`.
    """
    w = np.atleast_2d(w)
    return fit_logistic_stats(x, w, w * y[None, :], regularization, max_iter, tol)


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
