"""Train a small GPT on the synthetic language in data.py, then export it to model.pt2.

Settings come from config.json. The exported program maps int64 tokens of shape (32, 128) to
float32 log-probabilities of shape (32, 128, VOCAB_SIZE): position t predicts token t + 1 and may
only look at tokens 0..t.
"""

import json
import math
import os
import random
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from data import VOCAB_SIZE, sample_sequence

EVAL_BATCH = 32  # shape the harness's evaluator calls the exported model with
EVAL_CONTEXT = 128

with open("config.json") as f:
    cfg = json.load(f)

seed = int(os.environ.get("RUBICON_SEED", "1337"))
random.seed(seed)
torch.manual_seed(seed)
if cfg["threads"] > 0:
    torch.set_num_threads(cfg["threads"])


# ---- model -------------------------------------------------------------------------------------
class Head(nn.Module):
    """One head of causal self-attention."""

    def __init__(self, d_model, head_size, context):
        super().__init__()
        self.key = nn.Linear(d_model, head_size, bias=False)
        self.query = nn.Linear(d_model, head_size, bias=False)
        self.value = nn.Linear(d_model, head_size, bias=False)
        self.register_buffer("mask", torch.tril(torch.ones(context, context)))

    def forward(self, x):
        B, T, C = x.shape
        k = self.key(x)
        q = self.query(x)
        v = self.value(x)
        att = q @ k.transpose(-2, -1) / math.sqrt(k.shape[-1])
        att = att.masked_fill(self.mask[:T, :T] == 0, float("-inf"))
        att = F.softmax(att, dim=-1)
        return att @ v


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, n_head, context):
        super().__init__()
        head_size = d_model // n_head
        self.heads = nn.ModuleList([Head(d_model, head_size, context) for _ in range(n_head)])
        self.proj = nn.Linear(d_model, d_model)

    def forward(self, x):
        out = torch.cat([h(x) for h in self.heads], dim=-1)
        return self.proj(out)


class MLP(nn.Module):
    def __init__(self, d_model):
        super().__init__()
        self.fc = nn.Linear(d_model, 4 * d_model)
        self.proj = nn.Linear(4 * d_model, d_model)

    def forward(self, x):
        return self.proj(F.gelu(self.fc(x)))


class Block(nn.Module):
    def __init__(self, d_model, n_head, context):
        super().__init__()
        self.ln1 = nn.LayerNorm(d_model)
        self.attn = MultiHeadAttention(d_model, n_head, context)
        self.ln2 = nn.LayerNorm(d_model)
        self.mlp = MLP(d_model)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        x = x + self.mlp(self.ln2(x))
        return x


class GPT(nn.Module):
    def __init__(self, vocab_size, d_model, n_layer, n_head, context):
        super().__init__()
        self.tok_emb = nn.Embedding(vocab_size, d_model)
        self.pos_emb = nn.Embedding(context, d_model)
        self.blocks = nn.ModuleList([Block(d_model, n_head, context) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)

    def forward(self, idx):
        B, T = idx.shape
        pos = torch.arange(T, device=idx.device)
        x = self.tok_emb(idx) + self.pos_emb(pos)
        for block in self.blocks:
            x = block(x)
        logits = self.head(self.ln_f(x))
        return logits


class LogProbs(nn.Module):
    """What gets exported: normalized log-probabilities in float32."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, idx):
        return F.log_softmax(self.model(idx).float(), dim=-1)


# ---- data --------------------------------------------------------------------------------------
def get_batch(rng, batch_size, context):
    xs, ys = [], []
    for _ in range(batch_size):
        tokens, _ = sample_sequence(rng, context)
        xs.append(torch.tensor(tokens[:-1]))
        ys.append(torch.tensor(tokens[1:]))
    return torch.stack(xs), torch.stack(ys)


def lr_at(step):
    lr = cfg["lr"]
    if step < cfg["warmup_steps"]:
        return lr * (step + 1) / cfg["warmup_steps"]
    if cfg["schedule"] == "cosine":
        progress = step / cfg["steps"]
        return lr * 0.5 * (1 + math.cos(math.pi * progress))
    if cfg["schedule"] == "linear":
        return lr * (1 - step / cfg["steps"])
    return lr


@torch.no_grad()
def evaluate(model, val_x, val_y):
    model.eval()
    losses = []
    for i in range(0, len(val_x), cfg["batch_size"]):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg["dtype"] == "bfloat16"):
            logits = model(val_x[i : i + cfg["batch_size"]])
        loss = F.cross_entropy(logits.float().reshape(-1, VOCAB_SIZE),
                               val_y[i : i + cfg["batch_size"]].reshape(-1))
        losses.append(loss.item())
    model.train()
    return sum(losses) / len(losses)


def main():
    t0 = time.time()
    context = cfg["context"]
    model = GPT(VOCAB_SIZE, cfg["d_model"], cfg["n_layer"], cfg["n_head"], EVAL_CONTEXT)
    print(f"parameters: {sum(p.numel() for p in model.parameters()):,}")
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg["lr"],
                                  weight_decay=cfg["weight_decay"])
    step_fn = torch.compile(model) if cfg["compile"] else model

    train_rng = random.Random(seed)
    val_rng = random.Random(12345)  # our own validation set; the harness uses fresh data
    val_x, val_y = get_batch(val_rng, cfg["eval_sequences"], EVAL_CONTEXT)

    for step in range(cfg["steps"]):
        if step % cfg["eval_interval"] == 0:
            val_loss = evaluate(model, val_x, val_y)
            print(f"step {step:5d}  val_loss {val_loss:.4f}  time {time.time() - t0:.1f}s",
                  flush=True)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step)
        x, y = get_batch(train_rng, cfg["batch_size"], context)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg["dtype"] == "bfloat16"):
            logits = step_fn(x)
        loss = F.cross_entropy(logits.float().reshape(-1, VOCAB_SIZE), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if (step + 1) % 10 == 0 or step + 1 == cfg["steps"]:
            print(f"progress: {step + 1}/{cfg['steps']}", flush=True)  # docs/TASKS.md

    val_loss = evaluate(model, val_x, val_y)
    print(f"final  val_loss {val_loss:.4f}  time {time.time() - t0:.1f}s", flush=True)

    model.eval()
    wrapped = LogProbs(model)
    example = torch.zeros(EVAL_BATCH, EVAL_CONTEXT, dtype=torch.long)
    torch.export.save(torch.export.export(wrapped, (example,)), "model.pt2")
    print(f"exported model.pt2  time {time.time() - t0:.1f}s")


if __name__ == "__main__":
    main()
