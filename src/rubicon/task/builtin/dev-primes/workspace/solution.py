"""Counts the primes below n for each query of bench.py. Editable."""

import json
from pathlib import Path

KNOBS = json.loads((Path(__file__).parent / "knobs.json").read_text())


def _is_prime_trial(k: int, odd: bool) -> bool:
    if k % 2 == 0:
        return k == 2
    d, step = (3, 2) if odd else (2, 1)
    while d * d <= k:
        if k % d == 0:
            return False
        d += step
    return True


def _trial(n: int, odd: bool) -> int:
    count = 1 if n > 2 else 0
    for k in range(3, n, 2 if odd else 1):
        if _is_prime_trial(k, odd):
            count += 1
    return count


def _sieve(n: int, odd: bool, slices: bool) -> bytearray:
    """flags[i] == 1 exactly when i < n is prime."""
    flags = bytearray([1]) * max(n, 2)
    flags[0] = flags[1] = 0
    if odd:  # even numbers cleared at once; only odd multiples of odd primes marked
        flags[4::2] = bytes(len(range(4, n, 2)))
    start, step = (3, 2) if odd else (2, 1)
    for i in range(start, int(n ** 0.5) + 1, step):
        if flags[i]:
            stride = 2 * i if odd else i
            if slices:
                flags[i * i::stride] = bytes(len(range(i * i, n, stride)))
            else:
                for j in range(i * i, n, stride):
                    flags[j] = 0
    return flags


def count_all(limits: list[int]) -> list[int]:
    """The number of primes below each limit."""
    method = KNOBS.get("method", "trial")
    odd = bool(KNOBS.get("odd_only", False))
    if method != "sieve":
        return [_trial(n, odd) for n in limits]
    slices = KNOBS.get("marking", "loop") == "slices"
    if KNOBS.get("reuse", False):
        flags = _sieve(max(limits), odd, slices)
        return [flags[:n].count(1) for n in limits]
    return [_sieve(n, odd, slices)[:n].count(1) for n in limits]
