"""Tests for seqtrain.metrics."""

import math

import numpy as np

from seqtrain import masked_accuracy, perplexity, sequence_lengths


def test_sequence_lengths_count_non_padding() -> None:
    targets = np.array([[5, 3, 0, 0], [1, 2, 3, 4], [0, 0, 0, 0]])
    assert sequence_lengths(targets).tolist() == [2, 4, 0]
    assert sequence_lengths(targets, pad_id=3).tolist() == [3, 3, 4]


def test_accuracy_ignores_padding() -> None:
    logits = np.zeros((1, 4, 6))
    logits[0, 0, 2] = logits[0, 1, 5] = logits[0, 2, 1] = logits[0, 3, 0] = 1.0
    targets = np.array([[2, 4, 0, 0]])  # one hit, one miss, two pads
    assert masked_accuracy(logits, targets) == 0.5


def test_accuracy_of_an_empty_batch_is_zero() -> None:
    assert masked_accuracy(np.zeros((2, 3, 4)), np.zeros((2, 3), dtype=int)) == 0.0


def test_perplexity_of_uniform_predictions_is_the_vocabulary_size() -> None:
    targets = np.array([[1, 2, 3], [4, 5, 6]])
    assert math.isclose(perplexity(np.zeros((2, 3, 9)), targets), 9.0, rel_tol=1e-12)
