"""Harness-owned: this run's hidden tests of tinybpe (inputs/ for the run, expected outputs in
{private}). usage: prepare.py INPUTS PRIVATE  (env RUBICON_EVAL_SEED, RUBICON_RUN_SEED)

Every run trains on a fresh synthetic corpus (a made-up language whose words carry accents) and
tests fresh strings. What the shipped package gets wrong: `decode` turns each token's bytes into
text on its own, so a character whose bytes end up in different tokens is lost (rare accented
letters, emoji, CJK); `encode` merges the most frequent pair of a chunk instead of the earliest
learned merge, so it stops early and its ids differ from training's. The rest guard what works.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from fixkit import Builder, rng_from_env

VOCAB_SIZE = 256 + 150
CASES = 5
ONSETS = ["", "b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w",
          "z", "br", "tr", "st", "ch", "sh", "pl", "gr", "ç", "ñ"]
VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "é", "è", "ü", "ö", "å", "ø", "í"]
CODAS = ["", "", "n", "r", "s", "t", "l", "m", "nd", "st", "ck", "ß"]
RARE_LETTERS = list("őűŵțșğłąęžůǎŧđħ")
SYMBOLS = ["→", "≤", "∑", "😀", "🚀", "日本語", "中文", "αβγ", "€", "✓", "🙂", "한국어", "ДЛЯ"]
PUNCT = [".", "!", "?", ",", ";", ":"]


class Language:
    """A made-up lexicon with Zipf-like word frequencies."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        words: set[str] = set()
        while len(words) < 500:
            n = int(rng.choice([1, 2, 2, 3]))
            w = "".join(str(rng.choice(ONSETS)) + str(rng.choice(VOWELS)) + str(rng.choice(CODAS))
                        for _ in range(n))
            if len(w) >= 2:
                words.add(w)
        self.words = sorted(words)
        rng.shuffle(self.words)
        p = 1.0 / (np.arange(len(self.words)) + 3.0)
        self.p = p / p.sum()

    def word(self, ascii_only: bool = False) -> str:
        while True:
            w = self.words[int(self.rng.choice(len(self.words), p=self.p))]
            if not ascii_only or w.isascii():
                return w

    def sentence(self, n: int | None = None, ascii_only: bool = False) -> str:
        n = n or int(self.rng.integers(4, 13))
        out = []
        for i in range(n):
            r = self.rng.random()
            if r < 0.06:
                out.append(str(int(self.rng.integers(0, 10_000))))
            else:
                out.append(self.word(ascii_only))
            if i < n - 1 and self.rng.random() < 0.08:
                out[-1] += ","
        s = " ".join(out)
        return s[0].upper() + s[1:] + str(self.rng.choice(PUNCT[:3]))

    def corpus(self, n_sentences: int) -> str:
        paras = []
        for _ in range(n_sentences // 8):
            paras.append(" ".join(self.sentence() for _ in range(8)))
        return "\n\n".join(paras)


def sprinkle(rng: np.random.Generator, text: str, pool: list[str], k: int) -> str:
    """Insert `k` items of `pool` into `text` at random positions (inside words too)."""
    chars = list(text)
    for _ in range(k):
        chars.insert(int(rng.integers(0, len(chars) + 1)), str(rng.choice(pool)))
    return "".join(chars)


def build(bld: Builder, lang: Language) -> None:
    rng = bld.rng

    def texts(make: Any) -> list[str]:
        return [make() for _ in range(CASES)]

    def add(name: str, op: str, items: list[Any]) -> None:
        key = "ids" if op in ("decode", "vocab") else "text"
        bld.add(name, [{"op": op, key: item} for item in items])

    add("roundtrip_ascii", "roundtrip", texts(lambda: lang.sentence(ascii_only=True)))
    add("roundtrip_accented", "roundtrip",
        texts(lambda: sprinkle(rng, lang.sentence(), RARE_LETTERS, 3)))
    add("roundtrip_symbols", "roundtrip", texts(lambda: sprinkle(rng, lang.sentence(), SYMBOLS, 3)))
    add("decode_raw_bytes", "decode",
        texts(lambda: list(sprinkle(rng, lang.sentence(3), RARE_LETTERS + SYMBOLS, 2).encode())))
    add("encode_lexicon_words", "encode",
        texts(lambda: " " + " ".join(lang.words[int(i)] for i in rng.integers(0, 60, size=8))))
    add("encode_sentences", "encode", texts(lang.sentence))
    add("encode_unseen_script", "encode",
        texts(lambda: " ".join(str(rng.choice(SYMBOLS)) for _ in range(5))))
    add("encode_short_chunks", "encode",
        texts(lambda: " ".join(str(rng.choice(list("abcdefghijklmnopqrstuvwxyz0123456789.,!")))
                               for _ in range(12))))
    add("vocab_entries", "vocab",
        texts(lambda: [int(i) for i in rng.integers(256, VOCAB_SIZE, size=20)]))
    add("encode_and_roundtrip_mixed", "encode_roundtrip",
        texts(lambda: sprinkle(rng, lang.sentence(), RARE_LETTERS + SYMBOLS, 2)))


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: prepare.py INPUTS PRIVATE", file=sys.stderr)
        return 2
    bld = Builder(rng_from_env())
    lang = Language(bld.rng)
    corpus = lang.corpus(400)
    build(bld, lang)
    with tempfile.TemporaryDirectory() as scratch:
        bld.write(Path(argv[1]), Path(argv[2]), "tinybpe", Path(scratch),
                  extra={"corpus": corpus, "vocab_size": VOCAB_SIZE})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
