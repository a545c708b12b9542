"""The benchmark's inputs (harness-provided, read-only; the evaluator has an identical copy).

Every call gets fresh inputs: q, k, v and the output gradient dout of one shape are a random
blend (torch.lerp with a random weight) of two different tensors from a pool drawn from the
run's seed, so no two calls see the same numbers. `proj` holds, per shape, the random
directions along which bench.py records every call's outputs.
"""

import math
import random
from collections.abc import Iterator

import torch

# (batch, heads, sequence length, head dimension)
SHAPES = [(1, 4, 64, 32), (2, 4, 128, 32), (4, 8, 32, 16), (2, 2, 64, 64), (8, 4, 16, 32),
          (4, 4, 32, 32)]
ROUNDS = 300  # every round calls the routine once per shape
POOL = 4
N_PROJ = 2  # random directions per output tensor


class Cases:
    def __init__(self, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        # pool[s][i] stacks q, k, v, dout of shape s
        self.pool = [torch.randn(POOL, 4, *shape, generator=g) for shape in SHAPES]
        self.proj = [torch.randn(math.prod(shape), N_PROJ, generator=g) for shape in SHAPES]
        self.rng = random.Random(seed)

    def calls(self) -> Iterator[tuple[int, torch.Tensor]]:
        """(shape index, stacked q/k/v/dout) for every call, in order."""
        for _ in range(ROUNDS):
            for s in range(len(SHAPES)):
                i = self.rng.randrange(POOL)
                j = (i + 1 + self.rng.randrange(POOL - 1)) % POOL  # j != i
                w = 0.05 + 0.9 * self.rng.random()
                yield s, torch.lerp(self.pool[s][i], self.pool[s][j], w)
