"""`rubicon tasks`: the suite with each task's family, human minutes (milestones too) and score
mapping, readable at 80 columns; `--json` carries the same; `rubicon tasks NAME` one task."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from rubicon.task import builtin_tasks, load_task, suites

SUITE = ["fix-masked-loss", "fix-tokenizer", "fix-dataloader-leak", "reproduce-mlp-ablation",
         "reproduce-lr-sweep", "tabular-churn", "tabular-demand", "optimize-attention",
         "optimize-adamw"]


def rubicon(*args: str, cwd: Path, columns: int = 80) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": str(columns)}
    return subprocess.run([sys.executable, "-m", "rubicon.cli.main", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_table_fits_80_columns_and_shows_family_minutes_and_score(tmp_path: Path) -> None:
    r = rubicon("tasks", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert max(len(ln.rstrip()) for ln in lines) <= 80, r.stdout
    out = r.stdout
    for name in SUITE:
        row = next(ln for ln in lines if ln.split()[:1] == [name])
        task = load_task(builtin_tasks()[name])
        assert task.family in row.split(), row
        assert task.spec.score is not None
        if task.spec.score.kind == "log-speedup":
            assert f"log-speedup: 1x→0, {task.spec.score.reference:g}x→1" in row, row
        else:
            assert row.split("linear ", 1)[1].startswith(task.spec.objective.metric), row
    # minutes are shown for the task and its milestones: tabular-demand is 5 h, its bronze 45 min
    demand = lines.index(next(ln for ln in lines if ln.split()[:1] == ["tabular-demand"]))
    assert "5 h" in lines[demand]
    two_lines = " ".join((lines[demand] + " " + lines[demand + 1]).split())
    assert "linear rmsle (min): 0.886→0, 0.602→1" in two_lines
    bronze = next(ln for ln in lines[demand:] if "· bronze" in ln)
    assert "45 min" in bronze and "rmsle 0.69" in bronze
    for suite, names in suites().items():
        assert f"suite {suite}:" in out and names[0] in out


def test_json_has_every_task_with_its_mapping_and_milestones(tmp_path: Path) -> None:
    r = rubicon("tasks", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    infos = {i["name"]: i for i in json.loads(r.stdout)}
    assert set(SUITE) <= set(infos)
    for name in SUITE:
        info, task = infos[name], load_task(builtin_tasks()[name])
        assert info["family"] == task.family
        assert info["human_minutes"] == task.spec.human_minutes and info["human_minutes_basis"]
        assert info["score"]["reference"] == task.spec.score.reference  # type: ignore[union-attr]
        assert "core" in info["suites"]
        assert [m["name"] for m in info["milestones"]] == [m.name for m in task.spec.milestones]
        assert all(m["basis"] and m["human_minutes"] > 0 for m in info["milestones"])
    churn = infos["tabular-churn"]
    assert churn["score"]["units"] == "auc" and churn["score"]["baseline"] == 0.707
    gold = next(m for m in churn["milestones"] if m["name"] == "gold")
    assert gold["threshold"] == {"auc": 0.84}
    assert abs(gold["score"] - (0.84 - 0.707) / (0.845 - 0.707)) < 1e-3
    adamw = infos["optimize-adamw"]
    assert adamw["score"]["units"] == "speedup" and adamw["score"]["baseline"] == 1.0
    assert adamw["milestones"][0]["threshold"] == {"speedup": 1.7}


def test_one_task_card_and_unknown_name(tmp_path: Path) -> None:
    r = rubicon("tasks", "fix-tokenizer", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "milestone round trip" in r.stdout and "hidden_passed 0.7 = 0.50, 10 min" in r.stdout
    assert "visible_passed == 1" in r.stdout and "tinybpe/*.py" in r.stdout
    r = rubicon("tasks", "no-such-task", cwd=tmp_path)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "unknown task 'no-such-task'" in r.stderr and "fix-tokenizer" in r.stderr
