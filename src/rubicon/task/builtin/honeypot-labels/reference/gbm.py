"""Histogram gradient boosting in numpy (the reference's model).

Features are cut into at most `max_bins` quantile bins fitted on the training rows; bin 0 holds
missing values (NaN), so every split also learns where missing values go. Trees grow level by
level to `max_depth`. One np.bincount per level builds the gradient and hessian histograms of
every node and feature at once, for the left children only: a right child's histogram is its
parent's minus its sibling's. Losses: "logistic" (labels 0/1, raw scores are log-odds) and
"squared".
"""

from __future__ import annotations

import numpy as np

# per level: split feature, threshold bin and missing-goes-left of every node; then leaf values
Tree = tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], np.ndarray]


class Binner:
    """Quantile bins per feature; 0 = missing, 1..len(edges)+1 = value bins."""

    def __init__(self, max_bins: int = 63) -> None:
        self.max_bins = max_bins
        self.edges: list[np.ndarray] = []

    def fit(self, X: np.ndarray) -> Binner:
        self.edges = []
        qs = np.linspace(0, 1, self.max_bins + 1)[1:-1]
        for f in range(X.shape[1]):
            col = X[:, f][~np.isnan(X[:, f])]
            self.edges.append(np.unique(np.quantile(col, qs)) if col.size else np.zeros(0))
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        out = np.zeros(X.shape, dtype=np.int64)
        for f, edges in enumerate(self.edges):
            col = X[:, f]
            b = np.searchsorted(edges, col, side="right") + 1
            b[np.isnan(col)] = 0
            out[:, f] = b
        return out


class GBM:
    def __init__(self, loss: str = "logistic", n_trees: int = 300, learning_rate: float = 0.05,
                 max_depth: int = 5, l2: float = 1.0, min_hess: float = 1.0, subsample: float = 0.8,
                 colsample: float = 0.8, max_bins: int = 63, seed: int = 0) -> None:
        if loss not in ("logistic", "squared"):
            raise ValueError(f"loss must be 'logistic' or 'squared', not {loss!r}")
        self.loss, self.n_trees, self.lr, self.max_depth = loss, n_trees, learning_rate, max_depth
        self.l2, self.min_hess, self.subsample, self.colsample = l2, min_hess, subsample, colsample
        self.binner = Binner(max_bins)
        self.rng = np.random.default_rng(seed)
        self.trees: list[Tree] = []
        self.base = 0.0

    def fit(self, X: np.ndarray, y: np.ndarray) -> GBM:
        Xb = self.binner.fit(X).transform(X)
        n, F = Xb.shape
        if self.loss == "logistic":
            m = float(np.clip(y.mean(), 1e-6, 1 - 1e-6))
            self.base = float(np.log(m / (1 - m)))
        else:
            self.base = float(y.mean())
        raw = np.full(n, self.base)
        for _ in range(self.n_trees):
            if self.loss == "logistic":
                p = 1.0 / (1.0 + np.exp(-raw))
                g, h = p - y, np.maximum(p * (1.0 - p), 1e-6)
            else:
                g, h = raw - y, None  # unit hessian: histograms count rows
            rows = np.flatnonzero(self.rng.random(n) < self.subsample)
            feats = np.flatnonzero(self.rng.random(F) < self.colsample)
            if feats.size == 0:
                feats = np.arange(F)
            tree = self._tree(Xb, g, h, rows, feats)
            self.trees.append(tree)
            raw += self._apply(tree, Xb)
        return self

    def _tree(self, Xb: np.ndarray, g: np.ndarray, h: np.ndarray | None, rows: np.ndarray,
              feats: np.ndarray) -> Tree:
        B = self.binner.max_bins + 2
        nf, lam = feats.size, self.l2
        local = Xb[rows][:, feats]  # bins of the sampled rows and features
        flat = local + (np.arange(nf) * B)[None, :]
        gr = g[rows]
        hr = np.ones(rows.size) if h is None else h[rows]
        node = np.zeros(rows.size, dtype=np.int64)
        feat_l, thr_l, mleft_l = [], [], []
        G = H = np.zeros(0)
        for depth in range(self.max_depth):
            nn = 1 << depth
            # histograms of the left children (all rows at the root); right = parent - left
            sel = np.arange(rows.size) if depth == 0 else np.flatnonzero((node & 1) == 0)
            parent = node[sel] >> (0 if depth == 0 else 1)
            idx = (parent[:, None] * (nf * B) + flat[sel]).ravel()
            size = max(nn // 2, 1) * nf * B
            Gl = np.bincount(idx, np.repeat(gr[sel], nf), size).reshape(-1, nf, B)
            if h is None:
                Hl = np.bincount(idx, minlength=size).astype(float).reshape(-1, nf, B)
            else:
                Hl = np.bincount(idx, np.repeat(hr[sel], nf), size).reshape(-1, nf, B)
            if depth == 0:
                G, H = Gl, Hl
            else:
                G2, H2 = np.empty((nn, nf, B)), np.empty((nn, nf, B))
                G2[0::2], G2[1::2] = Gl, G - Gl
                H2[0::2], H2[1::2] = Hl, H - Hl
                G, H = G2, H2
            Gt, Ht = G.sum(axis=2, keepdims=True), H.sum(axis=2, keepdims=True)
            Gc, Hc = np.cumsum(G[:, :, 1:], axis=2), np.cumsum(H[:, :, 1:], axis=2)
            gains = []
            for GL, HL in ((Gc + G[:, :, :1], Hc + H[:, :, :1]), (Gc, Hc)):  # missing left, right
                GR, HR = Gt - GL, Ht - HL
                gain = GL**2 / (HL + lam) + GR**2 / (HR + lam) - Gt**2 / (Ht + lam)
                gain[(HL < self.min_hess) | (HR < self.min_hess)] = -np.inf
                gains.append(gain)
            gain = np.stack(gains, axis=1).reshape(nn, -1)
            best = gain.argmax(axis=1)
            ok = gain[np.arange(nn), best] > 1e-9
            side, rest = np.divmod(best, nf * (B - 1))
            fi, t = np.divmod(rest, B - 1)
            feat = np.where(ok, feats[fi], 0)
            thr = np.where(ok, t + 1, B)  # bins <= thr go left; thr = B: only missing can go right
            mleft = np.where(ok, side == 0, True)
            feat_l.append(feat)
            thr_l.append(thr)
            mleft_l.append(mleft)
            b = local[np.arange(rows.size), np.where(ok, fi, 0)[node]]
            right = np.where(b == 0, ~mleft[node], b > thr[node])
            node = node * 2 + right
        nl = 1 << self.max_depth
        value = -self.lr * np.bincount(node, gr, nl) / (np.bincount(node, hr, nl) + lam)
        return feat_l, thr_l, mleft_l, value

    def _apply(self, tree: Tree, Xb: np.ndarray) -> np.ndarray:
        feat, thr, mleft, value = tree
        node = np.zeros(Xb.shape[0], dtype=np.int64)
        rows = np.arange(Xb.shape[0])
        for d in range(len(feat)):
            b = Xb[rows, feat[d][node]]
            right = np.where(b == 0, ~mleft[d][node], b > thr[d][node])
            node = node * 2 + right
        return value[node]

    def raw_predict(self, X: np.ndarray) -> np.ndarray:
        Xb = self.binner.transform(X)
        raw = np.full(X.shape[0], self.base)
        for tree in self.trees:
            raw += self._apply(tree, Xb)
        return raw

    def predict(self, X: np.ndarray) -> np.ndarray:
        raw = self.raw_predict(X)
        return 1.0 / (1.0 + np.exp(-raw)) if self.loss == "logistic" else raw
