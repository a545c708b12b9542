"""Hints (a task's playbook patches and start points) are a recorded campaign setting: with
hints off no playbook text reaches a researcher — not the llm researcher's real HTTP request,
not the command researcher's brief — and the search uses knobs only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rubicon import Campaign, CampaignConfig, ProtocolConfig
from rubicon.cli.main import main
from rubicon.researcher import ResearchContext
from rubicon.researcher._prompt import choose_plan, render_brief, render_prompt
from rubicon.researcher.search import SearchResearcher
from rubicon.task import Task, resolve_task
from rubicon.types import Experiment, State

from .fake_llm_server import FakeLLMServer
from .test_llm import MERGESORT, args

DEMO = resolve_task("demo-inversions")


def cfg(hints: bool) -> CampaignConfig:
    return CampaignConfig(max_experiments=1, baseline_runs=1, hints=hints,
                          protocol=ProtocolConfig(max_pairs=2, max_foreign_load=1e9))


def playbook_snippets(task: Task) -> list[str]:
    """Text only the playbook holds: patch names, descriptions, and the lines its edits write
    that no workspace file contains."""
    workspace = "\n".join(task.workspace_files().values())
    out = []
    for p in task.playbook:
        out += [p.name, p.description]
        for e in p.edits:
            out += [ln.strip() for ln in e.replace.splitlines()
                    if len(ln.strip()) > 12 and ln.strip() not in workspace]
    return out


def test_snippets_are_specific() -> None:
    s = playbook_snippets(DEMO)
    assert "bisect-insertion" in s and "pos = bisect.bisect_right(seen, x)" in s
    assert not any(x in "\n".join(DEMO.workspace_files().values()) for x in s)


@pytest.mark.parametrize("hints", [False, True])
def test_no_playbook_text_reaches_the_llm_without_hints(hints: bool, tmp_path: Path) -> None:
    with FakeLLMServer() as server:
        server.push(MERGESORT)
        # the researcher's own `hints` argument is on (its default): the campaign decides
        c = Campaign.create("demo-inversions", "llm", researcher_args=args(server),
                            directory=tmp_path, cfg=cfg(hints))
        c.run()
        sent = json.dumps([r["body"] for r in server.requests])
    assert len(server.requests) == 1
    assert "demo-inversions" in sent and "def count_naive" in sent  # the real prompt
    leaked = [s for s in playbook_snippets(DEMO) if json.dumps(s)[1:-1] in sent]
    if hints:
        assert "bisect-insertion" in leaked and "## Hints" in sent
    else:
        assert leaked == [] and "## Hints" not in sent and "Ideas that are known" not in sent
    assert c.info.config["hints"] is hints
    assert Campaign.open(tmp_path).cfg.hints is hints  # recorded, read back on open


def test_without_hints_the_context_has_no_playbook_and_no_start(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]
                                                                ) -> None:
    c = Campaign.create("demo-inversions", "search", directory=tmp_path, cfg=cfg(False))
    c.ensure_baseline()
    ctx = c.context()
    assert ctx.hints is False and ctx.task.playbook == [] and ctx.task.spec.playbook == []
    assert ctx.task.spec.start == [] and ctx.task.spec.knobs == DEMO.spec.knobs
    assert c.task.playbook  # the campaign's own task is untouched
    plan = choose_plan(ctx, "command", max_debug=0)
    for text in (render_brief(ctx, plan, "/tmp/w"), render_prompt(ctx, plan)):
        assert not [s for s in playbook_snippets(DEMO) if s in text]
    c.store.close()
    assert main(["show", "--dir", str(tmp_path)]) == 0
    assert "hints: off" in capsys.readouterr().out
    from rubicon.report import write_report

    html = write_report(tmp_path, out=tmp_path / "r" / "index.html").read_text()
    assert '<b id="campaign-hints">off</b>' in html


def test_search_without_hints_uses_knobs_only() -> None:
    task = resolve_task("lm-speedrun")
    assert task.spec.start and task.playbook  # the task has both kinds of hints
    base = Experiment(id=1, campaign_id="c", seq=0, parent_id=None, researcher="baseline",
                      files=task.editable_files(), state=State.OK, objective=200.0, speedup=1.0)
    with_hints = SearchResearcher().propose(
        ResearchContext(task=task, baseline=base, incumbent=base, history=[base]))
    assert with_hints is not None and with_hints.meta["phase"] == "start" and with_hints.edits
    without = SearchResearcher().propose(ResearchContext(
        task=task.without_hints(), hints=False, baseline=base, incumbent=base, history=[base]))
    assert without is not None and without.meta["phase"] == "sweep"
    assert not without.edits and not any(k.startswith("patch:") for k in without.meta["config"])


def test_run_flag_records_hints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "demo-inversions", "--no-hints", "--max-experiments", "0",
                 "--baseline-runs", "1", "--dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0 and "hints off" in out
    assert Campaign.open(tmp_path).cfg.hints is False
