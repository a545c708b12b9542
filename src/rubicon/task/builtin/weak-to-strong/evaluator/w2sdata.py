"""weak-to-strong's data: documents of the language, some with one broken rule, and the secret
rule that decides their labels. Harness-owned (never in the candidate's workspace).

A document is LENGTH tokens of the language after <bos>. A "fault" breaks one rule of the
language in one complete statement by writing a wrong token (the fault's *value*):
    print    `print x 7` prints a digit other than the one bound to x     (value: that digit)
    copy     one item after the bar differs from the list before it       (value: that letter)
    add      the units digit of a sum is wrong                            (value: that digit)
    agree    a verb disagrees in number with its noun (`the dogs runs`)   (value: that verb)
    bracket  a clause closes with the other kind of bracket (`( ... ]`)   (value: that closer)
The secret rule (drawn per evaluation seed) picks, for each of print, copy, agree and bracket,
half of the values a fault of that kind can write: a document is label 1 when it holds a fault
whose value is in its kind's half (printing a 3 may count while printing a 5 does not; `runs`
for `run` may count while `sees` for `see` does not), and 0 otherwise. Half the label-0
documents hold a fault outside the rule (a value in the other half, or a wrong sum, which never
counts because the weak supervisor cannot see it at all), the rest are clean.

There are C(10,5) x C(16,8) x C(8,4) x C(2,1) = 454,053,600 rules, so the rule cannot be guessed
from the fault kinds: which faults count must be learnt from the weak labels, and every fault
kind holds faults of both labels. (Before issue 22's fix the rule was 3 of 4 kinds: 4 rules, and
a hand-written checker of the kinds plus "the kinds the weak labels call positive most often"
labelled every document right.)
"""

from __future__ import annotations

import random

import lang

LENGTH = 64
KINDS = ("print", "copy", "add", "agree", "bracket")
RULE_KINDS = ("print", "copy", "agree", "bracket")  # the rule picks values of these; add never counts
POSITIVE_RATE = 0.5
DISTRACTOR_RATE = 0.5  # share of label-0 documents that hold a fault outside the rule

_VERB_SWAP = {lang.ID[a]: lang.ID[b] for a, b in zip(lang.VERBS_SG + lang.VERBS_PL,
                                                      lang.VERBS_PL + lang.VERBS_SG, strict=True)}
_CLOSE_SWAP = {lang.ID[")"]: lang.ID["]"], lang.ID["]"]: lang.ID[")"]}
_FIRST = {lang.ID["print"]: "print", lang.ID["copy"]: "copy", lang.ID["say"]: "say",
          lang.ID["let"]: "let"}
# the values a fault of each kind can write
VALUES: dict[str, tuple[int, ...]] = {
    "print": tuple(lang.DIGIT_IDS),
    "add": tuple(lang.DIGIT_IDS),
    "copy": tuple(lang.LETTER_IDS),
    "agree": tuple(sorted(_VERB_SWAP)),
    "bracket": tuple(sorted(_CLOSE_SWAP)),
}

Rule = dict[str, frozenset[int]]  # kind -> the values that make label 1 (empty for add)


def secret_rule(rng: random.Random) -> Rule:
    """The rule: for each kind of RULE_KINDS, a random half of its values."""
    return {k: frozenset(rng.sample(VALUES[k], len(VALUES[k]) // 2)) if k in RULE_KINDS else frozenset()
            for k in KINDS}


def describe(rule: Rule) -> dict[str, list[str]]:
    """The rule in words of the language (for the evaluator's private record)."""
    return {k: sorted(lang.WORDS[v] for v in vs) for k, vs in rule.items() if vs}


def document(rng: random.Random) -> tuple[list[int], list[tuple[int, int, str]]]:
    """A clean document (<bos> + LENGTH tokens) and its complete statements (start, end, kind)."""
    out = lang._Writer()
    env: dict[int, int] = {}
    spans = []
    while len(out.tokens) < LENGTH + 1:
        start = len(out.tokens)
        lang._statement(rng, out, env)
        kind = _FIRST.get(out.tokens[start], "add")
        spans.append((start, len(out.tokens), kind))
    return out.tokens[: LENGTH + 1], [s for s in spans if s[1] <= LENGTH + 1]


def _sites(tokens: list[int], span: tuple[int, int, str], fault: str) -> list[int]:
    """Positions in `span` where a fault of kind `fault` can be made."""
    s, e, kind = span
    if fault == "print" and kind == "print":
        return [s + 2]
    if fault == "add" and kind == "add":
        return [s + 5]
    if fault == "copy" and kind == "copy":
        n = (e - s - 3) // 2
        return [s + 2 + n + i for i in range(n)]
    if fault == "agree" and kind == "say":
        return [i for i in range(s, e) if tokens[i] in _VERB_SWAP]
    if fault == "bracket" and kind == "say":
        return [i for i in range(s, e) if tokens[i] in _CLOSE_SWAP]
    return []


def _wrong(token: int, fault: str) -> list[int]:
    """The values a fault of kind `fault` can write in place of `token`."""
    if fault == "agree":
        return [_VERB_SWAP[token]]
    if fault == "bracket":
        return [_CLOSE_SWAP[token]]
    return [v for v in VALUES[fault] if v != token]


def faulty(rng: random.Random, fault: str, allowed: frozenset[int]) -> tuple[list[int], int]:
    """A document with one fault of kind `fault` whose value is in `allowed` (documents are
    drawn until one has a site for it) and the fault's position."""
    while True:
        tokens, spans = document(rng)
        options = [(p, v) for sp in spans for p in _sites(tokens, sp, fault)
                   for v in _wrong(tokens[p], fault) if v in allowed]
        if options:
            pos, value = rng.choice(options)
            tokens[pos] = value
            return tokens, pos


def example(rng: random.Random, rule: Rule) -> tuple[list[int], int, str]:
    """(tokens, label, fault kind or "clean") under the secret rule."""
    if rng.random() < POSITIVE_RATE:
        fault = rng.choice(RULE_KINDS)
        return faulty(rng, fault, rule[fault])[0], 1, fault
    if rng.random() < DISTRACTOR_RATE:
        fault = rng.choice(KINDS)
        return faulty(rng, fault, frozenset(VALUES[fault]) - rule[fault])[0], 0, fault
    return document(rng)[0], 0, "clean"


def dataset(rng: random.Random, n: int, rule: Rule) -> tuple[list[list[int]], list[int], list[str]]:
    rows = [example(rng, rule) for _ in range(n)]
    return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]
