"""Train the strong model (the pretrained base + a classification head, gpt.Classifier) from a
weak supervisor's labels, and export it as strong.rbw.

inputs/train.json (read-only, made for this run): "tokens" (documents: <bos> + 64 tokens),
"weak_label" (0/1, the weak supervisor's answer) and "weak_prob" (its probability of label 1).
The weak supervisor is often wrong; the true labels are held by the evaluator only.

This baseline is the plain method (Burns et al., 2023, naive training on weak labels, in their
linear-probe setting): the base model stays frozen and the head is fit to the weak labels by
logistic regression, as if they were true. `select` and `targets` are where the published
methods differ: which documents to train on, and what to train them towards.
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
    return [float(y) for y in weak_label]


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

    y = targets(feats, weak_label, weak_prob, cfg)
    keep = select(feats, weak_label, weak_prob, cfg)
    fit_head(model, feats[keep], [y[i] for i in keep], cfg)
    print(f"head fit on {len(keep)} documents  {time.time() - T0:.0f}s", flush=True)

    tensors = model_tensors(model)
    print(f"distance from base {relative_distance(tensors, base):.4f}", flush=True)
    save_weights("strong.rbw", tensors, {"method": "naive training on weak labels"})


if __name__ == "__main__":
    main()
