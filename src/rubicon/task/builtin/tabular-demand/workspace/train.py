"""Baseline for the demand competition: ridge regression of log(1 + units) on numeric columns.

Reads inputs/train.csv and inputs/test.csv, writes submission.csv (row_id,units).
"""

import csv
import json
from pathlib import Path

import numpy as np

KNOBS = json.loads((Path(__file__).parent / "knobs.json").read_text())
ID, TARGET = "row_id", "units"
FEATURES = ["store_size", "week", "list_price", "price", "discount", "promo_display",
            "shelf_facings", "temperature", "holiday", "competitor_price_ratio"]


def load_csv(path: str) -> dict[str, np.ndarray]:
    """Columns as arrays of strings ('' where a value is missing)."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    return {name: np.array([r[i] for r in body]) for i, name in enumerate(header)}


def as_float(col: np.ndarray) -> np.ndarray:
    return np.array([float(v) if v != "" else np.nan for v in col])


def numeric_matrix(train: dict[str, np.ndarray], test: dict[str, np.ndarray],
                   columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Numeric columns, missing values replaced by the train mean."""
    a = np.column_stack([as_float(train[c]) for c in columns])
    b = np.column_stack([as_float(test[c]) for c in columns])
    mean = np.nanmean(a, axis=0)
    return np.where(np.isnan(a), mean, a), np.where(np.isnan(b), mean, b)


def standardize(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mu, sd = a.mean(axis=0), a.std(axis=0) + 1e-9
    return (a - mu) / sd, (b - mu) / sd


def fit_ridge(X: np.ndarray, y: np.ndarray, l2: float) -> np.ndarray:
    """Least squares with an L2 penalty (the intercept is not penalized)."""
    Xb = np.column_stack([np.ones(len(X)), X])
    reg = l2 * np.eye(Xb.shape[1])
    reg[0, 0] = 0.0
    return np.linalg.solve(Xb.T @ Xb + reg, Xb.T @ y)


def main() -> None:
    train = load_csv("inputs/train.csv")
    test = load_csv("inputs/test.csv")
    z = np.log1p(as_float(train.pop(TARGET)))
    X_tr, X_te = numeric_matrix(train, test, FEATURES)
    X_tr, X_te = standardize(X_tr, X_te)
    w = fit_ridge(X_tr, z, KNOBS["l2"])
    units = np.expm1(np.maximum(w[0] + X_te @ w[1:], 0.0))
    with open("submission.csv", "w", newline="") as f:
        out = csv.writer(f)
        out.writerow([ID, "units"])
        out.writerows(zip(test[ID], (f"{v:.4f}" for v in units)))
    print(f"features: {X_tr.shape[1]}  train rows: {len(z)}  wrote submission.csv")


if __name__ == "__main__":
    main()
