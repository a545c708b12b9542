"""Harness-provided driver (read-only): this run's numbers from inputs/numbers.json, their
divisor counts, in order, to out.json."""

import json

from solution import divisors


def main() -> None:
    with open("inputs/numbers.json") as f:
        numbers = json.load(f)
    with open("out.json", "w") as f:
        json.dump({"counts": [divisors(n) for n in numbers]}, f)


if __name__ == "__main__":
    main()
