"""Harness-provided driver (read-only): calls attention_forward_backward on fresh inputs made
from RUBICON_SEED (cases.py) and records its outputs for the evaluator:

- full.f32: every output of the first round (raw little-endian float32, in call order,
  out/dq/dk/dv each);
- proj.f32: every call's four outputs projected on the shape's random directions (raw
  little-endian float32, calls x 4 x N_PROJ);
- run.json: the seed and the counts.
"""

import json
import os
import sys

import torch

from attention import attention_forward_backward
from cases import N_PROJ, ROUNDS, SHAPES, Cases


def main() -> None:
    seed = int(os.environ.get("RUBICON_SEED", "0"))
    torch.set_num_threads(int(os.environ.get("RUBICON_THREADS", "1")))
    cases = Cases(seed)
    n_calls = ROUNDS * len(SHAPES)
    proj = torch.empty(n_calls, 4, N_PROJ)
    full = []
    for n, (s, x) in enumerate(cases.calls()):
        q, k, v, dout = x.unbind(0)
        result = attention_forward_backward(q, k, v, dout)
        if (len(result) != 4 or any(not isinstance(t, torch.Tensor) or t.dtype != torch.float32
                                    or t.shape != q.shape for t in result)):
            sys.exit(f"attention_forward_backward must return 4 float32 tensors of shape "
                     f"{tuple(q.shape)} (out, dq, dk, dv)")
        with torch.no_grad():
            y = torch.stack([t.detach() for t in result]).reshape(4, -1)
            torch.mm(y, cases.proj[s], out=proj[n])
        if n < len(SHAPES):
            full.append(y.clone())
    with open("full.f32", "wb") as f:
        f.write(torch.cat([t.reshape(-1) for t in full]).numpy().astype("<f4").tobytes())
    with open("proj.f32", "wb") as f:
        f.write(proj.numpy().astype("<f4").tobytes())
    with open("run.json", "w") as f:
        json.dump({"seed": seed, "calls": n_calls}, f)
    print(f"{n_calls} calls done")


if __name__ == "__main__":
    main()
