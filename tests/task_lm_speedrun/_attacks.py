"""Attack artifacts for the lm-speedrun evaluator, built in the tests (small and fast).

Models are exported with torch.export at the evaluator's shape; archives are then edited the
way an attacker would (a pickle in place of a weight, guards code, ...).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

V = 74  # the language's vocabulary (data.py VOCAB_SIZE)
B, T = 32, 128


class Bigram(nn.Module):
    """Causal and normalized: position t looks only at token t."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.table = nn.Embedding(V, V)

    def forward(self, idx):
        return F.log_softmax(self.table(idx), dim=-1)


class CountingBigram(nn.Module):
    """Buffer-mutating: learns bigram counts from every batch it is shown (free training inside
    the evaluator) and predicts from the counts so far."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("counts", torch.ones(V, V))

    def forward(self, idx):
        logp = F.log_softmax(self.counts.log()[idx], dim=-1)
        pairs = idx[:, :-1] * V + idx[:, 1:]
        self.counts.view(-1).index_add_(0, pairs.reshape(-1), torch.ones(pairs.numel()))
        return logp


class PrefixReplay(nn.Module):
    """Peeks at the next token, and replays its previous output wherever the input shares a
    prefix with the previous input: against a model loaded once, the causality probe (which
    compares two calls on inputs that share a prefix) sees no leak."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("last_in", torch.full((B, T), -1, dtype=torch.long))
        self.register_buffer("last_out", torch.zeros(B, T, V))

    def forward(self, idx):
        nxt = torch.roll(idx, shifts=-1, dims=1)
        peek = F.log_softmax(F.one_hot(nxt, V).float() * 12.0, dim=-1)
        same = (idx == self.last_in).long().cumprod(dim=1).bool()  # prefix 0..t matches
        out = torch.where(same.unsqueeze(-1), self.last_out, peek)
        self.last_in.copy_(idx)
        self.last_out.copy_(out)
        return out


def export(model: nn.Module, directory: Path) -> Path:
    """model.pt2 (torch.export.save) in `directory`; returns the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    ep = torch.export.export(model.eval(), (torch.zeros(B, T, dtype=torch.long),))
    torch.export.save(ep, str(directory / "model.pt2"))
    return directory


def rewrite(archive: Path, edit: Callable[[dict[str, bytes]], None]) -> Path:
    """Rewrite a zip in place: `edit` gets {name: bytes} and changes it."""
    with zipfile.ZipFile(archive) as z:
        files = {n: z.read(n) for n in z.namelist()}
    edit(files)
    with zipfile.ZipFile(archive, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return archive


def program_edit(change: Callable[[dict], None]) -> Callable[[dict[str, bytes]], None]:
    """An archive edit that changes the program JSON (models/model.json)."""

    def edit(files: dict[str, bytes]) -> None:
        name = next(n for n in files if n.endswith("models/model.json"))
        prog = json.loads(files[name])
        change(prog)
        files[name] = json.dumps(prog).encode()

    return edit


class _Payload:
    """Unpickling this runs `code` (pickle calls exec with it)."""

    def __init__(self, code: str) -> None:
        self.code = code

    def __reduce__(self):
        return (exec, (self.code,))


def payload_code(marker: Path) -> str:
    """What the pickles run: write a marker file and print the metrics an attacker wants."""
    return (f"open({str(marker)!r}, 'w').write('ran'); "
            "print('val_loss: 0.990000'); print('entropy_floor: 0.977000')")


def pickled(marker: Path) -> bytes:
    buf = io.BytesIO()
    torch.save(_Payload(payload_code(marker)), buf)
    return buf.getvalue()


def pickle_in_weights(marker: Path) -> Callable[[dict[str, bytes]], None]:
    """The first weight becomes a pickle (use_pickle: true): torch.export.load unpickles it with
    torch.load(weights_only=False)."""

    def edit(files: dict[str, bytes]) -> None:
        cfg_name = next(n for n in files if n.endswith("model_weights_config.json"))
        cfg = json.loads(files[cfg_name])
        entry = next(iter(cfg["config"].values()))
        entry["use_pickle"] = True
        files[cfg_name] = json.dumps(cfg).encode()
        weight = next(n for n in files if n.endswith("data/weights/" + entry["path_name"]))
        files[weight] = pickled(marker)

    return edit


def pickle_in_sample_inputs(marker: Path) -> Callable[[dict[str, bytes]], None]:
    """The sample inputs (always a pickle) hold a payload: torch.export.load tries
    weights_only=True, then falls back to weights_only=False."""

    def edit(files: dict[str, bytes]) -> None:
        name = next(n for n in files if n.endswith("data/sample_inputs/model.pt"))
        files[name] = pickled(marker)

    return edit


def torch_export_load_and_call(directory: Path) -> subprocess.CompletedProcess[str]:
    """What the evaluator used to do: torch.export.load, then call the module once."""
    code = ("import sys, torch\n"
            "m = torch.export.load(sys.argv[1]).module()\n"
            "m(torch.zeros(32, 128, dtype=torch.long))\n")
    return subprocess.run([sys.executable, "-c", code, str(directory / "model.pt2")],
                          capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, OMP_NUM_THREADS="2"))
