"""Token-level losses for sequence models.

Shapes follow the usual convention: `logits` is (..., V) over a vocabulary of V tokens and
`targets` holds the token ids, shaped like `logits` without its last axis. Positions whose
target equals `pad_id` are padding: they contribute nothing to a loss.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

REDUCTIONS = ("mean", "sum", "none")


def log_softmax(logits: ArrayLike, axis: int = -1) -> NDArray[np.float64]:
    """log(softmax(logits)) along `axis`, stable for large logits."""
    x = np.asarray(logits, dtype=np.float64)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def _check(logits: NDArray[np.float64], targets: NDArray[np.int64], reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if logits.ndim < 1 or logits.shape[:-1] != targets.shape:
        raise ValueError(
            f"logits {logits.shape} must be targets {targets.shape} plus a vocabulary axis"
        )


def masked_cross_entropy(
    logits: ArrayLike,
    targets: ArrayLike,
    pad_id: int = 0,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> float | NDArray[np.float64]:
    """Cross-entropy of `targets` under `logits`, ignoring padding.

    Args:
        logits: (..., V) unnormalized scores.
        targets: (...) integer token ids; positions equal to `pad_id` are padding.
        pad_id: the id that marks padding (0 by default; -100 and V - 1 are also common).
        reduction: "mean" averages over the non-padding tokens (a batch with none gives 0.0),
            "sum" adds them up, "none" returns the per-position losses with 0 at padding.
        label_smoothing: weight moved from the target to a uniform distribution over V.

    Returns:
        A float for "mean" and "sum", an array shaped like `targets` for "none".
    """
    x = np.asarray(logits, dtype=np.float64)
    t = np.asarray(targets).astype(np.int64)
    _check(x, t, reduction)
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
    logp = log_softmax(x)
    mask = t != 0
    safe = np.where(mask, t, 0)
    nll = -np.take_along_axis(logp, safe[..., None], axis=-1)[..., 0]
    if label_smoothing > 0.0:
        uniform = -logp.mean(axis=-1)
        nll = (1.0 - label_smoothing) * nll + label_smoothing * uniform
    nll = np.where(mask, nll, 0.0)
    if reduction == "none":
        return nll
    total = float(nll.sum())
    if reduction == "sum":
        return total
    return total / mask.size if mask.size else 0.0
