"""Reference solution (hidden from researchers; it calibrates the task's [score]): count with a
sorted prefix kept by the C-level bisect module, and import nothing else. The quadratic element
moves of list.insert are memmoves, cheap at these sizes."""

from bisect import bisect_right


def count_inversions(seq: list[int]) -> int:
    seen: list[int] = []
    count = 0
    for i, x in enumerate(seq):
        pos = bisect_right(seen, x)
        count += i - pos
        seen.insert(pos, x)
    return count
