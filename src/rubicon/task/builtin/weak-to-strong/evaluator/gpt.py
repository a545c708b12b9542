"""The base model of the rd tasks (posttrain, weak-to-strong): architecture and weight files.

One small causal transformer, pretrained once by build.py on the synthetic language (lang.py)
and shipped read-only as `base/base.rbw` in each task's workspace. Every copy of this file in
the tasks is identical (a test checks it); the evaluators load candidate weights into their own
copy of this architecture and never run candidate code.

Architecture (CONFIG): token embedding plus an embedding of the previous token (so one attention
layer can already find "what followed this token earlier"), pre-LayerNorm blocks with rotary
position embeddings on queries and keys, GELU MLPs, a final LayerNorm and an untied output layer.
Attention is written out (no fused kernel) so results are deterministic and identical on every
torch build.

Vocabulary: the language's 74 tokens (ids 0-73, lang.WORDS) and 6 reserved tokens (ids 74-79)
that never occur in pretraining, free for a downstream format (a question mark, yes/no, ...).

Weight files (.rbw, "rubicon raw weights"; no pickle, nothing executable):
    8 bytes   magic b"RBCNRAW1"
    8 bytes   header length N, unsigned little-endian
    N bytes   JSON header (space-padded): {"format": 1, "meta": {...},
              "tensors": {name: {"dtype": "float32"|"bfloat16", "shape": [...],
                                 "offset": bytes from the start of the data, "nbytes": ...}}}
    data      the tensors' raw little-endian bytes, in the header's order
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

LANG_VOCAB = 74
EXTRA_TOKENS = ["?", "yes", "no", "<r3>", "<r4>", "<r5>"]
VOCAB_SIZE = LANG_VOCAB + len(EXTRA_TOKENS)  # 80
CONFIG: dict[str, int] = {
    "vocab_size": VOCAB_SIZE,
    "d_model": 128,
    "n_layer": 4,
    "n_head": 4,
    "d_mlp": 512,
    "context": 128,  # pretraining length; rotary positions work up to MAX_POSITIONS
}
# weak-to-strong's weak supervisor: the same architecture, far smaller (17k parameters)
WEAK_CONFIG: dict[str, int] = {
    "vocab_size": VOCAB_SIZE,
    "d_model": 32,
    "n_layer": 1,
    "n_head": 2,
    "d_mlp": 64,
    "context": 128,
}
MAX_POSITIONS = 256

MAGIC = b"RBCNRAW1"
MAX_HEADER = 1 << 20
MAX_FILE = 64 << 20
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


class WeightFileError(Exception):
    """A weight file that cannot be accepted; the message says why."""


def _rotary(head_dim: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    inv_freq = 10000.0 ** (-torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    angles = torch.outer(torch.arange(length, dtype=torch.float32), inv_freq)
    return angles.cos(), angles.sin()


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


class Block(nn.Module):
    def __init__(self, d: int, n_head: int, d_mlp: int) -> None:
        super().__init__()
        self.n_head = n_head
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.fc = nn.Linear(d, d_mlp)
        self.fc2 = nn.Linear(d_mlp, d)
        cos, sin = _rotary(d // n_head, MAX_POSITIONS)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        mask = torch.ones(MAX_POSITIONS, MAX_POSITIONS, dtype=torch.bool).triu(1)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        hd = C // self.n_head
        q, k, v = self.qkv(self.ln1(x)).view(B, T, 3, self.n_head, hd).permute(2, 0, 3, 1, 4)
        q, k = _rotate(q, self.cos[:T], self.sin[:T]), _rotate(k, self.cos[:T], self.sin[:T])
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
        att = att.masked_fill(self.mask[:T, :T], float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + self.proj(y)
        return x + self.fc2(F.gelu(self.fc(self.ln2(x))))

    def extend(self, x: torch.Tensor, pos: torch.Tensor, masked: torch.Tensor,
               cache: tuple[torch.Tensor, torch.Tensor] | None) -> tuple[torch.Tensor, Any]:
        """forward() for new positions of sequences whose earlier keys and values are `cache`
        (None: nothing before). `pos` (B, T): each new token's rotary position; `masked`
        (B, 1, T, S): which of the S keys (cached + new) each new token must not see."""
        B, T, C = x.shape
        hd = C // self.n_head
        q, k, v = self.qkv(self.ln1(x)).view(B, T, 3, self.n_head, hd).permute(2, 0, 3, 1, 4)
        cos, sin = self.cos[pos].unsqueeze(1), self.sin[pos].unsqueeze(1)
        q, k = _rotate(q, cos, sin), _rotate(k, cos, sin)
        if cache is not None:
            k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
        att = att.masked_fill(masked, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + self.proj(y)
        return x + self.fc2(F.gelu(self.fc(self.ln2(x)))), (k, v)


class GPT(nn.Module):
    """The base architecture. forward(idx) -> logits (B, T, VOCAB_SIZE); hidden(idx) -> the final
    normalized hidden states (B, T, d_model), the features a classification head reads."""

    def __init__(self, cfg: dict[str, int] | None = None) -> None:
        super().__init__()
        c = dict(CONFIG if cfg is None else cfg)
        self.cfg = c
        d = c["d_model"]
        self.tok_emb = nn.Embedding(c["vocab_size"], d)
        self.prev_emb = nn.Embedding(c["vocab_size"], d)
        self.blocks = nn.ModuleList(Block(d, c["n_head"], c["d_mlp"]) for _ in range(c["n_layer"]))
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, c["vocab_size"])

    def hidden(self, idx: torch.Tensor) -> torch.Tensor:
        if idx.shape[1] > MAX_POSITIONS:
            raise ValueError(f"sequence of {idx.shape[1]} tokens; at most {MAX_POSITIONS}")
        x = self.tok_emb(idx) + self.prev_emb(F.pad(idx[:, :-1], (1, 0)))  # BOS's slot: token 0
        for b in self.blocks:
            x = b(x)
        return self.ln_f(x)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.head(self.hidden(idx))

    @torch.no_grad()
    def generate(self, prompts: list[list[int]], steps: int, pick: Any = None) -> torch.Tensor:
        """Greedy continuation of each prompt by `steps` tokens, in one batch (left-padded, with
        a key/value cache: each new token costs one position, not the whole prefix). `pick`
        (optional) maps (last logits (B, V), tokens so far: the prompts, left-padded with 0,
        then the generated ones) to the next tokens (B,); default: the argmax. Returns the new
        tokens (B, steps)."""
        n = max(map(len, prompts))
        if n + steps > MAX_POSITIONS:
            raise ValueError(f"{n} + {steps} tokens; at most {MAX_POSITIONS}")
        pad = torch.tensor([n - len(p) for p in prompts])
        seq = torch.tensor([[0] * (n - len(p)) + list(p) for p in prompts])
        B = len(prompts)
        keys = torch.arange(n + steps)
        # a key is visible if it is not after the query and not padding (a padding query sees
        # itself, so that no softmax row is empty)
        real = keys.unsqueeze(0) >= pad.unsqueeze(1)  # (B, S)
        pos = (keys.unsqueeze(0) - pad.unsqueeze(1)).clamp(min=0)  # (B, S)
        k, q = keys[:n].view(1, 1, n), torch.arange(n).view(1, n, 1)
        visible = (k <= q) & (real[:, :n].unsqueeze(1) | (k == q))
        masked = ~visible.unsqueeze(1)  # (B, 1, n, n)
        caches: list[Any] = [None] * len(self.blocks)
        new, prev, start = seq, F.pad(seq[:, :-1], (1, 0)), 0
        for _ in range(steps):
            x = self.tok_emb(new) + self.prev_emb(prev)
            width = start + new.shape[1]
            for i, b in enumerate(self.blocks):
                x, caches[i] = b.extend(x, pos[:, start:width], masked, caches[i])
            logits = self.head(self.ln_f(x[:, -1]))
            tok = logits.argmax(-1) if pick is None else pick(logits, seq)
            prev, new, start = seq[:, -1:], tok.view(-1, 1), width
            seq = torch.cat([seq, new], dim=1)
            masked = ~real[:, :width + 1].view(B, 1, 1, width + 1)
        return seq[:, n:]


# ---- weight files ------------------------------------------------------------------------------

def save_weights(path: str | Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any] | None = None,
                 dtype: str = "float32") -> None:
    """Write `tensors` (name -> tensor) as a .rbw file in `dtype` (float32 or bfloat16)."""
    if dtype not in DTYPES:
        raise ValueError(f"dtype {dtype!r}: allowed {sorted(DTYPES)}")
    entries: dict[str, Any] = {}
    blobs: list[bytes] = []
    offset = 0
    for name, t in tensors.items():
        t = t.detach().to("cpu", DTYPES[dtype]).contiguous()
        raw = (t.view(torch.int16) if dtype == "bfloat16" else t).numpy().tobytes()
        entries[name] = {"dtype": dtype, "shape": list(t.shape), "offset": offset, "nbytes": len(raw)}
        blobs.append(raw)
        offset += len(raw)
    header = json.dumps({"format": 1, "meta": meta or {}, "tensors": entries}, sort_keys=True).encode()
    header += b" " * (-len(header) % 8)
    with open(path, "wb") as f:
        f.write(MAGIC + struct.pack("<Q", len(header)) + header)
        for b in blobs:
            f.write(b)


def load_weights(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a .rbw file: (name -> float32 tensor, meta). Raises WeightFileError with the reason."""
    p = Path(path)
    if not p.is_file():
        raise WeightFileError(f"{p.name}: no such file")
    size = p.stat().st_size
    if size > MAX_FILE:
        raise WeightFileError(f"{p.name}: {size} bytes; at most {MAX_FILE}")
    raw = p.read_bytes()
    if len(raw) < 16 or raw[:8] != MAGIC:
        raise WeightFileError(f"{p.name}: not a .rbw weight file (no {MAGIC.decode()} magic)")
    (n,) = struct.unpack("<Q", raw[8:16])
    if n > MAX_HEADER or 16 + n > len(raw):
        raise WeightFileError(f"{p.name}: header length {n} is out of bounds")
    try:
        header = json.loads(raw[16:16 + n].decode("utf-8"))
        entries = header["tensors"]
        meta = header.get("meta", {})
        if not isinstance(entries, dict) or not isinstance(meta, dict):
            raise TypeError("tensors and meta must be objects")
    except (ValueError, KeyError, TypeError) as e:
        raise WeightFileError(f"{p.name}: bad header: {e}") from None
    data = memoryview(raw)[16 + n:]
    out: dict[str, torch.Tensor] = {}
    for name, e in entries.items():
        try:
            dt = DTYPES[e["dtype"]]
            shape = [int(s) for s in e["shape"]]
            off, nbytes = int(e["offset"]), int(e["nbytes"])
        except (KeyError, TypeError, ValueError):
            raise WeightFileError(f"{p.name}: tensor {name!r}: needs dtype (float32 or bfloat16), "
                                  "shape, offset, nbytes") from None
        count = math.prod(shape)
        if min(shape, default=1) < 0 or nbytes != count * (4 if dt == torch.float32 else 2):
            raise WeightFileError(f"{p.name}: tensor {name!r}: {nbytes} bytes do not fit shape {shape}")
        if off < 0 or off + nbytes > len(data):
            raise WeightFileError(f"{p.name}: tensor {name!r} lies outside the file")
        buf = bytearray(data[off:off + nbytes])
        t = (torch.frombuffer(buf, dtype=torch.int16).view(torch.bfloat16) if dt == torch.bfloat16
             else torch.frombuffer(buf, dtype=torch.float32)) if count else torch.zeros(0, dtype=dt)
        t = t.reshape(shape).float()
        if not torch.isfinite(t).all():
            raise WeightFileError(f"{p.name}: tensor {name!r} holds NaN or inf")
        out[name] = t
    return out, meta


def check_shapes(tensors: dict[str, torch.Tensor], reference: dict[str, torch.Tensor],
                 what: str = "the base model") -> None:
    """The tensors must be exactly `reference`'s names and shapes (same architecture)."""
    missing = sorted(set(reference) - set(tensors))
    extra = sorted(set(tensors) - set(reference))
    if missing or extra:
        raise WeightFileError(f"tensors differ from {what}'s: missing {missing[:5]}, unexpected {extra[:5]}")
    for name, t in reference.items():
        if tuple(tensors[name].shape) != tuple(t.shape):
            raise WeightFileError(f"tensor {name!r} has shape {tuple(tensors[name].shape)}; "
                                  f"{what} has {tuple(t.shape)}")


# The "still the base model" rule of both rd evaluators (docs/BENCHMARKS.md, "rd base model":
# calibrated against legitimate fine-tunes and the red team's replacements).
MAX_DISTANCE = 0.4  # the mean change over every tensor (relative_distance)
MAX_TENSOR_DISTANCE = 0.8  # the change of any one tensor (tensor_distances)
SCALE_FLOOR = 0.05  # per-element RMS: a tensor smaller than this is measured against this scale


def tensor_distances(tensors: dict[str, torch.Tensor], base: dict[str, torch.Tensor]) -> dict[str, float]:
    """How far each tensor of `base` moved: ||W - W_base|| / max(||W_base||, SCALE_FLOOR *
    sqrt(numel)). Every tensor counts: matrices, embeddings, LayerNorm gains and biases, linear
    biases. The floor keeps a tensor that is nearly zero in the base (a bias) from counting a
    tiny absolute change as a large relative one."""
    out = {}
    for k, b in base.items():
        b64 = b.double()
        scale = max(float(b64.norm()), SCALE_FLOOR * math.sqrt(max(b.numel(), 1)))
        out[k] = float((tensors[k].double() - b64).norm()) / scale
    return out


def relative_distance(tensors: dict[str, torch.Tensor], base: dict[str, torch.Tensor]) -> float:
    """How far `tensors` moved from `base`: the root mean square, over every tensor of the base,
    of its relative change (tensor_distances). Each tensor counts the same, so the embeddings
    (most of the weights' norm) cannot hide a re-initialized layer, and a model whose LayerNorms
    and biases were replaced is as far as one whose matrices were."""
    d = tensor_distances(tensors, base)
    return math.sqrt(sum(v * v for v in d.values()) / max(len(d), 1))


def distance_problem(tensors: dict[str, torch.Tensor], base: dict[str, torch.Tensor]) -> str | None:
    """Why `tensors` (same names and shapes as `base`) is not the base model fine-tuned, or None:
    the mean change (relative_distance) must stay within MAX_DISTANCE and every single tensor's
    within MAX_TENSOR_DISTANCE (so that one re-initialized embedding or layer cannot hide in
    the mean)."""
    d = tensor_distances(tensors, base)
    mean = math.sqrt(sum(v * v for v in d.values()) / max(len(d), 1))
    worst = max(d, key=lambda k: d[k]) if d else ""
    if mean > MAX_DISTANCE:
        return (f"its weights are {mean:.3f} from the base's (relative L2, the mean over every "
                f"tensor); allowed {MAX_DISTANCE}")
    if d and d[worst] > MAX_TENSOR_DISTANCE:
        return (f"its tensor {worst!r} is {d[worst]:.3f} from the base's (relative L2); allowed "
                f"{MAX_TENSOR_DISTANCE} for any one tensor")
    return None


def load_model(path: str | Path, base: dict[str, torch.Tensor] | None = None) -> GPT:
    """A GPT holding the weights of `path` (checked against the architecture's own shapes)."""
    tensors, _ = load_weights(path)
    model = GPT()
    ref = {k: v for k, v in model.state_dict().items()}
    check_shapes(tensors, base if base is not None else ref)
    model.load_state_dict(tensors)
    return model.eval()


def model_tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    """The persistent tensors of a GPT, in a fixed order, ready for save_weights."""
    return {k: v for k, v in model.state_dict().items()}


class Classifier(GPT):
    """weak-to-strong's models: a GPT plus a linear head (`cls`) that reads where a document goes
    wrong. Every token t >= 1 gets its final hidden state and its surprisal under the model's own
    language-model head, as log(1 - log p(token t | tokens < t)); a document's features are the
    hidden state and surprisal of its most surprising token, and its mean hidden state
    (2 * d_model + 1 numbers); the head maps them to the logit of label 1. Its tensors are the
    GPT's plus cls.weight (1, 2 * d_model + 1) and cls.bias (1)."""

    def __init__(self, cfg: dict[str, int] | None = None) -> None:
        super().__init__(cfg)
        self.cls = nn.Linear(2 * self.cfg["d_model"] + 1, 1)

    def token_features(self, idx: torch.Tensor) -> torch.Tensor:
        """(B, T - 1, d_model + 1): each token's final hidden state and log(1 + surprisal)."""
        h = self.hidden(idx)
        logp = self.head(h[:, :-1]).log_softmax(dim=-1)
        nll = -logp.gather(-1, idx[:, 1:, None])
        return torch.cat([h[:, 1:], nll.log1p()], dim=-1)

    def features(self, idx: torch.Tensor) -> torch.Tensor:
        """(B, 2 * d_model + 1): the most surprising token's features and the mean hidden state."""
        f = self.token_features(idx)
        top = f[torch.arange(f.shape[0]), f[:, :, -1].argmax(dim=1)]
        return torch.cat([top, f[:, :, :-1].mean(dim=1)], dim=-1)

    def classify(self, idx: torch.Tensor) -> torch.Tensor:
        """Class logits (B, 2) of documents idx (B, T), idx[:, 0] = <bos>: [0, logit of label 1]."""
        z = self.cls(self.features(idx)).squeeze(-1)
        return torch.stack([torch.zeros_like(z), z], dim=-1)
