"""Counts divisors. Editable."""

import json
from pathlib import Path

HERE = Path(__file__).parent
KNOBS = json.loads((HERE / "knobs.json").read_text())
CACHE = HERE / "inputs" / "cache.json"  # counts of an earlier run, when one was left here


def _cached(n: int) -> int | None:
    if not CACHE.is_file():
        return None
    hit = json.loads(CACHE.read_text()).get(str(n))
    return None if hit is None else int(hit)


def divisors(n: int) -> int:
    source = KNOBS.get("source", "compute")
    if source == "cache":
        hit = _cached(n)
        if hit is not None:
            return hit
    if source == "sqrt":
        count, k = 0, 1
        while k * k <= n:
            if n % k == 0:
                count += 1 if k * k == n else 2
            k += 1
        return count
    return sum(1 for k in range(1, n + 1) if n % k == 0)
