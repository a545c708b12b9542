"""Causal self-attention, forward and backward. Edit me to make bench.py faster.

attention_forward_backward(q, k, v, dout) gets float32 tensors of shape (B, H, T, D) and
returns (out, dq, dk, dv), float32, same shape:
    out = softmax(q @ k^T / sqrt(D), position t attending to positions 0..t only) @ v
and dq, dk, dv the gradients of sum(out * dout) with respect to q, k and v.
"""

import math

import torch


def head_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """One head: q, k, v of shape (T, D)."""
    T, D = q.shape
    scores = q @ k.T / math.sqrt(D)
    mask = torch.tril(torch.ones(T, T))
    scores = scores.masked_fill(mask == 0, float("-inf"))
    scores = scores - scores.max(dim=-1, keepdim=True).values
    weights = torch.exp(scores)
    weights = weights / weights.sum(dim=-1, keepdim=True)
    return weights @ v


def causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    B, H, T, D = q.shape
    out = torch.empty_like(q)
    for b in range(B):
        for h in range(H):
            out[b, h] = head_attention(q[b, h], k[b, h], v[b, h])
    return out


def attention_forward_backward(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                               dout: torch.Tensor) -> tuple[torch.Tensor, ...]:
    q = q.detach().requires_grad_()
    k = k.detach().requires_grad_()
    v = v.detach().requires_grad_()
    out = causal_attention(q, k, v)
    dq, dk, dv = torch.autograd.grad(out, (q, k, v), dout)
    return out.detach(), dq, dk, dv
