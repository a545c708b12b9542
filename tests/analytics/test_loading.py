"""Loading at scale and to the letter (issue 24, items 4, 5, 6, 8)."""

from __future__ import annotations

import json
import sys
import tracemalloc
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rubicon.analytics._loading as loading
from rubicon.analytics import (
    estimate_horizons,
    hierarchical_counts,
    load_runs,
    records_from_rows,
    task_weights,
)
from rubicon.analytics.bootstrap import agent_cells, draw_task_counts, resample_stats
from rubicon.cli.main import main
from rubicon.errors import AnalyticsError

Rows = Callable[..., list[dict[str, Any]]]


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_non_utf8_file_is_a_clean_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        make_rows: Rows) -> None:
    good = "".join(json.dumps(r) + "\n" for r in make_rows({"a": 5.0})[:2]).encode()
    p = tmp_path / "binary.jsonl"
    p.write_bytes(good + b'{"task_id": "\xff\xfe"}\n')
    with pytest.raises(AnalyticsError, match=r"binary.jsonl, line 3: not UTF-8 text \(byte 0xff"):
        load_runs(p)
    assert main(["horizon", str(p)]) == 2
    err = capsys.readouterr().err
    assert "not UTF-8" in err and "Traceback" not in err
    dates = tmp_path / "dates.yaml"
    dates.write_bytes(b"a: 2024-01-01\n\xff\n")
    assert main(["horizon", str(tmp_path / "binary.jsonl"), "--release-dates", str(dates)]) == 2
    assert "dates.yaml, line 2: not UTF-8" in capsys.readouterr().err


def test_fast_and_line_by_line_readers_agree(tmp_path: Path, make_rows: Rows,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    rows = make_rows({"a": 5.0, "b": 60.0}, runs_per_task=3)
    for i, r in enumerate(rows):
        r["run_id"] = f"r{i}"
        if i % 7 == 0:  # METR's later files: score_cont instead of score_binarized
            r["score_cont"] = float(r.pop("score_binarized"))
    p = _write(tmp_path / "runs.jsonl", rows)
    fast = load_runs(p)
    assert loading._arrow_jsonl(p, loading.Table(False), 0)  # the fast path was usable
    monkeypatch.setattr(loading, "_arrow_jsonl", lambda *a: False)
    slow = load_runs(p)
    for f in ("agent_codes", "task_codes", "task_family", "human_minutes", "score"):
        np.testing.assert_array_equal(getattr(fast, f), getattr(slow, f))
    assert fast.agent_names == slow.agent_names and fast.task_names == slow.task_names
    assert fast.family_names == slow.family_names


@pytest.mark.parametrize("impure", [False, True])
def test_run_level_draws_match_the_per_run_bootstrap(make_rows: Rows, impure: bool) -> None:
    """The sufficient-statistic draw has the distribution of resampling runs one by one."""
    rows = make_rows({"a": 20.0}, n_families=3, tasks_per_family=2, runs_per_task=5, seed=3)
    rows[0]["score_binarized"] = 0.5  # a fractional score: three kinds in that cell
    if impure:  # one run of a task timed differently: its cell spans two length columns
        rows[7]["human_minutes"] = rows[7]["human_minutes"] * 3
    recs = records_from_rows(rows)
    w = task_weights(recs)
    nb = 20000
    ref = hierarchical_counts(recs, nb, np.random.default_rng(1))
    ref_success = (ref * (w * recs.score)[None, :]).sum(axis=1)
    cells = agent_cells(recs.task_codes.astype(np.int64), np.log2(recs.human_minutes),
                        recs.score, w)
    rng = np.random.default_rng(2)
    tot, suc = resample_stats(cells, draw_task_counts(recs, nb, rng), rng)
    new_success = suc.sum(axis=1)
    ref_total = (ref * w[None, :]).sum(axis=1)
    assert tot.sum(axis=1).mean() == pytest.approx(ref_total.mean(), rel=0.02)
    assert new_success.mean() == pytest.approx(ref_success.mean(), rel=0.02)
    assert new_success.std() == pytest.approx(ref_success.std(), rel=0.05)
    # success weight at each length: same mean and spread as the per-run version
    ref_by_len = np.stack([(ref[:, recs.human_minutes == m] * (w * recs.score)[
        recs.human_minutes == m]).sum(axis=1) for m in np.exp2(cells.x)], axis=1)
    np.testing.assert_allclose(suc.mean(axis=0), ref_by_len.mean(axis=0), rtol=0.05, atol=1e-4)
    np.testing.assert_allclose(suc.std(axis=0), ref_by_len.std(axis=0), rtol=0.08, atol=1e-4)


def test_bootstrap_memory_does_not_grow_with_samples_times_runs(make_rows: Rows) -> None:
    # 4 agents x 600 tasks x 40 runs = 96,000 runs; 300 samples. A samples x runs matrix of
    # int32 counts alone would be 115 MB (and a float64 weight matrix per agent another 58).
    horizons = {"a": 2.0, "b": 10.0, "c": 60.0, "d": 300.0}
    recs = records_from_rows(make_rows(horizons, n_families=60, tasks_per_family=10,
                                       runs_per_task=40))
    assert len(recs) == 96_000
    tracemalloc.start()
    rep = estimate_horizons(recs, n_bootstrap=300, seed=0)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 40e6, f"peak {peak / 1e6:.0f} MB"
    assert all(a.horizon(0.5).ci_low is not None for a in rep.agents)


def test_duplicate_runs_are_counted_once_and_said(tmp_path: Path, make_rows: Rows,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    rows = make_rows({"a": 5.0})
    for i, r in enumerate(rows):
        r["run_id"] = f"run-{i}"
    one = _write(tmp_path / "one.jsonl", rows)
    (tmp_path / "copy").mkdir()
    other = _write(tmp_path / "copy" / "other.jsonl", rows[:10] + [{**rows[0], "run_id": "extra"}])
    recs = load_runs([one, other])
    assert len(recs) == len(rows) + 1
    assert any("dropped 10 duplicate run(s)" in n and "run-" in n for n in recs.notes)
    same = load_runs([one, one])
    assert len(same) == len(rows) and any("given twice" in n for n in same.notes)
    twin = _write(tmp_path / "twin.jsonl", rows)
    assert any("same content as" in n for n in load_runs([one, twin]).notes)
    bad = _write(tmp_path / "bad.jsonl", [{**rows[0], "score_binarized": 1 - rows[0]["score_binarized"]}])
    with pytest.raises(AnalyticsError, match="appears twice with different results"):
        load_runs([one, bad])
    assert main(["horizon", str(one), str(other), "--bootstrap", "0"]) == 0
    assert "duplicate run(s)" in capsys.readouterr().out


class _Score:
    def __init__(self, value: Any) -> None:
        self.value = value


def _fake_inspect(monkeypatch: pytest.MonkeyPatch, errored: bool) -> None:
    def sample(i: int, score: Any, error: Any = None) -> Any:
        return types.SimpleNamespace(
            id=i, epoch=1, metadata={"human_minutes": 2.0 ** i},
            scores={"s": _Score(score)} if score is not None else {}, error=error)

    def read_eval_log(path: str) -> Any:
        samples = [sample(i, "C" if i < 3 else "I") for i in range(6)]
        if errored:
            samples.append(sample(9, None, types.SimpleNamespace(message="Timeout\nstack...")))
        ev = types.SimpleNamespace(model="m", task="t", eval_id="E1", metadata={})
        return types.SimpleNamespace(eval=ev, samples=samples, status="success", error=None)

    mod = types.ModuleType("inspect_ai.log")
    mod.read_eval_log = read_eval_log  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "inspect_ai", types.ModuleType("inspect_ai"))
    monkeypatch.setitem(sys.modules, "inspect_ai.log", mod)


def test_errored_inspect_samples(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    _fake_inspect(monkeypatch, errored=True)
    log = tmp_path / "log.eval"
    log.write_bytes(b"PK")
    with pytest.raises(AnalyticsError, match=r"sample 9 \(epoch 1\) has no score: the sample "
                       r"errored: Timeout\. .*--skip-errored"):
        load_runs(log)
    recs = load_runs(log, skip_errored=True)
    assert len(recs) == 6
    assert any("skipped 1 errored sample(s) (9)" in n for n in recs.notes)
    assert main(["horizon", str(log), "--skip-errored", "--bootstrap", "0"]) == 0
    assert "skipped 1 errored sample(s)" in capsys.readouterr().out


def test_same_inspect_log_as_eval_and_json_counts_once(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_inspect(monkeypatch, errored=False)
    (tmp_path / "log.eval").write_bytes(b"PK")
    (tmp_path / "log.json").write_text("{}")
    recs = load_runs(tmp_path)
    assert len(recs) == 6
    assert any("dropped 6 duplicate run(s)" in n for n in recs.notes)


def test_odd_types_take_the_exact_reader(tmp_path: Path) -> None:
    rows = [{"task_id": 7, "task_family": "f", "alias": "a", "human_minutes": 2,
             "score_binarized": True},
            {"task_id": 8, "task_family": "f", "alias": "a", "human_minutes": "4.5",
             "score": 0}]
    p = _write(tmp_path / "odd.jsonl", rows)
    recs = load_runs(p)
    assert recs.task_names == ("7", "8") and recs.score.tolist() == [1.0, 0.0]
    assert recs.human_minutes.tolist() == [2.0, 4.5]
