"""Calibrate the lm-speedrun task: baseline vs reference, side by side, plus ablations and peak FLOP/s.

    python bench/calibrate_lm_speedrun.py peak                 # matmul FLOP/s, fp32 and bf16
    python bench/calibrate_lm_speedrun.py pairs --pairs 3      # interleaved baseline/reference runs
    python bench/calibrate_lm_speedrun.py ablate --steps 3000  # 1-layer and attention-free runs
    python bench/calibrate_lm_speedrun.py curve --steps 1600   # baseline val loss vs step
    python bench/calibrate_lm_speedrun.py single --kind reference   # one timed, evaluated run

Every run happens in a fresh copy of the workspace (with the reference overlaid for the reference
runs), with OMP_NUM_THREADS=2 and a fresh RUBICON_SEED; wall time is measured here, around the
child process; the model is scored by the task's own evaluator with a fresh RUBICON_EVAL_SEED.
Results are appended as JSON lines to bench/results/lm_speedrun.jsonl.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rubicon.measure.stats import paired_log_ratio

ROOT = Path(__file__).resolve().parent.parent
TASK = ROOT / "src" / "rubicon" / "task" / "builtin" / "lm-speedrun"
RESULTS = ROOT / "bench" / "results" / "lm_speedrun.jsonl"
THREADS = "2"
# Records carry the language's version (a hash of data.py): the language changed once, and
# results of different languages are not comparable.
LANGUAGE = hashlib.sha256((TASK / "workspace" / "data.py").read_bytes()).hexdigest()[:12]


def _load_vocab_size() -> int:
    spec = importlib.util.spec_from_file_location("lm_data", TASK / "workspace" / "data.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return int(mod.VOCAB_SIZE)


VOCAB_SIZE = _load_vocab_size()


def _env(seed: int) -> dict[str, str]:
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "RUBICON_THREADS"):
        env[k] = THREADS
    env["RUBICON_SEED"] = str(seed)
    return env


def run_one(kind: str, seed: int, overrides: dict | None = None, timeout: float = 1800) -> dict:
    """Train `kind` ('baseline' or 'reference') in a fresh workspace copy, time it, evaluate it."""
    with tempfile.TemporaryDirectory(prefix="lmsr-") as tmp:
        ws = Path(tmp) / "ws"
        shutil.copytree(TASK / "workspace", ws)
        if kind == "reference":
            for p in (TASK / "reference").iterdir():
                shutil.copy(p, ws / p.name)
        cfg = json.loads((ws / "config.json").read_text())
        cfg.update(overrides or {})
        (ws / "config.json").write_text(json.dumps(cfg))
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "train.py"],
            cwd=ws,
            env=_env(seed),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        wall = time.perf_counter() - t0
        rec: dict = {"kind": kind, "seed": seed, "overrides": overrides or {}, "wall_s": wall}
        rec["returncode"] = proc.returncode
        m = re.search(r"parameters: ([\d,]+)", proc.stdout)
        rec["params"] = int(m.group(1).replace(",", "")) if m else None
        rec["config"] = cfg
        if proc.returncode != 0:
            rec["stderr"] = proc.stderr[-1500:]
            return rec
        art = Path(tmp) / "art"
        art.mkdir()
        if (ws / "model.pt2").exists():
            shutil.copy(ws / "model.pt2", art / "model.pt2")
        ev_env = _env(seed)
        ev_env["RUBICON_EVAL_SEED"] = str(random.SystemRandom().randrange(2**62))
        ev = subprocess.run(
            [sys.executable, str(TASK / "evaluator" / "evaluate.py"), str(art)],
            cwd=tmp,
            env=ev_env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        for line in ev.stdout.splitlines():
            k, _, v = line.partition(": ")
            try:
                rec[k] = float(v)
            except ValueError:
                rec[k] = v
        rec["train_log_tail"] = proc.stdout[-400:]
        rec["own_val_curve"] = re.findall(r"step\s+(\d+)\s+val_loss ([\d.]+)\s+time ([\d.]+)", proc.stdout)
    return rec


def _save(rec: dict) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    rec = {**rec, "language": LANGUAGE}
    with RESULTS.open("a") as f:
        f.write(json.dumps(rec) + "\n")
    show = {k: rec.get(k) for k in ("kind", "seed", "wall_s", "val_loss", "loss_above_floor")}
    print(json.dumps(show), flush=True)


def tokens_and_flops(rec: dict) -> tuple[float, float]:
    """Training tokens and model FLOPs (6 N per token + causal attention) of one run."""
    c = rec["config"]
    tokens = c["steps"] * c["batch_size"] * c["context"]
    d, n_layer, t = c["d_model"], c["n_layer"], c["context"]
    mlp = c.get("mlp_ratio", 4)
    n_matmul = n_layer * (4 + 2 * mlp) * d * d + VOCAB_SIZE * d  # weights in matmuls (incl. output)
    attn = n_layer * 2 * t * d  # QK^T and AV per token, forward, causal half counted as full/2
    per_token = 6 * n_matmul + 3 * 2 * attn
    return tokens, tokens * per_token


def cmd_peak(_: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(int(THREADS))
    out = {}
    for dt in (torch.float32, torch.bfloat16):
        best = 0.0
        for n in (512, 1024, 2048):
            a, b = torch.randn(n, n, dtype=dt), torch.randn(n, n, dtype=dt)
            a @ b
            for _ in range(5):
                t0 = time.perf_counter()
                for _ in range(3):
                    a @ b
                best = max(best, 3 * 2 * n**3 / (time.perf_counter() - t0))
        out[str(dt).replace("torch.", "")] = best
        print(f"{dt}: peak matmul {best / 1e9:.0f} GFLOP/s (best of sizes 512..2048)")
    _save({"kind": "peak", **out, "time": time.time()})


def cmd_pairs(args: argparse.Namespace) -> None:
    base, ref = [], []
    for i in range(args.pairs):
        seed = 1000 + i
        order = ("baseline", "reference") if i % 2 == 0 else ("reference", "baseline")
        for kind in order:
            rec = run_one(kind, seed)
            rec["pair"] = i
            _save(rec)
            (base if kind == "baseline" else ref).append(rec)
    summarize(base, ref)


def summarize(base: list[dict], ref: list[dict]) -> None:
    def stats(xs: list[float]) -> str:
        return f"min {min(xs):.1f}  median {statistics.median(xs):.1f}  max {max(xs):.1f}"

    bw = [r["wall_s"] for r in base]
    rw = [r["wall_s"] for r in ref]
    print(f"baseline  wall s: {stats(bw)}  val_loss {[round(r.get('val_loss', -1), 4) for r in base]}")
    print(f"reference wall s: {stats(rw)}  val_loss {[round(r.get('val_loss', -1), 4) for r in ref]}")
    ratios = [b / r for b, r in zip(bw, rw, strict=True)]
    print(f"speedup per pair: {[round(x, 1) for x in ratios]}")
    if len(ratios) >= 2:  # the engine's paired t interval on log ratios, two-sided 95%
        est = paired_log_ratio(bw, rw, alpha=0.025)
        print(f"speedup geometric mean {est.ratio:.1f}x, 95% CI [{est.ratio_low:.1f}, {est.ratio_high:.1f}]")
    for name, runs in (("baseline", base), ("reference", ref)):
        tok, fl = tokens_and_flops(runs[0])
        w = statistics.median(r["wall_s"] for r in runs)
        print(
            f"{name}: {tok:,} tokens, {fl / 1e12:.2f} TFLOP model, "
            f"{tok / w:,.0f} tokens/s, {fl / w / 1e9:.1f} GFLOP/s (median wall)"
        )


def cmd_single(args: argparse.Namespace) -> None:
    rec = run_one(args.kind, 4000, json.loads(args.overrides), timeout=args.timeout)
    _save(rec)


def cmd_ablate(args: argparse.Namespace) -> None:
    extra = json.loads(args.overrides)
    # The reference is one layer WITH a previous-token embedding; the ablations take that away
    # (a standard 1-layer transformer) or take attention away (keeping the embedding).
    variants = {
        "one-layer": {"n_layer": 1, "prev_token": False, "steps": args.steps, **extra},
        "attention-free": {"attention": False, "steps": args.steps, **extra},
        "two-layer-standard": {"n_layer": 2, "prev_token": False, "lr": 0.005, "steps": args.steps,
                               **extra},
    }
    for name, ov in variants.items():
        if args.only and name != args.only:
            continue
        rec = run_one("reference", 2000, ov)
        rec["ablation"] = name
        _save(rec)


def cmd_curve(args: argparse.Namespace) -> None:
    ov = {"steps": args.steps, "eval_interval": 100, "eval_sequences": 256}
    rec = run_one(args.kind, 3000, ov, timeout=7200)
    _save(rec)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("peak")
    p = sub.add_parser("pairs")
    p.add_argument("--pairs", type=int, default=3)
    a = sub.add_parser("ablate")
    a.add_argument("--steps", type=int, default=2000)
    a.add_argument("--overrides", default="{}", help="JSON settings on top of the reference's config")
    a.add_argument("--only", choices=["one-layer", "attention-free"], default=None)
    s1 = sub.add_parser("single")
    s1.add_argument("--kind", default="reference")
    s1.add_argument("--overrides", default="{}")
    s1.add_argument("--timeout", type=float, default=3600)
    c = sub.add_parser("curve")
    c.add_argument("--steps", type=int, default=1600)
    c.add_argument("--kind", default="baseline")
    args = ap.parse_args()
    {
        "peak": cmd_peak,
        "pairs": cmd_pairs,
        "ablate": cmd_ablate,
        "curve": cmd_curve,
        "single": cmd_single,
    }[args.cmd](args)


if __name__ == "__main__":
    main()
