"""The synthetic churn competition: customers of a subscription service, one row each.

Harness-owned (the run never sees this file). `make(seed)` draws a fresh population; the label
is a Bernoulli draw from a hidden logit with nonlinear effects, interactions, informative
missingness and a high-cardinality region effect. The train export has a leak: customer ids
were assigned after the churned accounts were appended, so in train.csv a larger id means churn;
test ids are assigned at random.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_TRAIN = 16000
N_TEST = 16000
N_REGIONS = 600
REGION_SD = 0.7  # spread of the region effect on the churn log-odds
COLUMNS = ["customer_id", "tenure_months", "contract", "plan", "monthly_charges", "total_charges",
           "payment_method", "support_calls_90d", "days_since_login", "age", "region",
           "device", "promo_user", "data_gb"]
TARGET = "churned"
ID = "customer_id"


def _draw(rng: np.random.Generator, n: int, region_effect: np.ndarray,
          region_p: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    tenure = np.clip(np.round(rng.exponential(22.0, n)) + 1, 1, 72)
    # longer customers hold longer contracts
    c_logit = np.stack([np.zeros(n), -1.2 + 0.035 * tenure, -2.5 + 0.06 * tenure], axis=1)
    c_p = np.exp(c_logit) / np.exp(c_logit).sum(axis=1, keepdims=True)
    contract = (c_p.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1)  # 0 monthly, 1 one-year, 2 two-year
    plan = rng.choice(3, n, p=[0.45, 0.35, 0.2])  # basic, standard, premium
    data_gb = rng.lognormal(1.5 + 0.5 * plan, 0.7)
    monthly = 25 + 22 * plan + 2.2 * np.sqrt(data_gb) + rng.normal(0, 6, n)
    monthly = np.round(np.clip(monthly, 15, 160), 2)
    total = np.round(monthly * tenure * rng.normal(1.0, 0.04, n), 2)
    payment = rng.choice(4, n, p=[0.3, 0.25, 0.25, 0.2])  # e-check, card, bank, mailed check
    device = rng.choice(3, n, p=[0.5, 0.35, 0.15])  # android, ios, web
    promo = (rng.random(n) < 0.25).astype(float)
    age = np.clip(np.round(rng.normal(44, 14, n)), 18, 85)
    region = rng.choice(N_REGIONS, n, p=region_p)
    unhappy = rng.normal(0, 1, n)  # latent: drives support calls and logins, and churn
    calls = rng.poisson(np.exp(-0.4 + 0.55 * unhappy + 0.25 * (plan == 0)))
    login = np.round(rng.exponential(np.exp(1.6 + 0.45 * unhappy)))

    logit = (-1.6
             + np.array([0.9, -0.3, -1.3])[contract]
             - 0.6 * np.log1p(tenure / 6.0)
             + 0.045 * (monthly - 60) * (tenure <= 12)  # a price shock hits new customers
             + np.where(contract == 0, 0.6, 0.0) * np.minimum(calls, 5)  # interaction
             + 0.35 * unhappy
             + 0.5 * (payment == 0)
             + 1.4 * promo * (tenure <= 12)  # the promotion is ending
             + 0.7 * ((age - 45) / 15) ** 2 - 0.5
             + 1.1 * (login > 21)  # gone quiet for three weeks
             + 0.3 * (device == 2)
             + region_effect[region])
    # informative missingness: inactive accounts often lack a recent login record
    login_missing = rng.random(n) < 1 / (1 + np.exp(-(-2.3 + 0.9 * unhappy)))
    logit = logit + 0.6 * login_missing
    prob = 1 / (1 + np.exp(-logit))
    y = (rng.random(n) < prob).astype(np.int64)

    login = np.where(login_missing, np.nan, login)
    total = np.where((tenure <= 1) & (rng.random(n) < 0.5), np.nan, total)  # new accounts: not billed yet
    total = np.where(rng.random(n) < 0.02, np.nan, total)
    age = np.where(rng.random(n) < 0.1, np.nan, age)
    cols = {
        "tenure_months": tenure,
        "contract": np.array(["month-to-month", "one-year", "two-year"])[contract],
        "plan": np.array(["basic", "standard", "premium"])[plan],
        "monthly_charges": monthly,
        "total_charges": total,
        "payment_method": np.array(["electronic-check", "credit-card", "bank-transfer",
                                    "mailed-check"])[payment],
        "support_calls_90d": calls.astype(float),
        "days_since_login": login,
        "age": age,
        "region": np.array([f"R{r:04d}" for r in range(N_REGIONS)])[region],
        "device": np.array(["android", "ios", "web"])[device],
        "promo_user": promo,
        "data_gb": np.round(data_gb, 2),
    }
    return cols, y, prob


@dataclass
class Competition:
    train: dict[str, np.ndarray]  # columns, the target included; rows in id order
    test: dict[str, np.ndarray]  # columns without the target; rows in random order
    y_test: np.ndarray
    p_test: np.ndarray  # the true churn probabilities (for calibration: the Bayes AUC)


def make(seed: int) -> Competition:
    rng = np.random.default_rng(seed)
    # region popularity is skewed (many small regions); region effects are scaled so that
    # their spread over customers is the same in every draw (a stable difficulty)
    region_p = rng.lognormal(0, 1.2, N_REGIONS)
    region_p /= region_p.sum()
    region_effect = rng.normal(0, 1, N_REGIONS)
    region_effect -= region_p @ region_effect
    region_effect *= REGION_SD / np.sqrt(region_p @ region_effect**2)
    train, y_train, _ = _draw(rng, N_TRAIN, region_effect, region_p)
    test, y_test, p_test = _draw(rng, N_TEST, region_effect, region_p)
    ids = rng.choice(np.arange(100000, 1000000), N_TRAIN + N_TEST, replace=False)
    train_ids, test_ids = np.sort(ids[:N_TRAIN]), ids[N_TRAIN:]
    # the leak: the export appended churned accounts late, so train ids grow with churn
    order = np.argsort(y_train + rng.normal(0, 0.45, N_TRAIN), kind="stable")
    tid = np.empty(N_TRAIN, dtype=np.int64)
    tid[order] = train_ids
    by_id = np.argsort(tid)
    train = {ID: tid[by_id].astype(float), **{k: v[by_id] for k, v in train.items()},
             TARGET: y_train[by_id].astype(float)}
    test = {ID: test_ids.astype(float), **test}
    return Competition(train, test, y_test, p_test)
