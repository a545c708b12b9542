"""lm-speedrun reference solution (hidden from researchers): the fastest robust recipe found so far.

Two ideas about the language do most of the work. Recall and copy need an induction circuit
(find an earlier copy of the current token, read what followed it):
- Every position gets its predecessor through a second embedding table (the "smeared key" of
  Olsson et al., 2022, in its simplest form), so a single attention layer can do induction; a
  standard transformer needs two layers and a long plateau to learn it.
- Rotary position embeddings on queries and keys (RoPE, Su et al., 2021) instead of learned
  absolute positions: attention scores depend on relative offsets from the first step (likely
  what copying a list and closing brackets need; not measured per token). With RoPE the target
  takes half the steps.

Engineering: one fused QKV projection; causal attention through scaled_dot_product_attention in
fp32; bf16 autocast for the linear layers only (bf16 matmuls are 2x faster on a CPU with
AVX512-BF16 at these shapes, but the CPU flash-attention backward is 3x slower in bf16); fused
AdamW; all training data generated up front by fastdata.py (the same token stream as data.py,
without the log-probabilities); no periodic evaluation; exported with torch.export (the only
format the evaluator accepts).
Recipe (config.json): 1 layer of width 128, 4 heads, MLP hidden width 64, batch 16, peak lr 1e-2
with 20 warmup steps and linear decay, Adam beta2 0.95, PyTorch's default init, 300 steps.
docs/BENCHMARKS.md "lm-speedrun calibration" has the measurements and the ablations.
"""

import json
import os
import random

import torch
import torch.nn as nn
import torch.nn.functional as F

from data import VOCAB_SIZE
from fastdata import sample_tokens

EVAL_BATCH, EVAL_CONTEXT = 32, 128

with open("config.json") as f:
    cfg = json.load(f)
seed = int(os.environ.get("RUBICON_SEED", "1337"))
torch.manual_seed(seed)
if cfg.get("threads", 0) > 0:
    torch.set_num_threads(cfg["threads"])


def rotary_tables(head_dim, length, base=10000.0):
    """cos and sin of RoPE's angles: position t turns feature pair i by t / base^(2i/head_dim)."""
    inv_freq = base ** (-torch.arange(0, head_dim, 2).float() / head_dim)
    angles = torch.outer(torch.arange(length).float(), inv_freq)
    return angles.cos(), angles.sin()


def rotate(x, cos, sin):
    """Apply RoPE to (B, heads, T, head_dim) queries or keys (the two-halves pairing)."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


class Block(nn.Module):
    def __init__(self, d, n_head, attention=True, rope=True):
        super().__init__()
        self.n_head = n_head
        self.attention = attention
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        hidden = int(cfg.get("mlp_ratio", 4) * d)  # may be fractional: 0.5 -> 64 at width 128
        self.fc = nn.Linear(d, hidden)
        self.fc2 = nn.Linear(hidden, d)
        cos, sin = rotary_tables(d // n_head, EVAL_CONTEXT)
        self.rope = rope
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)

    def forward(self, x):
        B, T, C = x.shape
        if self.attention:
            qkv = self.qkv(self.ln1(x)).float()  # attention in fp32 (see the module docstring)
            q, k, v = qkv.view(B, T, 3, self.n_head, C // self.n_head).permute(2, 0, 3, 1, 4).unbind(0)
            if self.rope:
                q, k = rotate(q, self.cos[:T], self.sin[:T]), rotate(k, self.cos[:T], self.sin[:T])
            with torch.autocast("cpu", enabled=False):
                y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(y.transpose(1, 2).reshape(B, T, C))
        return x + self.fc2(F.gelu(self.fc(self.ln2(x))))


class GPT(nn.Module):
    def __init__(self, d, n_layer, n_head, attention=True, rope=True, prev_token=True):
        super().__init__()
        self.tok_emb = nn.Embedding(VOCAB_SIZE, d)
        # learned absolute positions only where RoPE is off (the ablations)
        self.pos_emb = None if rope else nn.Parameter(torch.randn(EVAL_CONTEXT, d))
        # the previous token's embedding, added at every position (BOS's slot gets token 0)
        self.prev_emb = nn.Embedding(VOCAB_SIZE, d) if prev_token else None
        self.blocks = nn.ModuleList([Block(d, n_head, attention, rope) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, VOCAB_SIZE)

    def forward(self, idx):
        x = self.tok_emb(idx)
        if self.pos_emb is not None:
            x = x + self.pos_emb[: idx.shape[1]]
        if self.prev_emb is not None:
            x = x + self.prev_emb(F.pad(idx[:, :-1], (1, 0)))
        for b in self.blocks:
            x = b(x)
        return self.head(self.ln_f(x))


class LogProbs(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, idx):
        return F.log_softmax(self.model(idx).float(), dim=-1)


def main():
    steps, bs, T = cfg["steps"], cfg["batch_size"], cfg["context"]
    rng = random.Random(seed)
    data = torch.tensor([sample_tokens(rng, T) for _ in range(steps * bs)])
    model = GPT(cfg["d_model"], cfg["n_layer"], cfg["n_head"], cfg.get("attention", True),
                cfg.get("rope", True), cfg.get("prev_token", True))
    print(f"parameters: {sum(p.numel() for p in model.parameters()):,}", flush=True)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg["weight_decay"]}, {"params": other, "weight_decay": 0}],
        lr=cfg["lr"], betas=(0.9, cfg.get("beta2", 0.999)), fused=True,
    )
    warm = cfg["warmup_steps"]
    bf16 = cfg["dtype"] == "bfloat16"
    log_every = cfg.get("log_interval", 0)
    for step in range(steps):
        lr = cfg["lr"] * min((step + 1) / warm, (steps - step) / (steps - warm)) if warm else cfg["lr"]
        for g in opt.param_groups:
            g["lr"] = lr
        batch = data[step * bs : (step + 1) * bs]
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.float().view(-1, VOCAB_SIZE), batch[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if log_every and step % log_every == 0:
            print(f"step {step} loss {loss.item():.4f}", flush=True)
        if (step + 1) % 10 == 0 or step + 1 == steps:
            print(f"progress: {step + 1}/{steps}", flush=True)  # docs/TASKS.md, "Progress lines"
    model.eval()
    example = torch.zeros(EVAL_BATCH, EVAL_CONTEXT, dtype=torch.long)
    torch.export.save(torch.export.export(LogProbs(model), (example,)), "model.pt2")


if __name__ == "__main__":
    main()
