"""Property checks of the hidden tests of fix-dataloader-leak (harness-owned).

A random split has many right answers, so these cases are judged by properties computed here,
from the raw outputs and the inputs kept in {private}: never by anything the run computed
about its own outputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

TOL = 1e-9


def _ints(v: Any) -> list[int]:
    if not isinstance(v, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in v):
        raise TypeError("not a list of ints")
    return v


def _split_ok(got: Any, a: dict[str, Any]) -> bool:
    if not isinstance(got, list) or len(got) != 2:
        return False
    train, val = _ints(got[0]), _ints(got[1])
    n = a["n"]
    if sorted(train + val) != list(range(n)) or not train or not val:
        return False
    if a["groups"] is None:
        return len(val) == a["n_val"]
    g = np.asarray(a["groups"])
    if set(g[train].tolist()) & set(g[val].tolist()):
        return False  # a group on both sides: the leak
    return abs(len(val) - a["n_val"]) <= a["max_group"]


def split(got: Any, a: dict[str, Any]) -> bool:
    """A partition of the rows; the requested size; no group on both sides."""
    return _split_ok(got, a)


def split_repeat(got: Any, a: dict[str, Any]) -> bool:
    """Two calls with the same seed: the same valid split."""
    return len(got) == 2 and got[0] == got[1] and _split_ok(got[0], a)


def split_seeds(got: Any, a: dict[str, Any]) -> bool:
    """Valid splits for several seeds whose validation sets do not always hold the same groups."""
    if len(got) != len(a["seeds"]) or not all(_split_ok(s, a) for s in got):
        return False
    g = np.asarray(a["groups"])
    return len({frozenset(g[s[1]].tolist()) for s in got}) >= 2


def datasets(got: Any, a: dict[str, Any]) -> bool:
    """A valid split, a scaler fit on the training rows only, both sides scaled with it."""
    if not isinstance(got, list) or len(got) != 8 or not _split_ok(got[:2], a):
        return False
    train_idx, val_idx = _ints(got[0]), _ints(got[1])
    X, y = np.asarray(a["X"], dtype=float), np.asarray(a["y"])
    mean = X[train_idx].mean(axis=0)
    std = X[train_idx].std(axis=0)
    scale = np.where(std > 0, std, 1.0)

    def close(v: Any, want: np.ndarray) -> bool:
        arr = np.asarray(v, dtype=float)
        return arr.shape == want.shape and bool(np.allclose(arr, want, rtol=TOL, atol=TOL))

    return (close(got[2], mean) and close(got[3], scale)
            and close(got[4], (X[train_idx] - mean) / scale)
            and close(got[5], (X[val_idx] - mean) / scale)
            and got[6] == y[train_idx].tolist() and got[7] == y[val_idx].tolist())


def batches(got: Any, a: dict[str, Any]) -> bool:
    """Each row once per epoch; full batches but the last (dropped with drop_last)."""
    rows = [i for b in got for i in _ints(b)]
    n, bs = a["n"], a["batch_size"]
    if a["drop_last"]:
        return (len(got) == n // bs and all(len(b) == bs for b in got)
                and len(set(rows)) == len(rows) and set(rows) <= set(range(n)))
    return (sorted(rows) == list(range(n)) and all(len(b) == bs for b in got[:-1])
            and 0 < len(got[-1]) <= bs)


CHECKS = {"split": split, "split_repeat": split_repeat, "split_seeds": split_seeds,
          "datasets": datasets, "batches": batches}
