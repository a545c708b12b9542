"""What the conditional-power futility rule costs and saves, on simulated runs with known truth.

    python bench/bench_futility.py --comparisons 400 --seeds 2 3

Each comparison is `rubicon.measure.protocol.compare` on log-normal run times: a candidate with
a true speedup against an incumbent of mean 1.0, same per-run noise. Two cases, each with the
rule on (the default ProtocolConfig) and off (futility_power=0):
- a null candidate at 7% noise (lm-speedrun's early-stopped runs): pairs spent, A/A promotions;
- a true 5% speedup at 1.5% noise (the DESIGN's detection target): how often it is promoted.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable

from rubicon.measure.protocol import ProtocolConfig, compare
from rubicon.types import RunFacts, Trial


def _runs(mean: float, cv: float, rng: random.Random) -> Callable[[], Trial]:
    def run() -> Trial:
        wall = mean * rng.lognormvariate(0, cv)
        facts = RunFacts(exit_code=0, wall_seconds=wall, cpu_seconds=wall, peak_memory_mb=10,
                         foreign_load=0.0)
        return Trial(facts=facts, metrics={"wall_seconds": wall})
    return run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--comparisons", type=int, default=400)
    p.add_argument("--seeds", type=int, nargs="+", default=[2, 3])
    args = p.parse_args()
    print("| seed | futility rule | null @7%: pairs per comparison | null @7%: promoted "
          "| 5% speedup @1.5%: promoted |")
    print("|---|---|---|---|---|")
    for seed in args.seeds:
        for name, cfg in (("off", ProtocolConfig(futility_power=0.0)), ("on", ProtocolConfig())):
            rng = random.Random(seed)
            null = [compare(_runs(1.0, 0.07, rng), _runs(1.0, 0.07, rng), [1.0, 1.0],
                            "wall_seconds", cfg=cfg) for _ in range(args.comparisons)]
            found = [compare(_runs(0.95, 0.015, rng), _runs(1.0, 0.015, rng), [1.0, 1.0],
                             "wall_seconds", cfg=cfg) for _ in range(args.comparisons)]
            pairs = sum(max(r.pair for r in v.runs) for v in null) / len(null)
            print(f"| {seed} | {name} | {pairs:.2f} | {sum(v.promote for v in null) / len(null):.1%} "
                  f"| {sum(v.promote for v in found) / len(found):.1%} |")


if __name__ == "__main__":
    main()
