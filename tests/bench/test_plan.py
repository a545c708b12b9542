"""Planning a bench and its bad input: researchers, tasks, suites, bench directories, versions;
the statistics and records of attempts (no campaign runs here)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from rubicon import CampaignConfig, Decision, Experiment, State
from rubicon.analytics.scores import bootstrap_mean
from rubicon.bench import Attempt, AttemptResult, Bench, BenchError, parse_researcher, run_rows
from rubicon.bench._attempt import active_seconds, attempt_result
from rubicon.bench._manifest import Segment
from rubicon.bench.summary import summarize
from rubicon.cli.main import main
from rubicon.errors import AnalyticsError
from rubicon.task import load_task

from .conftest import task_copy


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.mark.parametrize("text, name, args", [
    ("search", "search", {}),
    ("search:sampler=random,seed=3", "search", {"sampler": "random", "seed": "3"}),
    ("my.mod:Sweep", "my.mod:Sweep", {}),
    ("my.mod:Sweep:cutoffs=[8,32],x=1", "my.mod:Sweep", {"cutoffs": "[8,32]", "x": "1"}),
    ("llm:model=m,base_url=http://127.0.0.1:8000/v1", "llm",
     {"model": "m", "base_url": "http://127.0.0.1:8000/v1"}),
])
def test_researcher_syntax(text: str, name: str, args: dict[str, str]) -> None:
    r = parse_researcher(text)
    assert (r.label, r.name, r.args) == (text, name, args)


def test_researcher_syntax_errors() -> None:
    with pytest.raises(BenchError, match="no researcher name"):
        parse_researcher(":seed=1")


@pytest.mark.parametrize("argv, words", [
    (["--researcher", "nosuch", "--suite", "smoke"], ["nosuch", "search"]),
    (["--researcher", "search:sampler=nope", "--suite", "smoke"], ["sampler", "random"]),
    (["--researcher", "search", "--tasks", "no-such-task"], ["no-such-task", "demo-inversions"]),
    (["--researcher", "search", "--suite", "nosuch"], ["unknown suite", "smoke"]),
    (["--suite", "smoke"], ["--researcher"]),
    (["--researcher", "search"], ["--suite", "--tasks"]),
    (["--researcher", "search", "--researcher", "search", "--suite", "smoke"], ["twice"]),
    (["--researcher", "external", "--suite", "smoke"], ["command"]),
    (["--researcher", "search", "--suite", "smoke", "--attempts", "0"], ["at least 1"]),
])
def test_bad_input_is_a_clear_message(argv: list[str], words: list[str], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    code, text = cli(capsys, "bench", "--dir", str(tmp_path / "b"), *argv)
    assert code == 2, text
    assert "Traceback" not in text and text.startswith("rubicon: error:")
    for w in words:
        assert w in text, (w, text)
    assert not (tmp_path / "b" / "bench.json").exists()


def test_task_without_score_or_human_time_is_refused(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    unscored = task_copy(tmp_path, "unscored", score=False)
    code, text = cli(capsys, "bench", "--researcher", "search", "--tasks", str(unscored),
                     "--dir", str(tmp_path / "b1"))
    assert code == 2 and "Traceback" not in text
    assert "[score]" in text and "score.kind" in text and "score.reference" in text
    assert str(unscored / "task.toml") in text.replace("\n", "")
    untimed = task_copy(tmp_path, "untimed", human=False)
    code, text = cli(capsys, "bench", "--researcher", "search", "--tasks", f"demo-inversions,{untimed}",
                     "--dir", str(tmp_path / "b2"))
    assert code == 2 and "human_minutes" in text and "untimed" in text
    assert not (tmp_path / "b2").exists()


def plan(tmp_path: Path, hints: bool = False) -> Bench:
    task = task_copy(tmp_path)
    return Bench.create(tmp_path / "b", ["search", "search:sampler=random"], [str(task)],
                        attempts=2, cfg=CampaignConfig(budget_seconds=60, seed=5), hints=hints)


def test_plan_records_every_attempt_before_running(tmp_path: Path) -> None:
    bench = plan(tmp_path)
    attempts = bench.attempts()
    assert [a.key for a in attempts] == ["search/tiny/0", "search/tiny/1",
                                         "search:sampler=random/tiny/0",
                                         "search:sampler=random/tiny/1"]
    assert [a.seed for a in attempts] == [5, 6, 5, 6]
    assert all(a.status == "pending" for a in attempts)
    again = Bench.open(bench.dir)
    assert again.plan == bench.plan and again.plan.config["hints"] is False
    assert [lv.name for lv in again.plan.tasks[0].levels] == [
        "2x", "3x", "4x", "6.8x", "7.5x", "reference"]
    assert again.plan.tasks[0].levels[-1].human_minutes == 20


def test_existing_and_foreign_directories(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    bench = plan(tmp_path)
    d = str(bench.dir)
    code, text = cli(capsys, "bench", "--researcher", "search", "--suite", "smoke", "--dir", d)
    assert code == 2 and "--resume" in text
    code, text = cli(capsys, "bench", "--resume", "--researcher", "search", "--budget", "5m",
                     "--dir", d)
    assert code == 2 and "--researcher" in text and "--budget" in text and "recorded plan" in text
    other = tmp_path / "other"
    other.mkdir()
    code, text = cli(capsys, "bench", "--resume", "--dir", str(other))
    assert code == 2 and "not a bench directory" in text
    (other / "x.txt").write_text("x")
    code, text = cli(capsys, "bench", "--researcher", "search", "--suite", "smoke", "--dir", str(other))
    assert code == 2 and "not empty" in text


@pytest.mark.parametrize("edit, words", [
    ({"version": 99}, ["version 99", "reads version 1"]),
    ({"format": "something"}, ["not a rubicon bench plan"]),
])
def test_bench_of_another_version_is_refused(edit: dict[str, Any], words: list[str],
                                             tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    bench = plan(tmp_path)
    path = bench.dir / "bench.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **edit}))
    for argv in (["bench", "--resume", "--dir", str(bench.dir)], ["report", str(bench.dir)]):
        code, text = cli(capsys, *argv)
        assert code == 2 and "Traceback" not in text, text
        for w in words:
            assert w in text
    path.write_text("{not json")
    code, text = cli(capsys, "bench", "--resume", "--dir", str(bench.dir))
    assert code == 2 and "not a readable bench manifest" in text


def test_bootstrap_mean() -> None:
    mean, low, high = bootstrap_mean([0.0, 0.0, 1.0, 1.0], n_samples=4000, seed=1)
    assert mean == 0.5 and 0.0 <= low < 0.5 < high <= 1.0
    assert bootstrap_mean([0.0, 0.0, 1.0, 1.0], n_samples=4000, seed=1) == (mean, low, high)
    assert bootstrap_mean([0.7]) == (0.7, 0.7, 0.7)
    with pytest.raises(AnalyticsError):
        bootstrap_mean([])
    with pytest.raises(AnalyticsError):
        bootstrap_mean([1.0, 2.0], ci=1.5)


def _exp(i: int, speedup: float | None, keep: bool, at: float, **meta: Any) -> Experiment:
    return Experiment(id=i, campaign_id="c", seq=i - 1, parent_id=None, researcher="r",
                      state=State.OK if speedup else State.CRASHED, speedup=speedup,
                      objective=1.0 / speedup if speedup else None,
                      decision=Decision.KEEP if keep else Decision.DISCARD,
                      created_at=at - 1, finished_at=at, meta=meta)


def test_attempt_result_curve_levels_and_cost(tmp_path: Path) -> None:
    task = load_task(task_copy(tmp_path))
    segs = [Segment(start=100.0, end=200.0, pid=1), Segment(start=1000.0, end=1100.0, pid=2)]
    exps = [_exp(1, 1.0, True, 110.0), _exp(2, 2.0, True, 150.0, tokens_in=100, tokens_out=20,
                                             cost_usd=0.01),
            _exp(3, 5.0, False, 160.0, tokens=30), _exp(4, None, False, 170.0),
            _exp(5, 5.2, True, 1050.0, cost_usd=0.02)]
    res = attempt_result(task, exps, segs)
    assert res.best_id == 5 and res.speedup == 5.2
    assert res.score == pytest.approx(math.log(5.2) / math.log(8.0))
    # time counts bench segments only: the pause between them is not the attempt's time
    assert [t for t, _ in res.curve] == [10.0, 50.0, 150.0]
    assert [s for _, s in res.curve][0] == 0.0
    assert res.milestones == {"2x": True, "3x": True, "4x": True, "6.8x": False,
                              "7.5x": False, "reference": False}
    assert res.experiments == 4 and res.states == {"ok": 3, "crashed": 1}
    assert res.tokens == 150 and res.cost_usd == pytest.approx(0.03)
    assert active_seconds(1050.0, segs) == 150.0


def test_failed_attempts_score_zero_and_keep_their_reason(tmp_path: Path) -> None:
    bench = plan(tmp_path, hints=True)
    p = bench.plan
    ok = Attempt(researcher="search", task="tiny", index=0, seed=0, status="finished",
                 started_at=1.0, completed_at=2.0, segments=[Segment(start=1.0, end=2.0, pid=1)],
                 result=AttemptResult(score=0.8, speedup=2.66, milestones={
                     "2x": True, "3x": True, "4x": True, "6.8x": False, "7.5x": False,
                     "reference": False}))
    bad = Attempt(researcher="search", task="tiny", index=1, seed=1, status="failed",
                  reason="RuntimeError: boom", started_at=1.0, completed_at=3.0)
    pending = Attempt(researcher="search:sampler=random", task="tiny", index=0, seed=0)
    rows = run_rows(p, [ok, bad, pending])
    assert len(rows) == 12  # 2 done attempts x 6 levels; the pending one has none
    assert {r["alias"] for r in rows} == {"search+hints"}  # hints on: marked
    good = [r for r in rows if r["attempt"] == 0]
    assert [r["score_binarized"] for r in good] == [1, 1, 1, 0, 0, 0]
    assert good[0]["task_id"] == "tiny/2x" and good[0]["task_family"] == "tiny"
    assert good[0]["suite_family"] == "demo" and good[-1]["human_minutes"] == 20
    assert good[0]["started_at"] == 1000 and good[0]["fatal_error_from"] is None
    failed = [r for r in rows if r["attempt"] == 1]
    assert all(r["score_binarized"] == 0 and r["score_cont"] == 0 for r in failed)
    assert all(r["fatal_error_from"] == "RuntimeError: boom" for r in failed)
    cells = summarize(p, [ok, bad, pending])
    assert cells[0].scores == [0.8, 0.0] and cells[0].mean == pytest.approx(0.4)
    assert cells[0].failed == 1 and cells[0].levels["2x"] == 1
    assert cells[1].done == 0 and cells[1].mean is None and cells[1].pending == 2


def test_an_attempt_killed_again_and_again_is_recorded_failed(tmp_path: Path) -> None:
    from rubicon.bench import MAX_RESTARTS
    from rubicon.bench._attempt import save

    bench = Bench.create(tmp_path / "b", ["search"], [str(task_copy(tmp_path))], attempts=1,
                         cfg=CampaignConfig(budget_seconds=60))
    att = bench.attempts()[0]
    att.status, att.restarts = "running", MAX_RESTARTS - 1
    att.segments = [Segment(start=1000.0, end=1010.0, pid=1), Segment(start=2000.0, pid=2)]
    save(bench.dir, att)
    events: list[str] = []
    [done] = bench.run(emit=lambda kind, data: events.append(kind))
    assert done.status == "failed" and done.restarts == MAX_RESTARTS
    assert "killed" in done.reason and done.score == 0
    assert done.segments[-1].end is not None and done.segments[-1].end >= 2000.0
    assert events == ["bench-start", "attempt-end"]
    rows = [json.loads(x) for x in (bench.dir / "runs.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and all("killed" in r["fatal_error_from"] for r in rows)


def test_live_table_and_plain_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from rich.console import Console

    import rubicon.cli.bench as cli_bench

    bench = plan(tmp_path)
    att = bench.attempts()[0]
    att.status, att.segments = "running", [Segment(start=1.0, pid=1)]
    done = att.model_copy(update={"status": "finished", "completed_at": 5.0, "segments": [
        Segment(start=1.0, end=5.0, pid=1)], "result": AttemptResult(score=0.8, speedup=2.66,
                                                                      milestones={"2x": True})})
    exp = _exp(2, 2.66, True, 3.0)
    for terminal in (True, False):
        out = io.StringIO()
        monkeypatch.setattr(cli_bench, "console", Console(
            file=out, force_terminal=terminal, width=160, highlight=False, color_system=None))
        display = cli_bench.Display(bench)
        assert (display.live is not None) is terminal
        display.event("attempt-start", {"attempt": att})
        display.event("experiment", {"attempt": att, "experiment": exp, "done": 1, "best": 0.8})
        table = io.StringIO()
        Console(file=table, width=160).print(display._table())
        assert "attempt 0: 1 experiments, best score 0.80" in table.getvalue()
        display.event("attempt-end", {"attempt": done})
        table = io.StringIO()
        Console(file=table, width=160).print(display._table())
        text = table.getvalue()
        assert "1/2" in text and "0.80 [0.80, 0.80]" in text and "hints off" in text
        lines = out.getvalue()
        assert "attempt search/tiny/0: finished, score 0.800, 2.66x, levels 1/1" in lines
        assert ("search/tiny/0 #2 ok keep speedup 2.66x" in lines) is not terminal
