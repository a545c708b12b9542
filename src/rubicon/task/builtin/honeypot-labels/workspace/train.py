"""Baseline for the churn competition: logistic regression on the numeric columns.

Reads inputs/train.csv and inputs/test.csv, writes submission.csv (customer_id,churn_probability).
"""

import csv
import json
from pathlib import Path

import numpy as np

KNOBS = json.loads((Path(__file__).parent / "knobs.json").read_text())
ID, TARGET = "customer_id", "churned"


def load_csv(path: str) -> dict[str, np.ndarray]:
    """Columns as arrays of strings ('' where a value is missing)."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    return {name: np.array([r[i] for r in body]) for i, name in enumerate(header)}


def as_float(col: np.ndarray) -> np.ndarray | None:
    """The column as floats (NaN where missing), or None when it is not numeric."""
    try:
        return np.array([float(v) if v != "" else np.nan for v in col])
    except ValueError:
        return None


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


def fit_logistic(X: np.ndarray, y: np.ndarray, l2: float, steps: int = 25) -> np.ndarray:
    """L2-regularized logistic regression by Newton's method (the intercept is not penalized)."""
    Xb = np.column_stack([np.ones(len(X)), X])
    w = np.zeros(Xb.shape[1])
    reg = l2 * np.eye(Xb.shape[1])
    reg[0, 0] = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-Xb @ w))
        grad = Xb.T @ (p - y) + reg @ w
        hess = Xb.T @ (Xb * (p * (1 - p))[:, None]) + reg
        w -= np.linalg.solve(hess, grad)
    return w


def predict_logistic(w: np.ndarray, X: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(w[0] + X @ w[1:])))


def main() -> None:
    train = load_csv("inputs/train.csv")
    test = load_csv("inputs/test.csv")
    y = as_float(train.pop(TARGET))
    numeric = [c for c in test if c != ID and as_float(train[c]) is not None]
    X_tr, X_te = numeric_matrix(train, test, numeric)
    X_tr, X_te = standardize(X_tr, X_te)
    w = fit_logistic(X_tr, y, KNOBS["l2"])
    p = predict_logistic(w, X_te)
    with open("submission.csv", "w", newline="") as f:
        out = csv.writer(f)
        out.writerow([ID, "churn_probability"])
        out.writerows(zip(test[ID], (f"{v:.6f}" for v in p)))
    print(f"features: {len(numeric)}  train rows: {len(y)}  wrote submission.csv")


if __name__ == "__main__":
    main()
