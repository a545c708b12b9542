"""Harness-provided driver (read-only): random inputs from RUBICON_SEED, answers to answers.json.
Prints `progress: STEP/TOTAL` after each input (docs/TASKS.md, "Progress lines")."""

import json
import os
import random

from solution import count_inversions

SIZES = [2000, 2000, 2000]


def main() -> None:
    rng = random.Random(int(os.environ.get("RUBICON_SEED", "0")))
    answers = []
    for i, n in enumerate(SIZES):
        seq = [rng.randrange(10 * n) for _ in range(n)]
        answers.append(count_inversions(seq))
        print(f"progress: {i + 1}/{len(SIZES)}", flush=True)
    with open("answers.json", "w") as f:
        json.dump({"seed": os.environ.get("RUBICON_SEED", "0"), "answers": answers}, f)


if __name__ == "__main__":
    main()
