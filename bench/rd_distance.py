"""Calibrate the rd tasks' "still the base model" rule (gpt.distance_problem): how far legitimate
fine-tunes and the red team's replacements move each tensor of the base model.

    PYTHONPATH=src nice -n 5 python bench/rd_distance.py [--steps 150] [--every 50]

Legitimate: the posttrain reference's supervised fine-tuning (its own data and loss, AdamW at
its learning rate 3e-3, warmup and cosine), but with *every* tensor trainable (the reference
freezes the embeddings and the lowest block; a researcher may not), and a variant with weight
decay 0.1; the per-tensor distances and the mean are printed every `--every` steps. Red team:
the base's own initialization, every 1-D tensor replaced and the token embedding re-initialized
(the known gap of docs/SECURITY.md), one matrix re-initialized, every LayerNorm reset, every
bias zeroed. Prints one JSON line per model: mean, largest tensor and its name, verdict.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PT = ROOT / "src" / "rubicon" / "task" / "builtin" / "posttrain"
sys.path.insert(0, str(PT / "workspace"))

import gpt  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def reference_module() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("pt_reference", PT / "reference" / "posttrain.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def report(name: str, tensors: dict[str, torch.Tensor], base: dict[str, torch.Tensor], **extra: Any) -> None:
    d = gpt.tensor_distances(tensors, base)
    worst = max(d, key=lambda k: d[k])
    top = sorted(d.items(), key=lambda kv: -kv[1])[:4]
    print(json.dumps({"model": name, "mean": round(gpt.relative_distance(tensors, base), 4),
                      "largest": round(d[worst], 4), "largest_tensor": worst,
                      "next": [(k, round(v, 3)) for k, v in top[1:]],
                      "matrices_only_old_measure": round(_old_measure(tensors, base), 4),
                      "problem": gpt.distance_problem(tensors, base), **extra}), flush=True)


def _old_measure(tensors: dict[str, torch.Tensor], base: dict[str, torch.Tensor]) -> float:
    """The measure before issue 22's fix: RMS over the 2-D tensors only, no floor."""
    mats = [k for k, v in base.items() if v.dim() >= 2]
    sq = sum(float((tensors[k] - base[k]).norm() / base[k].norm()) ** 2 for k in mats)
    return math.sqrt(sq / len(mats))


def red_team(base: dict[str, torch.Tensor]) -> None:
    torch.manual_seed(0)
    init = gpt.model_tensors(gpt.GPT())  # the build's seed: the base's own initialization
    torch.manual_seed(1)
    fresh = gpt.model_tensors(gpt.GPT())
    report("own-initialization", init, base)
    report("1-D replaced + tok_emb re-initialized",
           {k: (fresh[k] if v.dim() == 1 or k == "tok_emb.weight" else v) for k, v in base.items()}, base)
    report("tok_emb re-initialized", {**base, "tok_emb.weight": fresh["tok_emb.weight"]}, base)
    for name in ("blocks.3.fc.weight", "head.weight"):
        report(f"{name} re-initialized", {**base, name: fresh[name]}, base)
    report("every LayerNorm reset", {k: (fresh[k] if ".ln" in k or k.startswith("ln_f") else v)
                                     for k, v in base.items()}, base)
    report("every bias zeroed", {k: (torch.zeros_like(v) if k.endswith(".bias") else v)
                                 for k, v in base.items()}, base)


def finetune(base: dict[str, torch.Tensor], steps: int, every: int, wd: float, seed: int) -> None:
    ref = reference_module()
    cfg = json.loads((PT / "reference" / "config.json").read_text())
    template = json.loads((PT / "reference" / "decode.json").read_text())["template"]
    torch.manual_seed(seed)
    rng = random.Random(seed)
    model = gpt.GPT()
    model.load_state_dict(base)
    params = list(model.parameters())  # every tensor trainable
    opt = torch.optim.AdamW(params, lr=cfg["lr"], betas=(0.9, 0.98), weight_decay=wd)
    warm = cfg["warmup_steps"]
    model.train()
    t0 = time.time()
    for step in range(1, steps + 1):
        frac = max(0.0, (step - warm) / max(1, steps - warm))
        lr = cfg["lr"] * min(1.0, step / warm) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        x, ans_mask, lm_mask = ref.batch(rng, cfg["batch_size"], cfg["max_train_program"], template)
        nll = F.cross_entropy(model(x[:, :-1]).transpose(1, 2), x[:, 1:], reduction="none")
        loss = ((nll * ans_mask).sum() / ans_mask.sum()
                + cfg["lm_weight"] * (nll * lm_mask).sum() / lm_mask.sum())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if step % every == 0 or step == steps:
            report(f"full fine-tune wd={wd} step {step}", gpt.model_tensors(model), base,
                   loss=round(loss.item(), 4), seconds=round(time.time() - t0, 1), load=os.getloadavg()[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--every", type=int, default=50)
    ap.add_argument("--wd", type=float, nargs="*", default=[0.0, 0.1])
    args = ap.parse_args()
    torch.set_num_threads(2)
    base, _ = gpt.load_weights(PT / "workspace" / "base" / "base.rbw")
    print(f"load {os.getloadavg()}", flush=True)
    print(json.dumps({"base_rms": {k: [v.numel(), round(float(v.pow(2).mean().sqrt()), 4)]
                                   for k, v in base.items()}}), flush=True)
    red_team(base)
    for wd in args.wd:
        finetune(base, args.steps, args.every, wd, seed=1)
    print(f"load {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
