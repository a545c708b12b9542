"""Tests for tabloader.scaling and tabloader.loader."""

import numpy as np

from tabloader import Standardizer, iter_batches, make_datasets


def _data(n: int = 40, d: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(loc=[1.0, -5.0, 30.0][:d], scale=[1.0, 3.0, 0.5][:d], size=(n, d))
    y = rng.integers(0, 2, size=n)
    return X, y


def test_standardizer_gives_zero_mean_unit_variance() -> None:
    X, _ = _data()
    Z = Standardizer().fit_transform(X)
    assert np.allclose(Z.mean(axis=0), 0.0) and np.allclose(Z.std(axis=0), 1.0)


def test_constant_feature_is_only_centred() -> None:
    X = np.column_stack([np.full(10, 4.0), np.arange(10.0)])
    s = Standardizer().fit(X)
    assert s.scale_[0] == 1.0 and np.all(s.transform(X)[:, 0] == 0.0)


def test_transform_before_fit_raises() -> None:
    try:
        Standardizer().transform(np.zeros((2, 2)))
    except RuntimeError:
        return
    raise AssertionError("no RuntimeError")


def test_datasets_keep_rows_and_labels_together() -> None:
    X, y = _data(50)
    d = make_datasets(X, y, val_fraction=0.2, seed=4)
    assert len(d.X_train) == len(d.y_train) == len(d.train_idx) == 40
    assert len(d.X_val) == len(d.y_val) == len(d.val_idx) == 10
    assert np.array_equal(d.y_train, y[d.train_idx]) and np.array_equal(d.y_val, y[d.val_idx])
    assert d.X_train.shape[1] == 3


def test_datasets_reject_mismatched_lengths() -> None:
    X, y = _data(10)
    try:
        make_datasets(X, y[:-1])
    except ValueError:
        return
    raise AssertionError("no ValueError")


def test_batches_cover_each_row_once() -> None:
    batches = list(iter_batches(23, 5, shuffle=True, seed=2))
    assert [len(b) for b in batches] == [5, 5, 5, 5, 3]
    assert sorted(np.concatenate(batches).tolist()) == list(range(23))


def test_drop_last_drops_the_short_batch() -> None:
    batches = list(iter_batches(23, 5, shuffle=False, drop_last=True))
    assert [len(b) for b in batches] == [5, 5, 5, 5]
    assert batches[0].tolist() == [0, 1, 2, 3, 4]
