"""A tanh MLP with optional residual connections, forward and backward by hand (numpy)."""

import numpy as np


class MLP:
    """in -> width (tanh) -> [width (tanh), with h + f(h) if residual] x (depth - 1) -> classes."""

    def __init__(self, n_in, width, depth, n_classes, residual, rng):
        self.residual = residual
        dims = [n_in] + [width] * depth
        self.W = [rng.normal(0.0, 1.0 / np.sqrt(a), size=(a, b)) for a, b in zip(dims, dims[1:])]
        self.b = [np.zeros(b) for b in dims[1:]]
        self.W_out = rng.normal(0.0, 1.0 / np.sqrt(width), size=(width, n_classes))
        self.b_out = np.zeros(n_classes)

    def params(self):
        return self.W + self.b + [self.W_out, self.b_out]

    def forward(self, X):
        hs = [X]
        h = X
        for i, (W, b) in enumerate(zip(self.W, self.b)):
            z = np.tanh(h @ W + b)
            h = h + z if (self.residual and i > 0) else z
            hs.append(h)
        return h @ self.W_out + self.b_out, hs

    def backward(self, hs, dlogits):
        """Gradients in the order of params()."""
        dW, db = [None] * len(self.W), [None] * len(self.b)
        dW_out = hs[-1].T @ dlogits
        db_out = dlogits.sum(axis=0)
        dh = dlogits @ self.W_out.T
        for i in reversed(range(len(self.W))):
            h_in, h_out = hs[i], hs[i + 1]
            z = h_out - h_in if (self.residual and i > 0) else h_out
            dz = dh * (1.0 - z * z)
            dW[i] = h_in.T @ dz
            db[i] = dz.sum(axis=0)
            dh_in = dz @ self.W[i].T
            dh = dh + dh_in if (self.residual and i > 0) else dh_in
        return dW + db + [dW_out, db_out]


def softmax_cross_entropy(logits, y):
    """Mean cross-entropy and its gradient with respect to the logits."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = len(y)
    loss = -logp[np.arange(n), y].mean()
    grad = np.exp(logp)
    grad[np.arange(n), y] -= 1.0
    return loss, grad / n
