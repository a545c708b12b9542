"""Run the learning-rate x warmup sweep of the paper (Figure 1, Table 1).

    python run_sweep.py [configs/sweep.json]

Writes results/sweep.json: one entry per run, in the order lr-major, warmup-minor.
"""

import json
import os
import sys

import torch

from sweep.data import load_corpus
from sweep.train import train_run


def main(config_path="configs/sweep.json"):
    with open(config_path) as f:
        cfg = json.load(f)
    seed = int(os.environ.get("RUBICON_SEED", cfg["seed"]))
    device = torch.device(cfg["device"])
    train_tokens, val_tokens = load_corpus(cfg["data"])
    runs = []
    index = 0
    for lr in cfg["lrs"]:
        for warmup in cfg["warmups"]:
            out = train_run(cfg, lr, warmup, train_tokens, val_tokens, device)
            runs.append({"lr": lr, "warmup": warmup, "seed": seed + index, **out})
            print(f"lr {lr:<6} warmup {warmup:>3}: final val loss {out['final_val_loss']:.4f}")
            index += 1
            total = len(cfg["lrs"]) * len(cfg["warmups"])
            print(f"progress: {index}/{total}", flush=True)  # shown by rubicon as a progress bar
    os.makedirs("results", exist_ok=True)
    with open("results/sweep.json", "w") as f:
        json.dump(runs, f, indent=1)
    return runs


if __name__ == "__main__":
    main(*sys.argv[1:])
