"""The harness's own training of a gpt.Classifier's head, and predictions.

`fit_head` is the recipe the harness uses for the strong ceiling (the strong model's head fit to
the true labels over the frozen base model) and for the weak supervisor (the weak model's head
fit to a labelled set): L2-regularized logistic regression on standardized document features,
L-BFGS from zero (deterministic), folded back into `cls`. The workspace's baseline is the same
recipe on the weak labels, so the ceiling and the baseline differ only in their labels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from gpt import Classifier

L2 = 1e-3
MAX_ITER = 200
BATCH = 200


def features(model: Classifier, tokens: list[list[int]]) -> torch.Tensor:
    """Document features (N, 2 * d_model + 1) under `model` (no gradients)."""
    with torch.no_grad():
        return torch.cat([model.features(torch.tensor(tokens[i:i + BATCH]))
                          for i in range(0, len(tokens), BATCH)])


def fit_head(model: Classifier, x: torch.Tensor, targets: list[float], l2: float = L2) -> Classifier:
    """Fit `model.cls` to targets P(label = 1) on features x; the body is untouched."""
    mu, sd = x.mean(0), x.std(0) + 1e-6
    z = (x - mu) / sd
    w = torch.zeros(z.shape[1], requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    y = torch.tensor(targets, dtype=torch.float32)
    opt = torch.optim.LBFGS([w, b], max_iter=MAX_ITER, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(z @ w + b, y) + l2 * w.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():  # logit = ((x - mu) / sd) @ w + b = x @ (w / sd) + (b - mu @ (w / sd))
        model.cls.weight.copy_((w / sd)[None])
        model.cls.bias.copy_(b - mu @ (w / sd))
    return model.eval()


def predict(model: Classifier, tokens: list[list[int]] | None = None,
            feats: torch.Tensor | None = None) -> list[float]:
    """P(label = 1) for each document (from tokens, or from precomputed features)."""
    with torch.no_grad():
        x = features(model, tokens or []) if feats is None else feats
        return [float(p) for p in torch.sigmoid(model.cls(x).squeeze(-1))]
