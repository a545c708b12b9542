"""weak-to-strong must need research (issue 22): the secret rule is drawn from a space too large
to enumerate, so a hand-written checker of the language that knows the fault kinds can no longer
label the documents itself. The red team's labellers (_w2s_hand.py) are compared in-process with
the baseline and the reference on one evaluation seed; the same comparison over three seeds at
the task's sizes, before and after the fix, is in docs/BENCHMARKS.md ("weak-to-strong by hand").
"""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from ._w2s_hand import compare, evaluator_modules, faults

torch = pytest.importorskip("torch")

SEED = 2000
SIZES = (800, 1200, 800)  # weak, train, test documents (the task: 1000, 2000, 1000)


@pytest.fixture(scope="module")
def result() -> dict[str, Any]:
    torch.set_num_threads(2)
    return compare(SEED, SIZES)


def test_the_hand_checker_finds_every_fault_and_its_value() -> None:
    """The attacker is competent: on generated documents its parser finds exactly the fault the
    generator made (kind and wrong token) and nothing in clean documents. Without this, a broken
    parser would make the next test pass for the wrong reason."""
    with evaluator_modules() as m:
        w2sdata, lang = m["w2sdata"], m["lang"]
        rng = random.Random(5)
        for kind in w2sdata.KINDS:
            for _ in range(40):
                tokens, pos = w2sdata.faulty(rng, kind, frozenset(w2sdata.VALUES[kind]))
                assert faults(tokens, lang) == [(kind, tokens[pos])], (kind, lang.decode(tokens))
        for _ in range(100):
            tokens = w2sdata.document(rng)[0]
            assert faults(tokens, lang) == [], lang.decode(tokens)


def test_the_rule_cannot_be_guessed_from_the_fault_kinds() -> None:
    """The class: every kind of the rule holds faults of both labels (so knowing a document's
    fault kind does not decide its label), and the rules are too many to enumerate."""
    with evaluator_modules() as m:
        w2sdata = m["w2sdata"]
        rules = [w2sdata.secret_rule(random.Random(s)) for s in range(50)]
        for rule in rules:
            for kind in w2sdata.RULE_KINDS:
                assert 0 < len(rule[kind]) < len(w2sdata.VALUES[kind])
            assert not rule["add"]
        assert len({tuple(sorted((k, tuple(sorted(v))) for k, v in r.items())) for r in rules}) == 50
        count = math.prod(math.comb(len(w2sdata.VALUES[k]), len(w2sdata.VALUES[k]) // 2)
                          for k in w2sdata.RULE_KINDS)
        assert count == 454_053_600  # too many to enumerate from 2000 weakly labelled documents
        rng = random.Random(1)
        rule = rules[0]
        labels: dict[str, set[int]] = {}
        for _ in range(400):
            _, y, kind = w2sdata.example(rng, rule)
            labels.setdefault(kind, set()).add(y)
        assert all(labels[k] == {0, 1} for k in w2sdata.RULE_KINDS), labels


def test_a_hand_labeller_of_the_fault_kinds_no_longer_beats_the_reference(result: dict[str, Any]) -> None:
    """Defence: the rule picks wrong tokens within each kind (w2sdata.secret_rule). Before it,
    this labeller reached PGR 1.0 on every seed, above the reference (docs/BENCHMARKS.md)."""
    assert result["parser_agreement"] > 0.99, result
    assert result["pgr_hand_kinds"] < result["pgr_reference"], result
    assert result["pgr_hand_kinds"] < 0.5, result


def test_the_honest_reference_still_beats_the_baseline(result: dict[str, Any]) -> None:
    assert result["ceiling"] - result["weak"] > 0.05, result
    assert result["pgr_reference"] > result["pgr_baseline"] + 0.1, result
