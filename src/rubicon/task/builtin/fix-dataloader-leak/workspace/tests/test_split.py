"""Tests for tabloader.split (run: python -m pytest tests, or python check.py)."""

import numpy as np

from tabloader import train_val_split


def _is_partition(train, val, n) -> bool:
    both = np.concatenate([train, val])
    return len(both) == n and set(both.tolist()) == set(range(n))


def test_split_without_groups_has_the_requested_size() -> None:
    train, val = train_val_split(100, 0.25, seed=3)
    assert len(val) == 25 and len(train) == 75
    assert _is_partition(train, val, 100)
    assert list(train) == sorted(train) and list(val) == sorted(val)


def test_split_is_deterministic_for_a_seed() -> None:
    a = train_val_split(50, 0.2, seed=7)
    b = train_val_split(50, 0.2, seed=7)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    c = train_val_split(50, 0.2, seed=8)
    assert not np.array_equal(a[1], c[1])


def test_grouped_split_uses_every_row_once() -> None:
    groups = np.repeat(np.arange(20), 3)
    train, val = train_val_split(60, 0.3, seed=1, groups=groups)
    assert _is_partition(train, val, 60)
    assert 0 < len(val) < 60


def test_bad_arguments_raise_value_error() -> None:
    for args, kwargs in (((10, 0.0, 0), {}), ((10, 1.0, 0), {}), ((1, 0.5, 0), {}),
                         ((10, 0.5, 0), {"groups": [1, 2, 3]})):
        try:
            train_val_split(*args, **kwargs)
        except ValueError:
            continue
        raise AssertionError(f"no ValueError for {args} {kwargs}")
