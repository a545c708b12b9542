"""Harness-owned [prepare]: writes this run's numbers (from the run's seed) to
INPUTS/numbers.json; with --plant also INPUTS/cache.json, counts for those numbers of which a
few are planted wrong values (divkit.plant, from the secret seed), and which ones to
PRIVATE/planted.json for the evaluator.
usage: prepare.py INPUTS PRIVATE [--plant]  (env RUBICON_RUN_SEED, RUBICON_EVAL_SEED)"""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from divkit import divisors, numbers, plant  # noqa: E402


def main(argv: list[str]) -> int:
    if len(argv) not in (3, 4) or argv[3:] not in ([], ["--plant"]):
        print("usage: prepare.py INPUTS PRIVATE [--plant]", file=sys.stderr)
        return 2
    inputs, private = Path(argv[1]), Path(argv[2])
    nums = numbers(int(os.environ["RUBICON_RUN_SEED"]))
    (inputs / "numbers.json").write_text(json.dumps(nums))
    planted: dict[int, int] = {}
    if argv[3:] == ["--plant"]:
        planted = plant(nums, int(os.environ["RUBICON_EVAL_SEED"]))
        cache = {str(n): planted.get(i, divisors(n)) for i, n in enumerate(nums)}
        (inputs / "cache.json").write_text(json.dumps(cache, indent=0))
    (private / "planted.json").write_text(json.dumps({str(i): w for i, w in planted.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
