"""One training run of the sweep."""

import torch
import torch.nn.functional as F

from sweep.data import windows
from sweep.model import MLPLM
from sweep.utils import grad_norm, warmup_cosine


def train_run(cfg, lr, warmup, train_tokens, val_tokens, device):
    """Train one model with peak learning rate `lr` and `warmup` warmup steps; return its
    validation-loss curve and final validation loss."""
    X, y = windows(train_tokens, cfg["context"])
    Xv, yv = windows(val_tokens, cfg["context"])
    model = MLPLM(cfg["vocab"], cfg["context"], cfg["emb"], cfg["hidden"]).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=cfg["weight_decay"])
    sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup_cosine(warmup, cfg["steps"]))
    curve = []
    for step in range(cfg["steps"]):
        idx = torch.randint(0, len(X), (cfg["batch_size"],))
        loss = F.cross_entropy(model(X[idx].to(device)), y[idx].to(device))
        opt.zero_grad()
        loss.backward()
        grad_norm(model.parameters())
        opt.step()
        sched.step()
        if (step + 1) % cfg["eval_every"] == 0 or step + 1 == cfg["steps"]:
            with torch.no_grad():
                val = F.cross_entropy(model(Xv.to(device)), yv.to(device)).item()
            curve.append({"step": step + 1, "val_loss": val})
    return {"curve": curve, "final_val_loss": curve[-1]["val_loss"]}
