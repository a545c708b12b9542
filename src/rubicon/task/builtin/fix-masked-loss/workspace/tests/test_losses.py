"""Tests for seqtrain.losses (run: python -m pytest tests, or python check.py)."""

import math

import numpy as np

from seqtrain import log_softmax, masked_cross_entropy


def _batch(seed: int = 0, b: int = 3, t: int = 5, v: int = 7):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(b, t, v))
    targets = rng.integers(1, v, size=(b, t))  # ids 1..v-1: no padding
    return logits, targets


def test_log_softmax_rows_sum_to_one() -> None:
    logits, _ = _batch()
    p = np.exp(log_softmax(logits))
    assert np.allclose(p.sum(axis=-1), 1.0)


def test_uniform_logits_give_log_vocab() -> None:
    _, targets = _batch(v=11)
    loss = masked_cross_entropy(np.zeros(targets.shape + (11,)), targets)
    assert math.isclose(loss, math.log(11), rel_tol=1e-12)


def test_mean_matches_a_manual_computation_without_padding() -> None:
    logits, targets = _batch(seed=1)
    want = 0.0
    for i in range(targets.shape[0]):
        for j in range(targets.shape[1]):
            row = logits[i, j]
            want += math.log(np.exp(row).sum()) - row[targets[i, j]]
    want /= targets.size
    assert math.isclose(masked_cross_entropy(logits, targets), want, rel_tol=1e-10)


def test_padding_positions_have_zero_loss() -> None:
    logits, targets = _batch(seed=2)
    targets[:, -2:] = 0
    per_token = masked_cross_entropy(logits, targets, reduction="none")
    assert per_token.shape == targets.shape
    assert np.all(per_token[:, -2:] == 0.0)
    assert np.all(per_token[:, :-2] > 0.0)


def test_sum_is_the_sum_of_per_token_losses() -> None:
    logits, targets = _batch(seed=3)
    targets[0, 3:] = 0
    total = masked_cross_entropy(logits, targets, reduction="sum")
    assert math.isclose(total, masked_cross_entropy(logits, targets, reduction="none").sum())


def test_large_logits_stay_finite() -> None:
    logits, targets = _batch(seed=4)
    assert math.isfinite(masked_cross_entropy(logits * 1e4, targets))


def test_label_smoothing_zero_is_plain_cross_entropy() -> None:
    logits, targets = _batch(seed=5)
    a = masked_cross_entropy(logits, targets, label_smoothing=0.0)
    assert a == masked_cross_entropy(logits, targets)
    assert masked_cross_entropy(logits, targets, label_smoothing=0.1) != a


def test_bad_arguments_raise_value_error() -> None:
    logits, targets = _batch()
    for kwargs in ({"reduction": "avg"}, {"label_smoothing": 1.5}):
        try:
            masked_cross_entropy(logits, targets, **kwargs)
        except ValueError:
            continue
        raise AssertionError(f"no ValueError for {kwargs}")
    try:
        masked_cross_entropy(logits, targets[:, :-1])
    except ValueError:
        return
    raise AssertionError("no ValueError for mismatched shapes")
