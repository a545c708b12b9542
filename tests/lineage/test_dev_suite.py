"""The development suite has headroom (issue 23; docs/LINEAGE.md, "The development suite"):
dev-primes' largest lever is declared last, so the default one-change sweep spends a
3-experiment budget on the small ones, and the reference needs all four knobs."""

from __future__ import annotations

import itertools
import json

import pytest

from rubicon.researcher._search_space import SearchSpace
from rubicon.researcher.search import sweep_moves
from rubicon.task import resolve_task
from rubicon.task.local import run_local

TASK = resolve_task("dev-primes")


def test_the_default_sweep_reaches_the_sieve_only_after_three_moves() -> None:
    space = SearchSpace(TASK, TASK.editable_files())
    base = space.baseline_config()
    first = [name for name, _, _ in itertools.islice(sweep_moves(space, base), 3)]
    assert first == ["odd_only", "marking", "reuse"]
    # after the first move is kept, the next two untried moves still leave the method alone
    kept = {**base, "odd_only": True}
    untried = [(n, v) for n, v, _ in sweep_moves(space, kept) if (n, v) != ("odd_only", False)]
    assert [n for n, _ in untried[:2]] == ["marking", "reuse"]


def test_the_reference_changes_every_knob() -> None:
    assert TASK.reference is not None
    ref = json.loads((TASK.reference / "knobs.json").read_text())
    base = json.loads(TASK.editable_files()["knobs.json"])
    assert set(ref) == set(TASK.spec.knobs) and all(ref[k] != base[k] for k in ref)


@pytest.mark.parametrize("knobs", [
    {"method": "sieve", "odd_only": False, "marking": "loop", "reuse": False},
    {"method": "sieve", "odd_only": True, "marking": "loop", "reuse": False},
    {"method": "sieve", "odd_only": False, "marking": "slices", "reuse": True},
    {"method": "sieve", "odd_only": True, "marking": "slices", "reuse": True},
])
def test_every_sieve_variant_counts_right(knobs: dict[str, object]) -> None:
    r = run_local(TASK, run_seed=3, eval_seed=4, files={"knobs.json": json.dumps(knobs)})
    assert r.exit_code == 0, r.run_output[-300:]
    assert (r.metrics["correct"], r.metrics["wrong"]) == (1, 0), r.metrics


def test_trial_division_counts_right_and_a_wrong_count_fails() -> None:
    r = run_local(TASK, run_seed=5, eval_seed=6, files={"knobs.json": json.dumps(
        {"method": "trial", "odd_only": True, "marking": "loop", "reuse": False})})
    assert (r.metrics["correct"], r.metrics["wrong"]) == (1, 0), r.metrics
    off_by_one = TASK.editable_files()["solution.py"].replace(
        "    count = 1 if n > 2 else 0", "    count = 2 if n > 2 else 0")
    r = run_local(TASK, run_seed=5, eval_seed=6, files={
        "solution.py": off_by_one,
        "knobs.json": json.dumps({"method": "trial", "odd_only": True, "marking": "loop",
                                  "reuse": False})})
    assert (r.metrics["correct"], r.metrics["wrong"]) == (0, 30), r.metrics
