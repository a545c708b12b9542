"""The quick look's A/A rate, drift and power, simulated with the protocol's own `compare`
(docs/BENCHMARKS.md, "First confirmed improvement of a default `rubicon run`").

    python bench/quick_look_sims.py

Run times are lognormal; the baseline's 2 recorded runs are given as the reference, as in a
campaign. Prints the A/A and drift table, the power table, and the paired looks' power at
several quick shares.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.measure's simulated runs

from rubicon.measure.protocol import ProtocolConfig, compare  # noqa: E402
from tests.measure.test_protocol import _sim  # noqa: E402


def rates(true: float, ref_scale: float, cv: float, share: float, n: int,
          seed: int) -> tuple[float, float, float]:
    """(promoted at all, by the quick look, by the screening run alone), as fractions."""
    rng = random.Random(seed)
    cfg = ProtocolConfig(quick_share=share)
    out = []
    for _ in range(n):
        ref = [ref_scale * rng.lognormvariate(0, cv) for _ in range(2)]
        out.append(compare(_sim(true, cv, rng), _sim(1.0, cv, rng), [1.0], "wall_seconds",
                           cfg=cfg, reference_values=ref))
    quick = [v for v in out if v.promote and "quick look" in v.reason]
    return (sum(v.promote for v in out) / n, len(quick) / n,
            sum(len(v.runs) == 1 for v in quick) / n)


def main() -> None:
    share = ProtocolConfig().quick_share
    print(f"A/A and drift, quick share {share}, 2000 comparisons each, seed 99")
    for scale, cv in ((1.0, 0.02), (1.0, 0.1), (1.0, 0.3), (1.2, 0.02), (1.2, 0.1)):
        r = rates(1.0, scale, cv, share, 2000, 99)
        print(f"  A/A, recorded runs {scale}x slower, cv {cv}: all {r[0]:.2%}, quick {r[1]:.2%}, "
              f"screening run alone {r[2]:.2%}")
    for true, cv in ((0.2, 0.1), (1 / 6, 0.02), (1 / 6, 0.03), (1 / 3, 0.03)):
        r = rates(true, 1.0, cv, share, 2000, 99)
        print(f"  ratio {true:.3f}, cv {cv}: all {r[0]:.1%}, quick {r[1]:.1%}, "
              f"screening run alone {r[2]:.1%}")
    print("paired power by quick share, 300 comparisons each")
    for s in (0.0, 0.2, 0.3, 0.5):
        a = rates(0.95, 1.0, 0.015, s, 300, 5)[0]
        b = rates(0.80, 1.0, 0.07, s, 300, 6)[0]
        print(f"  share {s}: 5% speedup at cv 0.015 {a:.1%}, 25% speedup at cv 0.07 {b:.1%}")


if __name__ == "__main__":
    main()
