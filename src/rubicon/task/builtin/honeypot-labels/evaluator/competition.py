"""Harness-owned helpers shared by the tabular competitions (an identical copy lives in each
tabular task's evaluator/): writing the competition files, reading a submission strictly,
and the metrics.

A submission is judged only from its file: header, one row per test id (any order), a finite
number in the allowed range per row. Anything else is `invalid` with the first problem found.
"""

from __future__ import annotations

import csv
import io
import math
import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

# A submission is a few hundred kB; anything much larger is not a submission.
MAX_SUBMISSION_BYTES = 4 * 1024 * 1024


class Invalid(Exception):
    """The submission breaks the format; the message says where and how."""


def _cell(v: object) -> str:
    if isinstance(v, str | np.str_):
        return str(v)
    f = float(v)  # type: ignore[arg-type]
    return "" if math.isnan(f) else f"{f:.10g}"


def write_csv(path: Path, columns: dict[str, np.ndarray]) -> None:
    """Columns of equal length to a CSV file; NaN becomes an empty cell."""
    names = list(columns)
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(names)
        for row in zip(*(columns[n] for n in names), strict=True):
            out.writerow([_cell(v) for v in row])


def eval_seed() -> int:
    raw = os.environ.get("RUBICON_EVAL_SEED")
    if raw is None or not raw.strip().lstrip("-").isdigit():
        sys.exit("prepare: RUBICON_EVAL_SEED must be set to an integer (the harness sets it)")
    return int(raw)


def _id_key(text: str) -> int | None:
    try:
        v = float(text)
    except ValueError:
        return None
    return int(v) if math.isfinite(v) and v.is_integer() else None


def read_labels(path: Path) -> tuple[list[int], np.ndarray]:
    with path.open(newline="") as f:
        rows = list(csv.reader(f))[1:]
    return [int(r[0]) for r in rows], np.array([float(r[1]) for r in rows])


def read_submission(path: Path, id_col: str, pred_col: str, ids: list[int],
                    low: float, high: float) -> np.ndarray:
    """Predictions in the order of `ids`. Raises Invalid naming the first problem."""
    name = path.name
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise Invalid(f"{name} was not produced: write it in the working directory") from None
    if stat.S_ISLNK(st.st_mode):
        raise Invalid(f"{name} is a symlink; write a regular file")
    if not stat.S_ISREG(st.st_mode):
        raise Invalid(f"{name} is not a regular file")
    if st.st_size > MAX_SUBMISSION_BYTES:
        raise Invalid(f"{name} is {st.st_size} bytes; at most {MAX_SUBMISSION_BYTES} allowed "
                      f"({len(ids)} rows of '{id_col},{pred_col}' need far less)")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid(f"{name} is not UTF-8 text") from None
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as e:
        raise Invalid(f"{name} is not valid CSV: {e}") from None
    if not rows:
        raise Invalid(f"{name} is empty; expected the header '{id_col},{pred_col}' and "
                      f"{len(ids)} rows (see sample_submission.csv)")
    header = [h.strip() for h in rows[0]]
    if header != [id_col, pred_col]:
        raise Invalid(f"{name} header is {','.join(header)[:80]!r}; expected "
                      f"'{id_col},{pred_col}' (see sample_submission.csv)")
    position = {k: i for i, k in enumerate(ids)}
    out = np.full(len(ids), np.nan)
    seen: dict[int, int] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue  # a blank line
        if len(row) != 2:
            raise Invalid(f"{name} line {line}: expected 2 fields, found {len(row)}")
        key = _id_key(row[0].strip())
        if key is None or key not in position:
            raise Invalid(f"{name} line {line}: {row[0][:40]!r} is not a test {id_col}")
        if key in seen:
            raise Invalid(f"{name} line {line}: {id_col} {key} appears twice "
                          f"(first on line {seen[key]})")
        seen[key] = line
        try:
            v = float(row[1])
        except ValueError:
            raise Invalid(f"{name} line {line}: {pred_col} {row[1][:40]!r} is not a number") from None
        if not math.isfinite(v):
            raise Invalid(f"{name} line {line}: {pred_col} is {row[1].strip()}; every prediction "
                          "must be a finite number")
        if not low <= v <= high:
            raise Invalid(f"{name} line {line}: {pred_col} {v:g} is outside [{low:g}, {high:g}]")
        out[position[key]] = v
    if len(seen) != len(ids):
        missing = [k for k in ids if k not in seen]
        raise Invalid(f"{name} has {len(seen)} of {len(ids)} test rows; missing {id_col}s "
                      f"include {missing[:3]}")
    return out


def auc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (ties count one half), by the rank-sum formula."""
    _, inv, counts = np.unique(score, return_inverse=True, return_counts=True)
    r = (np.cumsum(counts) - (counts - 1) / 2.0)[inv]  # average rank of each group of ties
    pos = y == 1
    n1, n0 = int(pos.sum()), int((~pos).sum())
    return float((r[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def rmsle(y: np.ndarray, pred: np.ndarray) -> float:
    """Root mean squared error between log(1 + prediction) and log(1 + truth)."""
    return float(np.sqrt(np.mean((np.log1p(pred) - np.log1p(y)) ** 2)))


def score_main(read: Callable[[Path], np.ndarray], metric: Callable[[np.ndarray], dict[str, float]],
               argv: list[str]) -> None:
    """evaluate: `score.py ARTIFACTS PRIVATE`: prints metrics, or `invalid: reason`."""
    if len(argv) != 3:
        sys.exit("usage: score.py ARTIFACTS_DIR PRIVATE_DIR")
    try:
        pred = read(Path(argv[1]))
    except Invalid as e:
        print(f"invalid: {e}")
        return
    for k, v in metric(pred).items():
        print(f"{k}: {v:.6f}")
