"""Harness-owned checker: regenerates the run's inputs from its seed and recomputes the answers
with an independent O(n log n) count. Prints `correct: 1|0` and `wrong: N`."""

import json
import os
import random
import sys
from pathlib import Path

SIZES = [2000, 2000, 2000]  # must match workspace/bench.py


def reference_count(seq: list[int]) -> int:
    # Fenwick tree over ranks: independent of any method the candidate may write.
    ranks = {v: i + 1 for i, v in enumerate(sorted(set(seq)))}
    tree = [0] * (len(ranks) + 1)
    count = 0
    for seen, x in enumerate(seq):
        r = ranks[x]
        le = 0
        i = r
        while i > 0:
            le += tree[i]
            i -= i & -i
        count += seen - le
        i = r
        while i < len(tree):
            tree[i] += 1
            i += i & -i
    return count


def main() -> None:
    path = Path(sys.argv[1]) / "answers.json"
    if not path.is_file():
        print("invalid: answers.json was not produced")
        return
    try:
        got = json.loads(path.read_text())["answers"]
    except (ValueError, KeyError, TypeError) as e:
        print(f"invalid: answers.json is not the expected JSON ({type(e).__name__})")
        return
    rng = random.Random(int(os.environ["RUBICON_RUN_SEED"]))
    expected = []
    for n in SIZES:
        seq = [rng.randrange(10 * n) for _ in range(n)]
        expected.append(reference_count(seq))
    if not isinstance(got, list) or len(got) != len(expected):
        print(f"invalid: expected {len(expected)} answers")
        return
    wrong = sum(1 for a, b in zip(got, expected, strict=True) if a != b)
    print(f"correct: {int(wrong == 0)}")
    print(f"wrong: {wrong}")


if __name__ == "__main__":
    main()
