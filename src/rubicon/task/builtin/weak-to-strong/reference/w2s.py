"""weak-to-strong reference method (hidden from researchers): a neighbour vote in the strong
model's representation space, then training on the clearest votes.

The weak supervisor's mistakes are systematic per kind of document (it sees some faults and not
others) but not consistent within what the strong model sees as one kind: the documents whose
most surprising token looks alike to the strong model are mostly the same kind of document, and
the weak supervisor's average answer over them is right more often than its single answers.
- targets: the weak supervisor's probabilities (soft labels), averaged over each document's 25
  nearest neighbours by cosine similarity of the standardized features of its most surprising
  token (the strong model's hidden state there and its surprisal);
- select: the 80% of documents whose averaged target is furthest from 0.5, trained towards the
  hardened average;
- the head: logistic regression over the frozen base model, as in the baseline.
docs/BENCHMARKS.md "weak-to-strong calibration" has its PGR against the baselines.
"""

import json
import os
import time

import torch
import torch.nn.functional as F

from gpt import Classifier, load_weights, model_tensors, relative_distance, save_weights

T0 = time.time()


def select(feats, weak_label, weak_prob, cfg):
    """Indices of the documents to train on (the baseline: all of them)."""
    return list(range(len(weak_label)))


def targets(feats, weak_label, weak_prob, cfg):
    """Training target of each document, P(label = 1) (the baseline: the weak label)."""
    return [float(p) for p in weak_prob]


def neighbour_vote(feats, y, cfg):
    """Mean target over each document's nearest neighbours (itself excluded), by cosine
    similarity of the standardized features of its most surprising token."""
    top = feats[:, : feats.shape[1] // 2 + 1]
    z = F.normalize((top - top.mean(0)) / (top.std(0) + 1e-6), dim=1)
    near = (z @ z.T).topk(cfg["neighbours"] + 1, dim=1).indices[:, 1:]
    return torch.tensor(y, dtype=torch.float32)[near].mean(1).tolist()


def features(model, tokens):
    """Document features under the frozen model (see gpt.Classifier.features)."""
    with torch.no_grad():
        return torch.cat([model.features(torch.tensor(tokens[i:i + 200]))
                          for i in range(0, len(tokens), 200)])


def fit_head(model, x, y, cfg):
    """Logistic regression of y on standardized x (L2 penalty cfg["l2"], L-BFGS from zero),
    folded into model.cls."""
    mu, sd = x.mean(0), x.std(0) + 1e-6
    z = (x - mu) / sd
    w = torch.zeros(z.shape[1], requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    y = torch.tensor(y, dtype=torch.float32)
    opt = torch.optim.LBFGS([w, b], max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(z @ w + b, y) + cfg["l2"] * w.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        model.cls.weight.copy_((w / sd)[None])
        model.cls.bias.copy_(b - mu @ (w / sd))


def fit(model, feats, weak_label, weak_prob, cfg):
    """The method: the head of `model` fit from the weak labels over the frozen features `feats`;
    returns the indices of the documents it trained on."""
    y = targets(feats, weak_label, weak_prob, cfg)
    y = neighbour_vote(feats, y, cfg)
    keep = select(feats, weak_label, weak_prob, cfg)
    keep = sorted(keep, key=lambda i: -abs(y[i] - 0.5))[: max(1, int(cfg["neighbour_keep"] * len(keep)))]
    y = [float(v > 0.5) for v in y]
    fit_head(model, feats[keep], [y[i] for i in keep], cfg)
    return keep


def main():
    cfg = json.load(open("config.json"))
    torch.manual_seed(int(os.environ.get("RUBICON_SEED", "0")))
    torch.set_num_threads(int(os.environ.get("RUBICON_THREADS", "2")))
    data = json.load(open("inputs/train.json"))
    tokens, weak_label, weak_prob = data["tokens"], data["weak_label"], data["weak_prob"]

    base, _ = load_weights("base/base.rbw")
    model = Classifier()
    model.load_state_dict(base, strict=False)  # the head is fit below
    model.eval()
    feats = features(model, tokens)
    print(f"features of {len(tokens)} documents  {time.time() - T0:.0f}s", flush=True)

    keep = fit(model, feats, weak_label, weak_prob, cfg)
    print(f"head fit on {len(keep)} documents  {time.time() - T0:.0f}s", flush=True)

    tensors = model_tensors(model)
    print(f"distance from base {relative_distance(tensors, base):.4f}", flush=True)
    save_weights("strong.rbw", tensors, {"method": "neighbour vote, clearest votes"})


if __name__ == "__main__":
    main()
