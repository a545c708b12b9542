"""Harness-owned checker for optimize-adamw: `check.py ARTIFACTS`.

Rebuilds the run's problem from RUBICON_RUN_SEED (problem.py, identical to the workspace's) and
runs the documented AdamW in float64 on one flat vector (an implementation independent of any
the candidate may write), then compares the run's final parameters, first and second moments
(state.f32): each block passes when its relative L2 error is at most REL_TOL, and every single
tensor's when it is at most TENSOR_TOL. Prints `correct: 1|0`, `rel_error_params`,
`rel_error_m`, `rel_error_v`, `worst_tensor_error`; malformed files are `invalid`.
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

from problem import HYPER, NOISE, STEPS, Problem, lr_at, shapes  # noqa: E402

REL_TOL = 1e-4
TENSOR_TOL = 1e-3
SIZES = [math.prod(s) for s in shapes()]
N = sum(SIZES)


def trusted(problem: Problem) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Final parameters, m and v (float64, flat) of the documented AdamW on this problem."""
    def flat(ts: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat([t.reshape(-1) for t in ts]).double()

    p = flat(problem.init)
    curv = problem.curv.double()
    noise = [n.double() for n in problem.noise]
    decay = torch.cat([torch.full((math.prod(s),), float(len(s) >= 2), dtype=torch.float64)
                       for s in problem.shapes])
    m, v = torch.zeros(N, dtype=torch.float64), torch.zeros(N, dtype=torch.float64)
    g, denom = torch.empty(N, dtype=torch.float64), torch.empty(N, dtype=torch.float64)
    b1, b2 = HYPER["betas"]
    for t in range(1, STEPS + 1):
        torch.addcmul(noise[t % NOISE], curv, p, out=g)
        g.mul_(min(1.0, HYPER["max_grad_norm"] / (float(g.norm()) + 1e-6)))
        m.mul_(b1).add_(g, alpha=1 - b1)
        v.mul_(b2).addcmul_(g, g, value=1 - b2)
        lr = lr_at(t)
        p.addcmul_(decay, p, value=-lr * HYPER["weight_decay"])
        torch.div(v, 1 - b2**t, out=denom).sqrt_().add_(HYPER["eps"])
        p.addcdiv_(m, denom, value=-lr / (1 - b1**t))
    return p, m, v


def read(arts: Path, name: str, size: int | None) -> bytes:
    path = arts / name
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise ValueError(f"{name} was not produced (bench.py writes it)") from None
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(f"{name} is not a regular file")
    if (size is not None and st.st_size != size) or (size is None and st.st_size > 4096):
        raise ValueError(f"{name} has {st.st_size} bytes; expected {size or 'a few'}")
    return path.read_bytes()


def main() -> None:
    arts = Path(sys.argv[1])
    seed = int(os.environ["RUBICON_RUN_SEED"])
    try:
        meta = json.loads(read(arts, "run.json", None))
        state = np.frombuffer(read(arts, "state.f32", 3 * N * 4), dtype="<f4").astype(np.float64)
    except (ValueError, UnicodeDecodeError) as e:
        print(f"invalid: {e}")
        return
    if not isinstance(meta, dict) or meta.get("seed") != seed or meta.get("steps") != STEPS:
        print(f"invalid: run.json says {str(meta)[:80]}; expected seed {seed} and {STEPS} steps "
              "(the state must come from this run's problem)")
        return
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    want = trusted(Problem(seed))
    got = torch.from_numpy(state.copy()).reshape(3, N)
    ok = bool(torch.isfinite(got).all())
    bounds = np.cumsum([0] + SIZES)
    worst_tensor = 0.0
    for name, g, w in zip(("params", "m", "v"), got, want, strict=True):
        rel = float((g - w).norm() / w.norm()) if ok else math.inf
        print(f"rel_error_{name}: {rel:.3g}")
        ok = ok and rel <= REL_TOL
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            e = float((g[a:b] - w[a:b]).norm() / w[a:b].norm().clamp_min(1e-30))
            worst_tensor = max(worst_tensor, e if math.isfinite(e) else math.inf)
    ok = ok and worst_tensor <= TENSOR_TOL
    print(f"worst_tensor_error: {worst_tensor:.3g}")
    print(f"correct: {int(ok)}")


if __name__ == "__main__":
    main()
