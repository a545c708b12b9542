"""Count inversions: pairs i < j with seq[i] > seq[j]. Edit me to make bench.py faster."""

import json
from pathlib import Path

KNOBS = json.loads((Path(__file__).parent / "knobs.json").read_text())


def count_naive(seq: list[int]) -> int:
    n = len(seq)
    count = 0
    for i in range(n):
        for j in range(i + 1, n):
            if seq[i] > seq[j]:
                count += 1
    return count


def count_insertion(seq: list[int]) -> int:
    raise NotImplementedError("insertion method not written yet")


def count_mergesort(seq: list[int], cutoff: int) -> int:
    def sort(a: list[int]) -> tuple[list[int], int]:
        if len(a) <= max(1, cutoff):
            return sorted(a), count_naive(a)
        mid = len(a) // 2
        left, x = sort(a[:mid])
        right, y = sort(a[mid:])
        merged: list[int] = []
        i = j = 0
        inv = x + y
        while i < len(left) and j < len(right):
            if left[i] <= right[j]:
                merged.append(left[i])
                i += 1
            else:
                merged.append(right[j])
                inv += len(left) - i
                j += 1
        merged += left[i:] + right[j:]
        return merged, inv

    return sort(list(seq))[1]


def count_inversions(seq: list[int]) -> int:
    method = KNOBS.get("method", "naive")
    if method == "insertion":
        return count_insertion(seq)
    if method == "mergesort":
        return count_mergesort(seq, int(KNOBS.get("cutoff", 1)))
    return count_naive(seq)
