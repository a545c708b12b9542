"""lm-speedrun reference solution (hidden from researchers): the fastest robust recipe found so far.

The idea: recall and copy need an induction circuit (find an earlier copy of the current token,
read what followed it). A standard transformer must first learn, in one layer, to move each
token's predecessor into its position, and only then can a second layer match on it; that takes
~600 optimizer steps of plateau. Here every position gets its predecessor from the start through
a second embedding table (the "smeared key" of Olsson et al., 2022, in its simplest form), so a
single attention layer does induction and the plateau mostly disappears.

Engineering: one fused QKV projection with scaled_dot_product_attention instead of a Python loop
over heads, all training data generated up front, no periodic evaluation, multi-tensor AdamW, a
TorchScript trace instead of torch.export. Recipe (config.json): 1 layer of width 128, 4 heads,
MLP hidden width 64 (ratio 0.5: recall and copy live in attention), batch 16, peak lr 1e-2 with
20 warmup steps and linear decay, Adam beta2 0.95, PyTorch's default init, 600 steps (500 left
no margin: 1.080 at one seed of five).
docs/BENCHMARKS.md "lm-speedrun calibration" has the measurements and the ablations (without
the previous-token embedding one layer cannot reach the target).
"""

import json
import os
import random

import torch
import torch.nn as nn
import torch.nn.functional as F

from data import VOCAB_SIZE, sample_sequence

EVAL_BATCH, EVAL_CONTEXT = 32, 128

with open("config.json") as f:
    cfg = json.load(f)
seed = int(os.environ.get("RUBICON_SEED", "1337"))
torch.manual_seed(seed)
if cfg.get("threads", 0) > 0:
    torch.set_num_threads(cfg["threads"])


class Block(nn.Module):
    def __init__(self, d, n_head, attention=True):
        super().__init__()
        self.n_head = n_head
        self.attention = attention
        self.ln1 = nn.LayerNorm(d)
        bias = cfg.get("bias", False)
        self.qkv = nn.Linear(d, 3 * d, bias=bias)
        self.proj = nn.Linear(d, d, bias=bias)
        self.ln2 = nn.LayerNorm(d)
        hidden = int(cfg.get("mlp_ratio", 4) * d)  # may be fractional: 0.5 -> 64 at width 128
        self.fc = nn.Linear(d, hidden, bias=bias)
        self.fc2 = nn.Linear(hidden, d, bias=bias)

    def forward(self, x):
        B, T, C = x.shape
        if self.attention:
            q, k, v = self.qkv(self.ln1(x)).view(B, T, 3, self.n_head, C // self.n_head).unbind(2)
            y = F.scaled_dot_product_attention(
                q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True
            )
            x = x + self.proj(y.transpose(1, 2).reshape(B, T, C))
        return x + self.fc2(F.gelu(self.fc(self.ln2(x))))


class GPT(nn.Module):
    def __init__(self, d, n_layer, n_head, attention=True):
        super().__init__()
        self.tok_emb = nn.Embedding(VOCAB_SIZE, d)
        # N(0, 1) like nn.Embedding: with std 0.02 positions start out drowned by the tokens
        self.pos_emb = nn.Parameter(torch.randn(EVAL_CONTEXT, d))
        # the previous token's embedding, added at every position (BOS's slot gets token 0)
        self.prev_emb = nn.Embedding(VOCAB_SIZE, d) if cfg.get("prev_token", False) else None
        self.blocks = nn.ModuleList([Block(d, n_head, attention) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(d)
        self.head = None if cfg.get("tie", True) else nn.Linear(d, VOCAB_SIZE)
        if not cfg.get("gpt2_init", True):
            return
        nn.init.normal_(self.tok_emb.weight, std=0.02)
        nn.init.normal_(self.pos_emb, std=0.02)
        for name, p in self.named_parameters():
            if name.endswith(("qkv.weight", "fc.weight")):
                nn.init.normal_(p, std=0.02)
            elif name.endswith(("proj.weight", "fc2.weight")):
                nn.init.normal_(p, std=0.02 / (2 * n_layer) ** 0.5)

    def forward(self, idx):
        x = self.tok_emb(idx) + self.pos_emb[: idx.shape[1]]
        if self.prev_emb is not None:
            x = x + self.prev_emb(F.pad(idx[:, :-1], (1, 0)))
        for b in self.blocks:
            x = b(x)
        if self.head is not None:
            return self.head(self.ln_f(x))
        return self.ln_f(x) @ self.tok_emb.weight.t()  # tied output embedding


class LogProbs(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, idx):
        return F.log_softmax(self.model(idx).float(), dim=-1)


def main():
    steps, bs, T = cfg["steps"], cfg["batch_size"], cfg["context"]
    rng = random.Random(seed)
    data = torch.tensor([sample_sequence(rng, T)[0] for _ in range(steps * bs)])
    model = GPT(cfg["d_model"], cfg["n_layer"], cfg["n_head"], cfg.get("attention", True))
    print(f"parameters: {sum(p.numel() for p in model.parameters()):,}", flush=True)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg["weight_decay"]}, {"params": other, "weight_decay": 0}],
        lr=cfg["lr"], betas=(0.9, cfg.get("beta2", 0.999)), foreach=True,
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
    model.eval()
    with torch.no_grad():
        traced = torch.jit.trace(LogProbs(model), torch.zeros(EVAL_BATCH, EVAL_CONTEXT, dtype=torch.long))
    traced.save("model.pt2")


if __name__ == "__main__":
    main()
