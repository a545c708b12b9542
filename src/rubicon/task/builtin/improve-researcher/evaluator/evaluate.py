"""Harness-owned evaluator of improve-researcher: runs the candidate researcher program through
a bench on the development suite (evaluator/dev.toml) and prints its mean normalized score with
a bootstrap interval:

    dev_score: M / dev_lo: L / dev_hi: H / attempts: N / failed_attempts: F / invalid_experiments: I
(never `invalid:` or `tampered:`: those are verdicts of the harness)

Harness code, run outside bubblewrap (`[evaluate] rubicon = true`): its bench gives every call
of the program and every candidate run its own sandbox, so nothing they do reaches the bench's
files or this output (docs/LINEAGE.md, docs/SECURITY.md "Issue 23").
"""

import random
import statistics
import sys
import tomllib
from pathlib import Path

from rubicon.bench import Bench
from rubicon.config import CampaignConfig
from rubicon.lineage.gates import program_label

HERE = Path(__file__).resolve().parent


def interval(xs: list[float], seed: int = 0, n: int = 2000) -> tuple[float, float]:
    if len(xs) < 2:
        return (xs[0], xs[0]) if xs else (0.0, 0.0)
    rng = random.Random(seed)
    means = sorted(statistics.fmean(rng.choices(xs, k=len(xs))) for _ in range(n))
    return means[int(0.025 * n)], means[int(0.975 * n) - 1]


def main() -> int:
    program = Path(sys.argv[1]).resolve()
    conf = tomllib.loads((HERE / "dev.toml").read_text())
    cfg = CampaignConfig.from_dict({
        "max_experiments": conf.get("max_experiments"), "seed": conf.get("seed", 0),
        "budget_seconds": conf.get("budget_seconds"), "protocol": conf.get("protocol", {})})
    # each call of the program runs in its own sandbox (network only when the lineage allows it)
    label = program_label("candidate", program, float(conf.get("program_timeout", 120)),
                          bool(conf.get("program_network", False)))
    bench = Bench.create(Path("bench").resolve(), [label],
                         tasks=[str(HERE.parent / t) if t.startswith("suite/") else t
                                for t in conf.get("tasks", [])], suite=conf.get("suite") or None,
                         attempts=int(conf.get("attempts", 1)), cfg=cfg)
    attempts = bench.run()
    scores = [a.result.score if a.result is not None else 0.0 for a in attempts]
    failed = sum(1 for a in attempts if a.status != "finished")
    invalid = sum((a.result.states.get("invalid", 0) + a.result.states.get("tampered", 0))
                  for a in attempts if a.result is not None)
    lo, hi = interval(scores)
    print(f"dev_score: {statistics.fmean(scores) if scores else 0.0:.6f}")
    print(f"dev_lo: {lo:.6f}")
    print(f"dev_hi: {hi:.6f}")
    print(f"attempts: {len(attempts)}")
    print(f"failed_attempts: {failed}")
    print(f"invalid_experiments: {invalid}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
