"""A bench's records: runs.jsonl that `rubicon horizon` reads from the bench directory, and an
Inspect eval log written through inspect_ai's API that inspect_ai reads back (skipped, with
the reason, without the `inspect` extra)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rubicon import CampaignConfig
from rubicon.analytics import load_runs
from rubicon.bench import AttemptResult, Bench, write_records
from rubicon.bench._attempt import save
from rubicon.bench._manifest import Segment

from .conftest import task_copy

LEVELS = ["2x", "3x", "4x", "6.8x", "7.5x", "reference"]


def finished_bench(tmp_path: Path, hints: bool = False) -> Bench:
    """A bench whose attempts are recorded as done (no campaign runs): reaching 3, 2 and 0
    levels (the last one failed)."""
    bench = Bench.create(tmp_path / "b", ["search"], [str(task_copy(tmp_path))], attempts=3,
                         cfg=CampaignConfig(budget_seconds=60), hints=hints)
    for att, reached in zip(bench.attempts(), (3, 2, 0), strict=True):
        att.started_at, att.completed_at = 1000.0 + att.index, 1060.0 + att.index
        att.segments = [Segment(start=att.started_at, end=att.completed_at, pid=1)]
        if reached:
            att.status = "finished"
            att.result = AttemptResult(score=0.1 * reached, tokens=100.0, cost_usd=0.5,
                                       milestones={n: i < reached for i, n in enumerate(LEVELS)})
        else:
            att.status, att.reason = "failed", "RuntimeError: broke"
        save(bench.dir, att)
    return bench


def test_horizon_reads_a_bench_directory(tmp_path: Path) -> None:
    bench = finished_bench(tmp_path)
    written = write_records(bench)
    rows = [json.loads(x) for x in written["runs"].read_text().splitlines()]
    assert len(rows) == 18
    recs = load_runs(bench.dir)  # the directory: its runs.jsonl, nothing else in it
    assert len(recs) == 18 and recs.sources == (str(bench.dir / "runs.jsonl"),)
    assert sorted(set(recs.task.tolist())) == sorted(f"tiny/{n}" for n in LEVELS)
    assert recs.score.sum() == 5 and set(recs.family.tolist()) == {"tiny"}
    assert {r["total_tokens"] for r in rows} == {100.0, 0.0}
    assert {r["dollar_equivalent"] for r in rows} == {0.5, 0.0}


def test_bench_directory_without_records_says_so(tmp_path: Path) -> None:
    from rubicon.errors import AnalyticsError

    bench = Bench.create(tmp_path / "b", ["search"], [str(task_copy(tmp_path))],
                         cfg=CampaignConfig(budget_seconds=60))
    with pytest.raises(AnalyticsError, match="no attempt has finished"):
        load_runs(bench.dir)


def test_inspect_log_round_trip(tmp_path: Path) -> None:
    pytest.importorskip("inspect_ai", reason="Inspect logs need inspect_ai: "
                                             "pip install 'rubicon[inspect]'")
    from inspect_ai.log import read_eval_log

    bench = finished_bench(tmp_path, hints=True)
    written = write_records(bench, inspect=True)
    path = written["inspect0"]
    assert path == bench.dir / "inspect" / "search+hints.eval"
    log = read_eval_log(str(path))
    assert log.status == "success" and log.eval.model == "rubicon/search+hints"
    assert log.samples is not None and len(log.samples) == 18
    assert {s.epoch for s in log.samples} == {1, 2, 3}
    first = next(s for s in log.samples if s.id == "tiny/2x" and s.epoch == 1)
    assert first.scores is not None and first.scores["level"].value == 1.0
    assert first.metadata["human_minutes"] == 2 and first.metadata["hints"] is True
    assert log.results is not None
    assert log.results.scores[0].metrics["accuracy"].value == pytest.approx(5 / 18)
    # rubicon horizon reads the Inspect log as the same records as runs.jsonl
    a, b = load_runs(path), load_runs(written["runs"])
    order_a, order_b = np.lexsort((a.score, a.task)), np.lexsort((b.score, b.task))
    for field in ("agent", "task", "family", "human_minutes", "score"):
        assert list(getattr(a, field)[order_a]) == list(getattr(b, field)[order_b])
