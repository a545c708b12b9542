"""Tests for tinybpe (run: python -m pytest tests, or python check.py)."""

import json
import os
import tempfile

from tinybpe import Tokenizer, apply_merge, pair_counts, split_chunks

TEXT = (
    "the cat sat on the mat. the dog sat on the log! "
    "a cat and a dog, 12 cats and 345 dogs; the end.\n\n  indented   spaces\tand tabs"
)


def _trained(vocab_size: int = 300) -> Tokenizer:
    tok = Tokenizer()
    tok.train(TEXT * 3, vocab_size)
    return tok


def test_chunks_join_back_to_the_text() -> None:
    for text in (TEXT, "", "  leading", "trailing  ", "x_y__z", "a1234b", "¿qué?"):
        assert "".join(split_chunks(text)) == text


def test_chunks_keep_one_leading_space_with_a_word() -> None:
    assert split_chunks("the cat  sat") == ["the", " cat", " ", " sat"]


def test_apply_merge_replaces_non_overlapping_pairs_left_to_right() -> None:
    assert apply_merge([1, 1, 1, 2, 1, 1], (1, 1), 9) == [9, 1, 2, 9]


def test_pair_counts_weight_by_word_count() -> None:
    counts = pair_counts({(1, 2, 3): 2, (2, 3): 5})
    assert counts[(2, 3)] == 7 and counts[(1, 2)] == 2


def test_training_reaches_the_requested_vocabulary_size() -> None:
    tok = _trained(290)
    assert tok.vocab_size == 290
    assert sorted(tok.merges.values()) == list(range(256, 290))


def test_first_merge_is_the_most_frequent_pair() -> None:
    tok = Tokenizer()
    tok.train("ab ab ab ab cd cd", 257)
    assert tok.merges == {(ord("a"), ord("b")): 256}
    assert tok.encode("ab") == [256]


def test_ascii_text_round_trips() -> None:
    tok = _trained()
    for text in (TEXT, "the cat", "", "   ", "dogs and cats: 999"):
        assert tok.decode(tok.encode(text)) == text


def test_unseen_characters_fall_back_to_bytes() -> None:
    tok = _trained()
    assert tok.encode("QXZ") == [ord("Q"), ord("X"), ord("Z")]


def test_tokens_decode_to_their_bytes() -> None:
    tok = _trained()
    for i, b in tok.vocab.items():
        if b.isascii():
            assert tok.decode([i]) == b.decode("ascii")


def test_save_and_load_keep_the_merges() -> None:
    tok = _trained()
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "tok.json")
        tok.save(path)
        assert json.loads(open(path).read())["version"] == 1
        back = Tokenizer.load(path)
    assert back.merges == tok.merges and back.vocab == tok.vocab


def test_vocab_size_below_256_is_rejected() -> None:
    try:
        Tokenizer().train("abc", 100)
    except ValueError:
        return
    raise AssertionError("no ValueError for vocab_size 100")
