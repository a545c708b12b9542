"""The synthetic demand competition: weekly units sold of one item in one store, one row each.

Harness-owned (the run never sees this file). `make(seed)` draws a fresh retail chain: stores,
items in categories with their own price elasticity, promotion uplift, weather sensitivity and
season; units are negative-binomial around a log-linear mean with those interactions. Some
columns have missing values (discount, temperature, competitor price); some test items never
appear in train. The train export has a leak: rows were extracted in order of units sold, so in
train.csv `extracted_at` grows with the target; test rows were extracted at random times.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_TRAIN = 24000
N_TEST = 12000
N_STORES = 40
N_ITEMS = 1500
N_CATEGORIES = 12
DISPERSION = 6.0  # negative-binomial shape: variance = mu + mu^2 / DISPERSION
COLUMNS = ["row_id", "store_id", "store_size", "item_id", "category", "week", "list_price",
           "price", "discount", "promo_display", "shelf_facings", "temperature", "holiday",
           "competitor_price_ratio", "extracted_at"]
TARGET = "units"
ID = "row_id"
CATEGORY_NAMES = ["dairy", "bakery", "produce", "frozen", "beverages", "snacks", "household",
                  "personal-care", "canned", "ice-cream", "soup", "bbq"]


@dataclass
class World:
    store_effect: np.ndarray
    store_size: np.ndarray
    item_effect: np.ndarray
    item_category: np.ndarray
    item_price: np.ndarray
    item_p: np.ndarray
    elasticity: np.ndarray  # per category
    promo_uplift: np.ndarray
    temp_sens: np.ndarray
    season_amp: np.ndarray
    season_phase: np.ndarray
    holiday_uplift: np.ndarray
    holiday_weeks: np.ndarray


def _scaled(x: np.ndarray, p: np.ndarray, sd: float) -> np.ndarray:
    """x centred and scaled to standard deviation `sd` under weights p: the same spread in
    every draw, so the competition is equally hard for every seed."""
    x = x - p @ x
    return x * sd / np.sqrt(p @ x**2)


def _world(rng: np.random.Generator) -> World:
    size = rng.lognormal(0, 0.35, N_STORES)
    cat = rng.integers(0, N_CATEGORIES, N_ITEMS)
    item_p = rng.lognormal(0, 1.3, N_ITEMS)  # a long tail of rarely sold items
    item_p /= item_p.sum()
    store_p = np.full(N_STORES, 1 / N_STORES)
    return World(
        store_effect=_scaled(0.6 * np.log(size) + rng.normal(0, 0.25, N_STORES), store_p, 0.33),
        store_size=np.round(size * 1800, -1),
        item_effect=_scaled(rng.normal(0, 1, N_ITEMS), item_p, 0.7),
        item_category=cat,
        item_price=np.round(rng.lognormal(1.2 + 0.15 * (cat % 3), 0.5, N_ITEMS), 2),
        item_p=item_p,
        # per-category behaviour: a fixed spread of values, dealt to the categories at random
        elasticity=rng.permutation(np.linspace(0.8, 3.0, N_CATEGORIES)),
        promo_uplift=rng.permutation(np.linspace(0.1, 0.9, N_CATEGORIES)),
        temp_sens=rng.permutation(np.repeat([-0.05, 0.0, 0.0, 0.03, 0.06, 0.0], 2)),
        season_amp=rng.permutation(np.linspace(0.0, 0.5, N_CATEGORIES)),
        season_phase=rng.uniform(0, 52, N_CATEGORIES),
        holiday_uplift=rng.permutation(np.linspace(-0.3, 0.7, N_CATEGORIES)),
        holiday_weeks=rng.choice(104, 10, replace=False),
    )


def _draw(rng: np.random.Generator, w: World, n: int) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    store = rng.integers(0, N_STORES, n)
    item = rng.choice(N_ITEMS, n, p=w.item_p)
    cat = w.item_category[item]
    week = rng.integers(1, 105, n)
    discounted = rng.random(n) < 0.3
    discount = np.where(discounted, np.round(rng.uniform(0.05, 0.4, n), 2), 0.0)
    promo = (rng.random(n) < np.where(discounted, 0.45, 0.05)).astype(float)
    list_price = w.item_price[item]
    price = np.round(list_price * (1 - discount), 2)
    facings = rng.integers(1, 7, n).astype(float)
    season = np.sin(2 * np.pi * (week + w.season_phase[cat]) / 52)
    temperature = np.round(14 + 11 * np.sin(2 * np.pi * (week - 16) / 52) + rng.normal(0, 4, n), 1)
    holiday = np.isin(week, w.holiday_weeks).astype(float)
    competitor = np.round(np.exp(rng.normal(0, 0.12, n)), 3)
    log_mu = (0.9 + w.store_effect[store] + w.item_effect[item]
              + 0.35 * np.log(facings)
              + w.elasticity[cat] * -np.log1p(-discount)  # cheaper sells more, by category
              + w.promo_uplift[cat] * promo * (1 + 2 * discount)  # a promoted discount sells most
              + w.temp_sens[cat] * (temperature - 14)
              + w.season_amp[cat] * season
              + w.holiday_uplift[cat] * holiday
              + 0.8 * np.log(competitor))  # a dearer competitor sends customers here
    mu = np.exp(log_mu)
    lam = mu * rng.gamma(DISPERSION, 1 / DISPERSION, n)
    units = rng.poisson(lam)
    cols = {
        "store_id": np.array([f"S{s:02d}" for s in range(N_STORES)])[store],
        "store_size": w.store_size[store],
        "item_id": np.array([f"I{i:05d}" for i in range(N_ITEMS)])[item],
        "category": np.array(CATEGORY_NAMES)[cat],
        "week": week.astype(float),
        "list_price": list_price,
        "price": price,
        "discount": np.where(rng.random(n) < 0.1, np.nan, discount),
        "promo_display": promo,
        "shelf_facings": facings,
        "temperature": np.where(rng.random(n) < 0.12, np.nan, temperature),
        "holiday": holiday,
        "competitor_price_ratio": np.where(rng.random(n) < 0.2, np.nan, competitor),
    }
    return cols, units, mu


@dataclass
class Competition:
    train: dict[str, np.ndarray]  # columns, the target included; rows in random order
    test: dict[str, np.ndarray]  # columns without the target; rows in random order
    y_test: np.ndarray
    mu_test: np.ndarray  # the true mean of every test row (for calibration: the floor)


def make(seed: int) -> Competition:
    rng = np.random.default_rng(seed)
    w = _world(rng)
    train, y_train, _ = _draw(rng, w, N_TRAIN)
    test, y_test, mu_test = _draw(rng, w, N_TEST)
    ids = rng.permutation(N_TRAIN + N_TEST) + 1
    # the leak: the train export was extracted in order of units sold (with some jitter)
    order = np.argsort(np.log1p(y_train) + rng.normal(0, 0.5, N_TRAIN), kind="stable")
    t0 = 1_700_000_000
    extracted = np.empty(N_TRAIN)
    extracted[order] = t0 + np.cumsum(rng.integers(1, 60, N_TRAIN))
    train = {ID: ids[:N_TRAIN].astype(float), **train, "extracted_at": extracted,
             TARGET: y_train.astype(float)}
    test = {ID: ids[N_TRAIN:].astype(float), **test,
            "extracted_at": t0 + rng.integers(0, int(extracted.max() - t0), N_TEST).astype(float)}
    return Competition(train, test, y_test, mu_test)
