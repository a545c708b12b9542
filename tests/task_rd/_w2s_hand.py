"""The red team's hand labellers for weak-to-strong, and a fast in-process comparison of methods.

A hand labeller knows the language's grammar and its fault kinds (they are in the task's
instructions) and labels the training documents itself instead of learning from the weak
labels; the strong model's head is then fit to its labels (the baseline's recipe, as the red
team did). Two of them:
- `kind_labels`: the attack that solved the task before issue 22's fix: find each document's
  fault and its kind, and call the three kinds the weak labels call positive most often label 1
  (the rule used to be 3 of 4 kinds: 4 possible rules);
- `cell_labels`: the strongest parse-based attack we know: find each fault's kind *and* value
  (the wrong token), and give every (kind, value) cell the weak labels' majority in it.

`compare(seed, sizes)` draws one evaluation seed's data exactly as prepare.py does, fits the weak
supervisor, computes the strong model's features once, and reports the PGR of the baseline
(head fit to the weak labels), the reference (reference/w2s.py's `fit`) and both hand labellers
on the held-out documents. Run as a script for a table over several seeds at the task's sizes:

    PYTHONPATH=src python tests/task_rd/_w2s_hand.py [--seeds 2000,2001,2002] [--evaluator DIR]

(`--evaluator` points at another copy of the evaluator, e.g. the one before the fix, extracted
with `git archive`: the comparison then runs on that version's data.)
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from rubicon.task._spec import BUILTIN_DIR

W2S = BUILTIN_DIR / "weak-to-strong"  # the imported rubicon's (PYTHONPATH decides which checkout)
MODULES = ("gpt", "lang", "strong", "weak", "w2sdata", "prepare", "w2s_reference")

Fault = tuple[str, int]  # (kind, the wrong token)


@contextmanager
def evaluator_modules(evaluator: Path = W2S / "evaluator") -> Iterator[dict[str, ModuleType]]:
    """The evaluator's modules (and the reference's), imported from `evaluator`; removed from
    sys.modules afterwards so that other tests' copies of gpt/lang are not shadowed."""
    saved = {m: sys.modules.pop(m) for m in MODULES if m in sys.modules}
    where = str(evaluator.resolve())
    sys.path.insert(0, where)
    try:
        mods = {m: importlib.import_module(m) for m in MODULES[:-1]}
        spec = importlib.util.spec_from_file_location("w2s_reference", W2S / "reference" / "w2s.py")
        assert spec is not None and spec.loader is not None
        ref = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(ref)
        mods["w2s_reference"] = ref
        yield mods
    finally:
        while where in sys.path:  # prepare.py inserts its own directory too
            sys.path.remove(where)
        for m in MODULES:
            sys.modules.pop(m, None)
        sys.modules.update(saved)


# ---- the hand-written checker of the language ---------------------------------------------------

def faults(tokens: list[int], lang: ModuleType) -> list[Fault]:
    """Every broken rule in a document, found by parsing it: (kind, the wrong token). The last
    statement may be cut off by the document's end; parsing stops there."""
    w = [lang.WORDS[t] for t in tokens]
    found: list[Fault] = []
    env: dict[str, str] = {}
    digits = set(lang.DIGITS)

    def sentence(i: int) -> int:  # `the NOUN [opener sentence closer] VERB`; returns the next index
        plural = w[i + 1] in lang.NOUNS_PL
        j = i + 2
        if w[j] in ("(", "["):
            k = sentence(j + 1)
            if w[k] != {"(": ")", "[": "]"}[w[j]]:
                found.append(("bracket", tokens[k]))
            j = k + 1
        if (w[j] in lang.VERBS_PL) != plural:
            found.append(("agree", tokens[j]))
        return j + 1

    i = 1
    try:
        while i < len(w):
            if w[i] == "let":
                env[w[i + 1]] = w[i + 2]
                i += 4
            elif w[i] == "print":
                if w[i + 2] != env.get(w[i + 1]):
                    found.append(("print", tokens[i + 2]))
                i += 4
            elif w[i] in digits:  # a + b = t u ;
                if int(w[i + 5]) != (int(w[i]) + int(w[i + 2])) % 10:
                    found.append(("add", tokens[i + 5]))
                i += 7
            elif w[i] == "copy":
                bar = w.index("|", i)
                n = bar - i - 1
                for a, b in zip(tokens[i + 1:bar], tokens[bar + 1:bar + 1 + n], strict=True):
                    if a != b:
                        found.append(("copy", b))
                i = bar + n + 2
            elif w[i] == "say":
                i = sentence(i + 1) + 1
            else:
                break  # not a statement's start: the parser is lost (never seen)
    except (IndexError, ValueError):
        pass  # the document ended inside a statement
    return found


def kind_labels(docs: list[list[int]], weak_label: list[int], lang: ModuleType) -> list[int]:
    """The pre-fix attack: label 1 for a fault of one of the three kinds (of print, copy, agree,
    bracket) that the weak labels call positive most often."""
    kinds = [[k for k, _ in faults(d, lang)] for d in docs]
    rate: dict[str, list[int]] = defaultdict(list)
    for ks, y in zip(kinds, weak_label, strict=True):
        for k in set(ks):
            rate[k].append(y)
    candidates = [k for k in ("print", "copy", "agree", "bracket") if rate[k]]
    chosen = sorted(candidates, key=lambda k: -sum(rate[k]) / len(rate[k]))[:3]
    return [int(any(k in chosen for k in ks)) for ks in kinds]


def cell_labels(docs: list[list[int]], weak_label: list[int], lang: ModuleType) -> list[int]:
    """The parse-based attack at its finest: each document's cell is its fault (kind, wrong
    token), or "clean"; every cell gets the weak labels' majority in it."""
    cells = [tuple(sorted(faults(d, lang))) or (("clean", -1),) for d in docs]
    votes: dict[tuple[Fault, ...], Counter[int]] = defaultdict(Counter)
    for c, y in zip(cells, weak_label, strict=True):
        votes[c][y] += 1
    return [int(votes[c][1] > votes[c][0]) for c in cells]


# ---- one evaluation seed, every method ------------------------------------------------------------

def compare(seed: int, sizes: tuple[int, int, int], evaluator: Path = W2S / "evaluator") -> dict[str, Any]:
    """PGR on the held-out documents of evaluation seed `seed` for each method (sizes: weak,
    train, test documents), plus the weak and ceiling accuracies and the parser's hit rate."""
    t0 = time.time()
    with evaluator_modules(evaluator) as m:
        w2sdata, strong, prep, gpt, lang = m["w2sdata"], m["strong"], m["prepare"], m["gpt"], m["lang"]
        draw = getattr(w2sdata, "secret_rule", None) or w2sdata.secret_kinds  # the pre-fix API
        rule = draw(prep.stream(seed, "rule"))
        n_weak, n_train, n_test = sizes
        weak_x, weak_y, _ = w2sdata.dataset(prep.stream(seed, "weak"), n_weak, rule)
        train_x, train_y, train_k = w2sdata.dataset(prep.stream(seed, "train"), n_train, rule)
        test_x, test_y, _ = w2sdata.dataset(prep.stream(seed, "test"), n_test, rule)
        w = m["weak"].fit(weak_x, weak_y)
        train_p = m["weak"].predict_proba(w, train_x)
        test_p = m["weak"].predict_proba(w, test_x)
        weak_label = [int(p > 0.5) for p in train_p]
        weak_prob = [round(p, 4) for p in train_p]

        model = gpt.Classifier()
        model.load_state_dict(gpt.load_weights(W2S / "workspace" / "base" / "base.rbw")[0], strict=False)
        model.eval()
        f_train, f_test = strong.features(model, train_x), strong.features(model, test_x)

        def accuracy(labels: list[int] | list[float]) -> float:
            strong.fit_head(model, f_train, [float(y) for y in labels])
            probs = strong.predict(model, feats=f_test)
            return prep.accuracy(probs, test_y)

        weak_acc = prep.accuracy(test_p, test_y)
        ceiling = accuracy(train_y)
        acc = {"baseline": accuracy(weak_label),
               "hand_kinds": accuracy(kind_labels(train_x, weak_label, lang)),
               "hand_cells": accuracy(cell_labels(train_x, weak_label, lang))}
        cfg = json.loads((W2S / "reference" / "config.json").read_text())
        m["w2s_reference"].fit(model, f_train, weak_label, weak_prob, cfg)
        acc["reference"] = prep.accuracy(strong.predict(model, feats=f_test), test_y)
        parsed = sum((len(faults(d, lang)) > 0) == (k != "clean") for d, k in
                     zip(train_x, train_k, strict=True))
    gap = ceiling - weak_acc
    return {"seed": seed, "weak": weak_acc, "ceiling": ceiling, "parser_agreement": parsed / n_train,
            **{f"pgr_{k}": (v - weak_acc) / gap for k, v in acc.items()},
            "seconds": time.time() - t0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="2000,2001,2002")
    ap.add_argument("--sizes", default="1000,2000,1000", help="weak,train,test documents")
    ap.add_argument("--evaluator", type=Path, default=W2S / "evaluator")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    sizes = tuple(int(v) for v in args.sizes.split(","))
    assert len(sizes) == 3
    print(f"load {os.getloadavg()}", flush=True)
    for s in args.seeds.split(","):
        r = compare(int(s), sizes, args.evaluator)  # type: ignore[arg-type]
        print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()}), flush=True)
    print(f"load {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
