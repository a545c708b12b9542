"""posttrain's downstream task: what does `print a + b` print after a program in the language?

A question is a program (a document of the language: bindings, prints, sums, copies,
sentences; 16 to 80 tokens after <bos>, at least two variables bound) followed by a query
about two different bound variables a and b. The answer is the two digits of the sum of their
values, tens first, as the language writes sums (`let x 7 ; let y 8 ; ...` -> `1 5`).

The language never prints a sum of variables: the base model has every ingredient (finding
what a variable is bound to, adding two digits) but was never asked to combine them.

The evaluator renders a question as <bos> + program + the template of decode.json (default
`print a + b`, the naive prompt) and decodes greedily: the next two tokens, or (with
`answer_after` in decode.json) the two tokens after the first generated `answer_after` token.
"""

from __future__ import annotations

import random

import lang

PROGRAM_MIN, PROGRAM_MAX = 16, 80
DEFAULT_TEMPLATE = ["print", "A", "+", "B"]


def sample_question(rng: random.Random) -> tuple[list[int], int, int, list[int]]:
    """(program tokens with <bos>, variable a, variable b, answer token ids [tens, units])."""
    target = rng.randint(PROGRAM_MIN, PROGRAM_MAX)
    out = lang._Writer()
    env: dict[int, int] = {}
    while True:
        mark = len(out.tokens)
        lang._statement(rng, out, env)
        if len(out.tokens) - 1 > PROGRAM_MAX:  # too long: drop the statement and stop
            del out.tokens[mark:]
            break
        if len(out.tokens) - 1 >= target:
            break
    # bindings lost with a dropped statement: rebuild env from the kept tokens
    env = {out.tokens[i + 1]: lang.DIGIT_IDS.index(out.tokens[i + 2])
           for i in range(len(out.tokens) - 2) if out.tokens[i] == lang.ID["let"]}
    while len(env) < 2:  # too few bindings for a question: bind fresh variables at the end
        var = rng.choice([v for v in lang.VARIABLE_IDS if v not in env])
        env[var] = rng.randrange(10)
        out.tokens += [lang.ID["let"], var, lang.DIGIT_IDS[env[var]], lang.ID[";"]]
    a, b = rng.sample(sorted(env), 2)
    total = env[a] + env[b]
    return out.tokens, a, b, [lang.DIGIT_IDS[total // 10], lang.DIGIT_IDS[total % 10]]


def render(program: list[int], a: int, b: int, template: list[str]) -> list[int]:
    """The prompt: program + template, with "A" and "B" replaced by the two variables."""
    ids = {**lang.ID, **{w: lang.VOCAB_SIZE + i for i, w in enumerate(EXTRA_TOKENS)}}
    return program + [a if w == "A" else b if w == "B" else ids[w] for w in template]


EXTRA_TOKENS = ["?", "yes", "no", "<r3>", "<r4>", "<r5>"]  # gpt.EXTRA_TOKENS, ids 74-79
