"""Harness-provided driver (read-only): runs problem.STEPS AdamW steps (optim.py) on the
synthetic problem made from RUBICON_SEED (problem.py) and writes the final state for the
evaluator: state.f32, raw little-endian float32, all parameters then all first moments then
all second moments, each in parameter order; run.json, the seed and the step count.
"""

import json
import os
import sys

import torch

from optim import AdamW
from problem import HYPER, STEPS, Problem, lr_at


def main() -> None:
    seed = int(os.environ.get("RUBICON_SEED", "0"))
    torch.set_num_threads(int(os.environ.get("RUBICON_THREADS", "1")))
    problem = Problem(seed)
    params = [p.clone() for p in problem.init]
    opt = AdamW(params, HYPER["lr"], HYPER["betas"], HYPER["eps"], HYPER["weight_decay"],
                HYPER["max_grad_norm"])
    with torch.no_grad():
        for step in range(1, STEPS + 1):
            opt.step(problem.grads(params, step), lr_at(step))
        m, v = opt.moments()
        state = list(params) + list(m) + list(v)
        if (len(state) != 3 * len(params) or
                any(s.shape != p.shape for s, p in zip(state, params + params + params))):
            sys.exit("AdamW.moments() must return two lists of tensors shaped like the parameters")
        flat = torch.cat([s.detach().float().reshape(-1) for s in state])
    with open("state.f32", "wb") as f:
        f.write(flat.numpy().astype("<f4").tobytes())
    with open("run.json", "w") as f:
        json.dump({"seed": seed, "steps": STEPS}, f)
    print(f"{STEPS} steps done")


if __name__ == "__main__":
    main()
