"""posttrain reference recipe (hidden from researchers): supervised fine-tuning on a worked
answer in the language, on a schedule that ends within the time budget on any machine.

- Prompt (decode.json): the question `print a + b`, then `; print a`. The base model already
  completes `print a` with a's value (recall is a skill of the language), so the worked answer
  starts from a step the model can do, and the evaluator generates 12 tokens, not 15.
- Worked answer (trained, then generated): `va ; print b vb ; va + vb = t u`. Each step is a
  skill the base has (recall of a binding, a two-digit sum); what is new is the order: print
  the second variable, then copy both values into a sum. The evaluator reads the two digits
  after the first generated `=`.
- Loss: cross-entropy on the worked answer's tokens only, plus `lm_weight` x the next-token loss
  of the program tokens (replay: the model keeps the language).
- Data: fresh questions from questions.py (the evaluator's distribution), programs of at most
  `max_train_program` tokens: cheaper steps; the lookup learned does not depend on the length.
- Schedule: AdamW, linear warmup, cosine decay to 10% over the run's *progress*, the larger of
  step / steps and elapsed / time_budget_seconds. On a slow (shared) machine the schedule ends
  in time with fewer steps, fully decayed, instead of being cut at its peak learning rate.
- Cheaper steps: the embeddings and the lowest `frozen_blocks` blocks stay as pretrained.
- The log: steps, wall and CPU seconds of training, steps per second (to relate a run on a
  loaded machine to one on an idle machine).
"""

import time

T0 = time.time()  # before importing torch: on a loaded machine the import alone takes seconds

import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from gpt import GPT, load_weights, model_tensors, relative_distance, save_weights  # noqa: E402
import lang  # noqa: E402
from questions import render, sample_question  # noqa: E402

ID = lang.ID


def prompt_and_answer(program, a, b, ans, template):
    """The prompt (program + template) and the worked answer the model learns to generate after
    it: `va ; print b vb ; va + vb = t u` (the template ends with `print a`)."""
    env = {program[i + 1]: program[i + 2] for i in range(len(program) - 2) if program[i] == ID["let"]}
    va, vb = env[a], env[b]
    work = [va, ID[";"], ID["print"], b, vb, ID[";"], va, ID["+"], vb, ID["="], *ans]
    return render(program, a, b, template), work


def short_question(rng, max_program):
    """A question whose program has at most `max_program` tokens."""
    while True:
        q = sample_question(rng)
        if len(q[0]) <= max_program:
            return q


def batch(rng, n, max_program, template):
    """Right-padded prompt + worked answer rows, the answer-loss mask and the program-loss mask."""
    rows, plen, alen = [], [], []
    for _ in range(n):
        program, a, b, ans = short_question(rng, max_program)
        prompt, work = prompt_and_answer(program, a, b, ans, template)
        rows.append(prompt + work)
        plen.append(len(program))
        alen.append(len(prompt))
    width = max(map(len, rows))
    x = torch.tensor([r + [0] * (width - len(r)) for r in rows])
    ans_mask = torch.zeros(n, width - 1)
    lm_mask = torch.zeros(n, width - 1)
    for i in range(n):
        ans_mask[i, alen[i] - 1:len(rows[i]) - 1] = 1.0  # predictions of the worked answer
        lm_mask[i, : plen[i] - 1] = 1.0  # next-token predictions inside the program
    return x, ans_mask, lm_mask


def lr_at(cfg, step, progress):
    warm = min(1.0, (step + 1) / max(1, cfg["warmup_steps"]))
    return cfg["lr"] * warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def main():
    cfg = json.load(open("config.json"))
    template = json.load(open("decode.json"))["template"]
    seed = int(os.environ.get("RUBICON_SEED", "0"))
    torch.manual_seed(seed)
    # one thread: at this model size two threads cost ~10x more per step on a shared machine
    # (their barriers spin while the other thread waits for a core; docs/BENCHMARKS.md)
    torch.set_num_threads(min(cfg["threads"], int(os.environ.get("RUBICON_THREADS", "2"))))
    rng = random.Random(seed)
    base, _ = load_weights("base/base.rbw")
    model = GPT()
    model.load_state_dict(base)
    for m in [model.tok_emb, model.prev_emb, *model.blocks[:cfg["frozen_blocks"]]]:
        m.requires_grad_(False)  # as pretrained; no backward through them (cheaper steps)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg["lr"], betas=(0.9, 0.98), weight_decay=cfg["weight_decay"])
    steps, budget = cfg["steps"], cfg["time_budget_seconds"]
    t_start, cpu_start = time.time(), time.process_time()
    print(f"start training {t_start - T0:.1f}s after start", flush=True)
    model.train()
    step = 0
    while step < steps:
        progress = max(step / steps, (time.time() - T0) / budget)
        if progress >= 1.0:
            print(f"time budget: stopping after {step} of {steps} steps", flush=True)
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(cfg, step, progress)
        x, ans_mask, lm_mask = batch(rng, cfg["batch_size"], cfg["max_train_program"], template)
        nll = F.cross_entropy(model(x[:, :-1]).transpose(1, 2), x[:, 1:], reduction="none")
        loss = (nll * ans_mask).sum() / ans_mask.sum()
        if cfg["lm_weight"]:
            loss = loss + cfg["lm_weight"] * (nll * lm_mask).sum() / lm_mask.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        if step % 50 == 0 or step == 1:
            print(f"step {step} loss {loss.item():.4f} lr {g['lr']:.2e} {time.time() - T0:.0f}s", flush=True)
    wall, cpu = time.time() - t_start, time.process_time() - cpu_start
    print(f"trained {step} steps in {wall:.1f} s wall, {cpu:.1f} s CPU: {step / max(wall, 1e-9):.2f} "
          f"steps/s, {cpu / max(step, 1):.3f} CPU s/step", flush=True)
    model.eval()
    tensors = model_tensors(model)
    print(f"distance from base {relative_distance(tensors, base):.4f}", flush=True)
    save_weights("model.rbw", tensors, {"recipe": "reference sft", "steps": step})
    print(f"exported {time.time() - T0:.1f}s after start", flush=True)


if __name__ == "__main__":
    main()
