"""Byte-level BPE.

Training starts from the 256 single bytes and repeatedly merges the most frequent adjacent pair
of tokens (counted inside chunks, see pretokenize.py; ties go to the smallest pair) into a new
token, until the vocabulary has the requested size. Merge i creates token id 256 + i.

Encoding a chunk applies the learned merges in the order they were learned, exactly as training
applied them, so a chunk of the training text encodes to the tokens training made of it.
Decoding concatenates the tokens' bytes and decodes them as UTF-8.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from tinybpe.pretokenize import split_chunks

Pair = tuple[int, int]


def pair_counts(words: dict[tuple[int, ...], int]) -> Counter[Pair]:
    """Adjacent pairs in every word, each weighted by the word's count."""
    counts: Counter[Pair] = Counter()
    for word, freq in words.items():
        for a, b in zip(word, word[1:]):
            counts[a, b] += freq
    return counts


def apply_merge(ids: Sequence[int], pair: Pair, new_id: int) -> list[int]:
    """Replace every non-overlapping occurrence of `pair`, left to right, by `new_id`."""
    out: list[int] = []
    i, n = 0, len(ids)
    while i < n:
        if i + 1 < n and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


class Tokenizer:
    """A byte-level BPE tokenizer. `merges` maps a pair to its token id, in learning order."""

    def __init__(self) -> None:
        self.merges: dict[Pair, int] = {}
        self.vocab: dict[int, bytes] = {i: bytes([i]) for i in range(256)}
        self._cache: dict[bytes, list[int]] = {}

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def train(self, text: str, vocab_size: int) -> None:
        """Learn merges from `text` until the vocabulary has `vocab_size` tokens (or no pair is
        left to merge)."""
        if vocab_size < 256:
            raise ValueError(f"vocab_size must be at least 256 (the bytes), got {vocab_size}")
        words: Counter[tuple[int, ...]] = Counter(
            tuple(chunk.encode("utf-8")) for chunk in split_chunks(text))
        self.merges, self._cache = {}, {}
        self.vocab = {i: bytes([i]) for i in range(256)}
        for new_id in range(256, vocab_size):
            counts = pair_counts(words)
            if not counts:
                break
            pair = min(counts, key=lambda p: (-counts[p], p))
            self.merges[pair] = new_id
            self.vocab[new_id] = self.vocab[pair[0]] + self.vocab[pair[1]]
            merged: Counter[tuple[int, ...]] = Counter()
            for word, freq in words.items():
                merged[tuple(apply_merge(word, pair, new_id))] += freq
            words = merged

    def _encode_chunk(self, data: bytes) -> list[int]:
        cached = self._cache.get(data)
        if cached is not None:
            return list(cached)
        ids = list(data)
        while len(ids) >= 2:
            pair = min(zip(ids, ids[1:]), key=lambda p: self.merges.get(p, math.inf))
            if pair not in self.merges:
                break
            ids = apply_merge(ids, pair, self.merges[pair])
        self._cache[data] = ids
        return list(ids)

    def encode(self, text: str) -> list[int]:
        """Token ids of `text`."""
        ids: list[int] = []
        for chunk in split_chunks(text):
            ids.extend(self._encode_chunk(chunk.encode("utf-8")))
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        """The text of token ids (invalid UTF-8 becomes U+FFFD)."""
        return b"".join(self.vocab[i] for i in ids).decode("utf-8", errors="replace")

    def save(self, path: str | Path) -> None:
        """Write the merges as JSON (a list of [left, right] pairs in learning order)."""
        merges = [[a, b] for (a, b), _ in sorted(self.merges.items(), key=lambda kv: kv[1])]
        Path(path).write_text(json.dumps({"version": 1, "merges": merges}))

    @classmethod
    def load(cls, path: str | Path) -> Tokenizer:
        """A tokenizer with the merges `save` wrote."""
        doc = json.loads(Path(path).read_text())
        tok = cls()
        for i, (a, b) in enumerate(doc["merges"]):
            tok.merges[a, b] = 256 + i
            tok.vocab[256 + i] = tok.vocab[a] + tok.vocab[b]
        return tok
