"""A real miniature lineage end to end: the exported search improves its own program on
improve-researcher (nested bench in the evaluator), the gates run real benches, the policy stops
for a human, the approval promotes. Minutes on a loaded 2-core machine: slow (the decisions are
covered fast by test_loop.py, the real gates by test_real_gates.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rubicon.lineage import Lineage, LineageConfig, SuiteConfig, export_search

TINY = {"min_pairs": 2, "max_pairs": 2, "max_foreign_load": 1e9}


@pytest.mark.slow
def test_a_real_generation_through_every_gate_and_a_human(tmp_path: Path) -> None:
    seed = export_search(tmp_path / "seed")
    cfg = LineageConfig(
        name="mini", max_generations=1, improve_experiments=1, require_dev_gain=False,
        improve_protocol=TINY,
        dev=SuiteConfig(suite="dev", attempts=1, max_experiments=1, protocol=TINY),
        heldout=SuiteConfig(suite="heldout", attempts=1, max_experiments=1, protocol=TINY),
        honeypot=SuiteConfig(suite="honeypot", attempts=1, max_experiments=1, protocol=TINY))
    lin = Lineage.start(tmp_path / "L", seed, cfg, 'human_approval = "always"\n')
    why = lin.run(emit=print)
    g = lin.generations()[-1]
    assert g.generation == 1 and g.dev_score is not None and len(g.gates) == 3
    assert next(r for r in g.gates if r.gate == "integrity").passed, g.gates
    if g.status == "awaiting-approval":
        assert "awaits a human" in why
        assert lin.decide(1, "approve", "tester", "mini").status == "promoted"
    else:  # an honest outcome on noise: the held-out gain's interval did not clear zero
        assert g.status == "rejected" and "capability" in g.reason
    assert (tmp_path / "L" / "gen" / "1" / "gates.json").is_file()
    assert lin.verify().ok
