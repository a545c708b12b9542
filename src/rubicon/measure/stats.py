"""Statistics of paired runs: the log ratio candidate/incumbent with a t interval."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class PairedEstimate:
    n: int
    mean_log_ratio: float  # mean of log(candidate / incumbent)
    sd: float
    low: float  # lower bound of the mean log ratio at the requested confidence
    high: float

    @property
    def ratio(self) -> float:
        return math.exp(self.mean_log_ratio)

    @property
    def ratio_low(self) -> float:
        return math.exp(self.low)

    @property
    def ratio_high(self) -> float:
        return math.exp(self.high)


def t_quantile(p: float, df: int) -> float:
    from scipy import stats  # lazy: scipy.stats costs ~2 s of start-up on a slow machine

    return float(stats.t.ppf(p, df))


def paired_log_ratio(cand: list[float], inc: list[float], alpha: float) -> PairedEstimate:
    """Mean log ratio of paired values and its two-sided (1 - 2*alpha) t interval.

    Each one-sided bound holds at level 1 - alpha, which is what the promotion rule tests.
    """
    if len(cand) != len(inc) or len(cand) < 2:
        raise ValueError("need at least two pairs of equal length")
    d = [math.log(c / a) for c, a in zip(cand, inc, strict=True)]
    n = len(d)
    mean = sum(d) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1))
    sd = max(sd, 1e-9)
    half = t_quantile(1 - alpha, n - 1) * sd / math.sqrt(n)
    return PairedEstimate(n=n, mean_log_ratio=mean, sd=sd, low=mean - half, high=mean + half)


def two_sample_log_ratio(cand: list[float], ref: list[float], alpha: float) -> PairedEstimate:
    """Difference of the mean logs of two independent samples (log of the ratio of geometric
    means, candidate over reference) and its two-sided (1 - 2*alpha) t interval with the pooled
    variance (n_c + n_r - 2 degrees of freedom); `n` is the candidate's sample size. A sample
    of one adds a mean and no degree of freedom: the variance then comes from the other sample.

    For runs that are not back to back (the quick look against recorded runs) the pairing is
    arbitrary, and the pooled variance has twice the degrees of freedom of paired differences.
    """
    if not cand or not ref or len(cand) + len(ref) < 3:
        raise ValueError("need a value in each sample and three in all")
    lc, lr = [math.log(x) for x in cand], [math.log(x) for x in ref]
    mc, mr = sum(lc) / len(lc), sum(lr) / len(lr)
    ss = sum((x - mc) ** 2 for x in lc) + sum((x - mr) ** 2 for x in lr)
    df = len(lc) + len(lr) - 2
    sd = max(math.sqrt(ss / df), 1e-9)
    half = t_quantile(1 - alpha, df) * sd * math.sqrt(1 / len(lc) + 1 / len(lr))
    mean = mc - mr
    return PairedEstimate(n=len(lc), mean_log_ratio=mean, sd=sd, low=mean - half, high=mean + half)


def conditional_power(est: PairedEstimate, max_pairs: int, alpha: float) -> float:
    """Chance that the promotion rule fires at `max_pairs` if the remaining pairs follow the
    current trend (their log ratios drawn with the current mean and sd, the sd held fixed).

    Futility stopping by conditional power, as in group-sequential trials: a comparison whose
    chance is small is stopped early. It never promotes, so the false-promotion rate only drops.
    """
    n, m, sd = est.n, est.mean_log_ratio, est.sd
    if n >= max_pairs:
        return 1.0 if est.high < 0 else 0.0
    left = max_pairs - n
    # promotion at max_pairs needs mean + t * sd / sqrt(N) < 0 over all N pairs, i.e. the mean
    # of the remaining pairs below `need`
    bound = -t_quantile(1 - alpha, max_pairs - 1) * sd / math.sqrt(max_pairs)
    need = (bound * max_pairs - m * n) / left
    z = (need - m) / (sd / math.sqrt(left))
    return 0.5 * math.erfc(-z / math.sqrt(2))


def coefficient_of_variation(xs: list[float]) -> float:
    if len(xs) < 2:
        return 0.0
    m = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))
    return sd / m if m else 0.0


def median(xs: list[float]) -> float:
    s = sorted(xs)
    n = len(s)
    if n == 0:
        raise ValueError("median of nothing")
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])
