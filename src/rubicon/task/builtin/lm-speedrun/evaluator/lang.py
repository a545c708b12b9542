"""A synthetic language for lm-speedrun: deterministic, no download, identical everywhere.

A document is a stream of statements. Every random choice the generator makes is visible in
the tokens it emits, so the generator knows the exact probability of every token given the
tokens before it. The mean of -log p over a sequence is therefore the best loss any model can
reach on it (the entropy floor).

Statements (examples with copy letters shown as a..p, variables as q..z, digits as 0..9):

    let x 7 ;                        bind variable x to a digit (each variable at most once)
    print x 7 ;                      recall: the digit bound to x earlier in the document
    3 + 4 = 0 7 ;                    add two digits (two answer digits)
    copy k b n | k b n ;             repeat a random list after the bar
    say the dogs ( the cat [ the hen runs ] sees ) eat ;
                                     nested clauses; each verb agrees in number with its
                                     noun; every bracket closes with its own kind

Recall and copy are most of what is predictable and both need a token to find what followed
an earlier token (an induction circuit: two attention layers). A model with one layer, or
without attention, cannot reach a tight target on this language.

Every run speaks its own variant of the language: the ids of all tokens but <bos> are shuffled
by a permutation derived from the run's seed (RUBICON_SEED), so a model trained before the run,
on the canonical ids or on another run's variant, is useless without remapping. Only the ids
change: the sequences, their probabilities and the entropy floor are those of the canonical
language. Without RUBICON_SEED the ids are the canonical ones.

Usage:
    rng = random.Random(seed)
    tokens, logps = sample_sequence(rng, 128)   # 129 tokens (BOS first), 128 log-probs
    # logps[i] = log p(tokens[i + 1] | tokens[: i + 1]) under the generating process
    # tokens are in this run's variant: canonical id i is written PERM[i]
"""

from __future__ import annotations

import math
import os
import random

# ---- vocabulary -------------------------------------------------------------------------------
DIGITS = [str(d) for d in range(10)]
LETTERS = list("abcdefghijklmnop")  # items of copy lists
VARIABLES = list("qrstuvwxyz")
NOUNS_SG = ["cat", "dog", "hen", "fox", "owl", "bee", "ant", "elk"]
NOUNS_PL = [n + "s" for n in NOUNS_SG]
VERBS_SG = ["runs", "sees", "eats", "sings"]
VERBS_PL = ["run", "see", "eat", "sing"]
SYMBOLS = ["<bos>", ";", "let", "print", "copy", "say", "=", "+", "|"]
BRACKETS = ["(", ")", "[", "]", "the"]
WORDS = SYMBOLS + BRACKETS + DIGITS + LETTERS + VARIABLES + NOUNS_SG + NOUNS_PL + VERBS_SG + VERBS_PL
VOCAB_SIZE = len(WORDS)  # 74
ID = {w: i for i, w in enumerate(WORDS)}
BOS = ID["<bos>"]
DIGIT_IDS = [ID[d] for d in DIGITS]
LETTER_IDS = [ID[x] for x in LETTERS]
VARIABLE_IDS = [ID[x] for x in VARIABLES]
NOUN_IDS = [ID[n] for n in NOUNS_SG + NOUNS_PL]  # index < 8: singular
CLOSER = {ID["("]: ID[")"], ID["["]: ID["]"]}


def variant(seed: object) -> list[int]:
    """The token-id permutation of the run with this seed: canonical id i is written as
    variant(seed)[i]; <bos> stays 0. None: the canonical ids."""
    ids = list(range(1, VOCAB_SIZE))
    if seed is not None:
        random.Random(f"lm-speedrun variant {seed}").shuffle(ids)
    return [BOS, *ids]


PERM = variant(os.environ.get("RUBICON_SEED"))  # this run's variant

# ---- process parameters ------------------------------------------------------------------------
STATEMENTS = {"let": 0.25, "print": 0.55, "add": 0.05, "copy": 0.1, "say": 0.05}
COPY_MIN, COPY_MAX = 2, 6
CLAUSE_PROB = [0.5, 0.4, 0.3, 0.0]  # chance of a nested clause at depth 0, 1, 2, 3


class _Writer:
    """Collects tokens and the log-probability of each one given everything before it."""

    def __init__(self) -> None:
        self.tokens: list[int] = [BOS]
        self.logps: list[float] = []

    def emit(self, token: int, p: float = 1.0) -> None:
        self.tokens.append(token)
        self.logps.append(math.log(p))


def _statement(rng: random.Random, out: _Writer, env: dict[int, int]) -> None:
    free = [v for v in VARIABLE_IDS if v not in env]
    kinds = [k for k in STATEMENTS
             if not (k == "print" and not env) and not (k == "let" and not free)]
    total = sum(STATEMENTS[k] for k in kinds)
    kind = rng.choices(kinds, weights=[STATEMENTS[k] for k in kinds])[0]
    p_kind = STATEMENTS[kind] / total

    if kind == "let":
        out.emit(ID["let"], p_kind)
        var = rng.choice(free)
        out.emit(var, 1 / len(free))
        value = rng.randrange(10)
        out.emit(DIGIT_IDS[value], 1 / 10)
        env[var] = value
    elif kind == "print":
        out.emit(ID["print"], p_kind)
        bound = sorted(env)
        var = rng.choice(bound)
        out.emit(var, 1 / len(bound))
        out.emit(DIGIT_IDS[env[var]])
    elif kind == "add":
        x, y = rng.randrange(10), rng.randrange(10)
        out.emit(DIGIT_IDS[x], p_kind / 10)  # a digit starts only this statement
        out.emit(ID["+"])
        out.emit(DIGIT_IDS[y], 1 / 10)
        out.emit(ID["="])
        out.emit(DIGIT_IDS[(x + y) // 10])
        out.emit(DIGIT_IDS[(x + y) % 10])
    elif kind == "copy":
        out.emit(ID["copy"], p_kind)
        n = rng.randint(COPY_MIN, COPY_MAX)
        items = [rng.choice(LETTER_IDS) for _ in range(n)]
        for i, item in enumerate(items):
            # P(length > i | length >= i) keeps the length uniform on [COPY_MIN, COPY_MAX]
            p_more = 1.0 if i < COPY_MIN else (COPY_MAX - i) / (COPY_MAX - i + 1)
            out.emit(item, p_more / 16)
        p_stop = 1.0 if n == COPY_MAX else 1 / (COPY_MAX - n + 1)
        out.emit(ID["|"], p_stop)
        for item in items:
            out.emit(item)
    else:  # say
        out.emit(ID["say"], p_kind)
        _sentence(rng, out, depth=0)
    out.emit(ID[";"])


def _sentence(rng: random.Random, out: _Writer, depth: int) -> None:
    out.emit(ID["the"])
    noun = rng.randrange(16)
    out.emit(NOUN_IDS[noun], 1 / 16)
    verbs = VERBS_SG if noun < 8 else VERBS_PL
    q = CLAUSE_PROB[depth]
    if rng.random() < q:
        opener = rng.choice([ID["("], ID["["]])
        out.emit(opener, q / 2)
        _sentence(rng, out, depth + 1)
        out.emit(CLOSER[opener])
        out.emit(ID[rng.choice(verbs)], 1 / 4)
    else:
        out.emit(ID[rng.choice(verbs)], (1 - q) / 4)


def sample_sequence(rng: random.Random, length: int,
                    perm: list[int] | None = None) -> tuple[list[int], list[float]]:
    """One sequence: BOS and `length` tokens, plus the true log-prob of each of those tokens.

    Token ids are in the variant `perm` (default: this run's, PERM)."""
    out = _Writer()
    env: dict[int, int] = {}
    while len(out.tokens) < length + 1:
        _statement(rng, out, env)
    p = PERM if perm is None else perm
    return [p[t] for t in out.tokens[: length + 1]], out.logps[:length]


def decode(tokens: list[int], perm: list[int] | None = None) -> str:
    """Words of tokens written in the variant `perm` (default: this run's)."""
    p = PERM if perm is None else perm
    word = {p[i]: w for i, w in enumerate(WORDS)}
    return " ".join(word[t] for t in tokens)


if __name__ == "__main__":
    r = random.Random(0)
    toks, lps = sample_sequence(r, 128)
    print(decode(toks))
    print(toks)
    n, tot = 0, 0.0
    for _ in range(2000):
        _, lps = sample_sequence(r, 128)
        n += len(lps)
        tot -= sum(lps)
    print(f"vocab {VOCAB_SIZE}  entropy floor {tot / n:.4f} nats/token")
