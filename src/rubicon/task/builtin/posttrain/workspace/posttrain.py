"""Post-train the base model so that it answers questions about programs (questions.py), then
export it as model.rbw; decode.json holds the decoding settings the evaluator uses.

This baseline does no post-training: it exports the base model unchanged, and decode.json asks
every question in the language's own words (`print a + b`): the naive prompt. The base model
has never seen a sum of two variables printed, so it almost never answers right.

The evaluator loads model.rbw into its own copy of gpt.GPT (no code of yours runs there), checks
that it is the base architecture and that its weights are within 0.4 (see
gpt.relative_distance) of the base model's, then asks fresh questions with a secret seed.
"""

import json
import os
import random
import time

import torch

from gpt import GPT, load_weights, model_tensors, relative_distance, save_weights

T0 = time.time()


def main():
    cfg = json.load(open("config.json"))
    seed = int(os.environ.get("RUBICON_SEED", "0"))
    rng = random.Random(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(int(os.environ.get("RUBICON_THREADS", "2")))
    base, meta = load_weights("base/base.rbw")
    model = GPT()
    model.load_state_dict(base)
    print(f"base model: {sum(v.numel() for v in base.values()):,} parameters, "
          f"pretraining loss {meta.get('val_loss')}", flush=True)

    # post-training goes here (the baseline does none; config.json holds settings for it)
    del cfg, rng

    model.eval()
    tensors = model_tensors(model)
    print(f"distance from base {relative_distance(tensors, base):.4f}  {time.time() - T0:.1f}s", flush=True)
    save_weights("model.rbw", tensors, {"recipe": "baseline: no post-training"})


if __name__ == "__main__":
    main()
