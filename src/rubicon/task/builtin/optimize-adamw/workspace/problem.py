"""The benchmark's problem (harness-provided, read-only; the evaluator has an identical copy).

A small transformer's parameter list (many small tensors), initial values drawn from the run's
seed, and synthetic gradients: at step t the gradient of parameter i is
    grad_i = curv_i * p_i + noise_i[t % NOISE]
(the gradient of a noisy quadratic bowl), so every step's gradient depends on the current
parameters and no step can be skipped or precomputed. As in data-parallel training, where
gradients land in flat buckets, the gradients are views into one flat buffer, in parameter
order; the same views are returned at every step, refilled.
"""

import math

import torch

D_MODEL, LAYERS, VOCAB, CONTEXT = 32, 12, 256, 64
STEPS = 2000
NOISE = 4
HYPER = {"lr": 3e-3, "betas": (0.9, 0.95), "eps": 1e-8, "weight_decay": 0.1, "max_grad_norm": 1.0}
WARMUP = 100


def shapes() -> list[tuple[int, ...]]:
    d = D_MODEL
    out: list[tuple[int, ...]] = [(VOCAB, d), (CONTEXT, d)]
    for _ in range(LAYERS):
        out += [(d,), (d,), (3 * d, d), (3 * d,), (d, d), (d,),  # norm, attention
                (d,), (d,), (4 * d, d), (4 * d,), (d, 4 * d), (d,)]  # norm, MLP
    return out + [(d,), (d,)]


def lr_at(step: int) -> float:
    """Learning rate of step 1..STEPS: linear warmup, then cosine decay to 10% of the peak."""
    peak = HYPER["lr"]
    if step <= WARMUP:
        return peak * step / WARMUP
    frac = (step - WARMUP) / (STEPS - WARMUP)
    return peak * (0.1 + 0.45 * (1 + math.cos(math.pi * frac)))


class Problem:
    def __init__(self, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.shapes = shapes()
        self.sizes = [math.prod(s) for s in self.shapes]
        n = sum(self.sizes)
        self.init = [torch.randn(s, generator=g) * 0.02 for s in self.shapes]
        self.curv = torch.rand(n, generator=g) + 0.5
        self.noise = [torch.randn(n, generator=g) for _ in range(NOISE)]
        self._p = torch.empty(n)
        self._g = torch.empty(n)
        self._views = [v.view(s) for v, s in zip(self._g.split(self.sizes), self.shapes, strict=True)]

    def grads(self, params: list[torch.Tensor], step: int) -> list[torch.Tensor]:
        """float32 gradients of step 1..STEPS at `params` (views of one flat buffer)."""
        torch.cat([p.reshape(-1) for p in params], out=self._p)
        torch.addcmul(self.noise[step % NOISE], self.curv, self._p, out=self._g)
        return self._views
