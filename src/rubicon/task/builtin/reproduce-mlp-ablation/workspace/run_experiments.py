"""Run every experiment of the paper (Table 1) and write results/ablation.json.

    python run_experiments.py [configs/ablation.json]

Variant i is seeded with SEED + i, where SEED is $RUBICON_SEED if set (the artifact harness
sets it), else the config's "seed".
"""

import json
import os
import sys

from resmlp.data import load_spirals
from resmlp.train import train


def main(config_path="configs/ablation.json"):
    with open(config_path) as f:
        cfg = json.load(f)
    seed = int(os.environ.get("RUBICON_SEED", cfg["seed"]))
    data = load_spirals(cfg["data_path"])
    results = {}
    for i, variant in enumerate(cfg["variants"]):
        results[variant["name"]] = train(variant, data, cfg["epochs"], cfg["lr"], cfg["momentum"],
                                         cfg["batch_size"], seed + i)
        last = results[variant["name"]]["history"][-1]
        print(f"{variant['name']:>8}: train loss {last['train_loss']:.4f}  "
              f"train acc {last['train_acc']:.3f}  test acc {last['test_acc']:.3f}")
        print(f"progress: {i + 1}/{len(cfg['variants'])}", flush=True)  # shown as a progress bar
    os.makedirs("results", exist_ok=True)
    with open("results/ablation.json", "w") as f:
        json.dump(results, f, indent=1)
    return results


if __name__ == "__main__":
    main(*sys.argv[1:])
