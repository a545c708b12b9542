"""AdamW with global gradient-norm clipping. Edit me to make bench.py faster.

AdamW(params, lr, betas, eps, weight_decay, max_grad_norm) updates the float32 tensors in
`params` in place; step(grads, lr) performs one step t = 1, 2, ...:

    c = min(1, max_grad_norm / (||grads||_2 + 1e-6))   (one norm over all tensors together)
    for every parameter p with gradient g = c * grad and state m, v (zeros at first):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        p = p - lr * weight_decay * p        (only tensors with 2 or more dimensions)
        p = p - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)

moments() returns the lists (m, v) in parameter order.
"""

import math

import torch


class AdamW:
    def __init__(self, params: list[torch.Tensor], lr: float, betas: tuple[float, float],
                 eps: float, weight_decay: float, max_grad_norm: float) -> None:
        self.params = params
        self.lr, self.betas, self.eps = lr, betas, eps
        self.weight_decay, self.max_grad_norm = weight_decay, max_grad_norm
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]
        self.t = 0

    def clip_factor(self, grads: list[torch.Tensor]) -> float:
        total = 0.0
        for g in grads:
            total += (g * g).sum().item()
        return min(1.0, self.max_grad_norm / (math.sqrt(total) + 1e-6))

    def update(self, i: int, g: torch.Tensor, lr: float) -> None:
        beta1, beta2 = self.betas
        p = self.params[i]
        self.m[i] = beta1 * self.m[i] + (1 - beta1) * g
        self.v[i] = beta2 * self.v[i] + (1 - beta2) * g * g
        m_hat = self.m[i] / (1 - beta1 ** self.t)
        v_hat = self.v[i] / (1 - beta2 ** self.t)
        if p.dim() >= 2:
            p.sub_(lr * self.weight_decay * p)
        p.sub_(lr * m_hat / (torch.sqrt(v_hat) + self.eps))

    def step(self, grads: list[torch.Tensor], lr: float) -> None:
        self.t += 1
        clip = self.clip_factor(grads)
        for i in range(len(self.params)):
            self.update(i, grads[i] * clip, lr)

    def moments(self) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        return self.m, self.v
