"""Harness-owned checker for optimize-attention: `check.py ARTIFACTS`.

Regenerates the run's inputs from RUBICON_RUN_SEED (cases.py, identical to the workspace's),
recomputes every call in float64 with autograd (an implementation independent of any the
candidate may write), and compares:
- full.f32, the first round's outputs, element for element;
- proj.f32, every call's outputs projected on random directions.
An output tensor passes when its error is at most REL_TOL of its size (L2 norms; a projection's
error is measured against the tensor's norm, with a 4-sigma allowance, since a projection of an
error e on a standard normal direction is ~N(0, |e|^2)). Prints `correct: 1|0` and
`max_rel_error`; it stops at the first wrong call (`first_wrong_call`, `its_rel_error`).
Malformed files are `invalid`.
"""

import json
import math
import os
import stat
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))

from cases import N_PROJ, ROUNDS, SHAPES, Cases  # noqa: E402

REL_TOL = 1e-4  # float32 arithmetic in any order is ~1e-6; bfloat16/float16 is 1e-3..1e-2
N_CALLS = ROUNDS * len(SHAPES)
SIZES = [math.prod(s) for s in SHAPES]
EXPECTED_BYTES = {"full.f32": 4 * 4 * sum(SIZES), "proj.f32": 4 * N_CALLS * 4 * N_PROJ}


def trusted(x: torch.Tensor) -> torch.Tensor:
    """out, dq, dk, dv (stacked, float64) for stacked float32 q, k, v, dout."""
    q, k, v = (t.double().requires_grad_() for t in x[:3])
    T = q.shape[-2]
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    scores = scores.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
    out = torch.softmax(scores, dim=-1) @ v
    dq, dk, dv = torch.autograd.grad(out, (q, k, v), x[3].double())
    return torch.stack([out.detach(), dq, dk, dv])


def read(arts: Path, name: str) -> bytes:
    p = arts / name
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        raise ValueError(f"{name} was not produced (bench.py writes it)") from None
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(f"{name} is not a regular file")
    want = EXPECTED_BYTES.get(name)
    if want is not None and st.st_size != want:
        raise ValueError(f"{name} has {st.st_size} bytes; expected {want}")
    if want is None and st.st_size > 4096:
        raise ValueError(f"{name} has {st.st_size} bytes; expected a few")
    return p.read_bytes()


def main() -> None:
    arts = Path(sys.argv[1])
    seed = int(os.environ["RUBICON_RUN_SEED"])
    try:
        meta = json.loads(read(arts, "run.json"))
        full = np.frombuffer(read(arts, "full.f32"), dtype="<f4").astype(np.float64)
        proj = np.frombuffer(read(arts, "proj.f32"), dtype="<f4").reshape(N_CALLS, 4, N_PROJ)
    except (ValueError, UnicodeDecodeError) as e:
        print(f"invalid: {e}")
        return
    if not isinstance(meta, dict) or meta.get("seed") != seed or meta.get("calls") != N_CALLS:
        print(f"invalid: run.json says {str(meta)[:80]}; expected seed {seed} and {N_CALLS} calls "
              "(outputs must come from this run's inputs)")
        return
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    cases = Cases(seed)
    worst, offset = 0.0, 0
    for n, (s, x) in enumerate(cases.calls()):
        want = trusted(x).reshape(4, -1)
        norms = want.norm(dim=1).clamp_min(1e-30)
        got = torch.from_numpy(proj[n].astype(np.float64))
        err = ((got - want @ cases.proj[s].double()).abs().max(dim=1).values / 4.0) / norms
        if n < len(SHAPES):
            part = torch.from_numpy(full[offset:offset + 4 * SIZES[s]].copy()).reshape(4, -1)
            offset += 4 * SIZES[s]
            err = torch.maximum(err, (part - want).norm(dim=1) / norms)
        e = float(err.max()) if bool(torch.isfinite(err).all()) else math.inf
        if not e <= REL_TOL:
            print("correct: 0")
            print(f"first_wrong_call: {n}")
            print(f"its_rel_error: {e:.3g}")
            return
        worst = max(worst, e)
    print("correct: 1")
    print(f"max_rel_error: {worst:.3g}")


if __name__ == "__main__":
    main()
