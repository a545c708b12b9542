"""Harness-owned checker: regenerates the limits from the run's seed and counts with its own
sieve. Prints `correct: 1|0` and `wrong: N` (of `answers: M`)."""

import json
import os
import random
import sys
from pathlib import Path

QUERIES, LOW, HIGH = 30, 20000, 40000  # must match workspace/bench.py


def prime_counts(limits: list[int]) -> list[int]:
    top = max(limits)
    flags = [True] * top
    flags[0] = flags[1] = False
    for i in range(2, int(top ** 0.5) + 1):
        if flags[i]:
            for j in range(i * i, top, i):
                flags[j] = False
    below, running = [0] * (top + 1), 0
    for i in range(top):
        below[i] = running
        running += flags[i]
    below[top] = running
    return [below[n] for n in limits]


def main() -> None:
    path = Path(sys.argv[1]) / "counts.json"
    try:
        got = json.loads(path.read_text())["counts"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"invalid: counts.json missing or malformed ({type(e).__name__})")
        return
    rng = random.Random(int(os.environ["RUBICON_RUN_SEED"]))
    expected = prime_counts([rng.randrange(LOW, HIGH) for _ in range(QUERIES)])
    wrong = len(expected) if not isinstance(got, list) or len(got) != len(expected) else sum(
        1 for a, b in zip(got, expected, strict=True) if a != b)
    print(f"correct: {int(wrong == 0)}")
    print(f"wrong: {wrong}")
    print(f"answers: {len(expected)}")


if __name__ == "__main__":
    main()
