"""Researchers and tasks from installed packages (entry points), from `module:Class`, or
directories; a campaign records its researcher's identity and reopening rebuilds it.

The plug-in is a real distribution: a package and its `.dist-info` (METADATA, entry_points.txt)
in a directory put on sys.path, which is all `importlib.metadata` reads - no pip install."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rubicon import (
    Campaign,
    CampaignConfig,
    ConfigError,
    ProtocolConfig,
    State,
    TaskError,
    list_researchers,
    list_tasks,
    resolve_task,
)
from rubicon.task import Task

ROOT = Path(__file__).resolve().parents[1]
CALM = CampaignConfig(max_experiments=1, baseline_runs=1,
                      protocol=ProtocolConfig(max_pairs=2, max_foreign_load=1e9))

PLUGIN = '''
"""A plug-in distribution for rubicon's tests."""
import os
from typing import Any

from pydantic import Field

from rubicon import Proposal, ResearchContext, ResearcherSettings


class VariantSettings(ResearcherSettings):
    bodies: list[str] = Field(default=["return seed + seed"], description="answer() bodies to try")


class Variants:
    """Tries each given body of answer(seed) once."""

    name = "variants"
    Settings = VariantSettings

    def __init__(self, **args: Any) -> None:
        self.settings = VariantSettings(**args)

    def propose(self, ctx: ResearchContext) -> Proposal | None:
        tried = {e.rationale for e in ctx.history}
        for body in self.settings.bodies:
            if body not in tried:
                code = "def answer(seed):\\n    " + body + "\\n"
                return Proposal(edits=[{"file": "solution.py", "replace": code}], rationale=body)
        return None


class Plain:
    """No arguments at all."""

    name = "plain"

    def propose(self, ctx: ResearchContext) -> Proposal | None:
        return None


class Opaque:
    name = "opaque"

    def __init__(self, secret: str) -> None:
        self.secret = secret

    def propose(self, ctx: ResearchContext) -> Proposal | None:
        return None


def task_dir() -> str:
    return os.environ["PLUG_TASK_DIR"]


def not_a_dir() -> int:
    return 42
'''

ENTRY_POINTS = """
[rubicon.researchers]
variants = rubicon_testplug:Variants
search = rubicon_testplug:Plain

[rubicon.tasks]
plugtask = rubicon_testplug:task_dir
broken = rubicon_testplug:not_a_dir
"""


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    d = tmp_path_factory.mktemp("plugin")
    (d / "rubicon_testplug").mkdir()
    (d / "rubicon_testplug" / "__init__.py").write_text(PLUGIN)
    info = d / "rubicon_testplug-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: rubicon-testplug\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(d))
        yield d
    sys.modules.pop("rubicon_testplug", None)


@pytest.fixture
def plug_task(plugin_dir: Path, make_task: Callable[..., Task],
              monkeypatch: pytest.MonkeyPatch) -> Task:
    task = make_task(name="plugtask")
    monkeypatch.setenv("PLUG_TASK_DIR", str(task.dir))
    return task


def test_entry_points_are_listed_with_their_source(plugin_dir: Path) -> None:
    researchers = list_researchers()
    assert researchers["variants"].source == "entry point (rubicon-testplug 0.1)"
    assert researchers["variants"].summary() == "Tries each given body of answer(seed) once."
    assert researchers["search"].source == "built-in"  # an entry point never shadows a built-in
    tasks = list_tasks()
    assert tasks["plugtask"].source == "entry point (rubicon-testplug 0.1)"
    assert tasks["demo-inversions"].source == "built-in"
    with pytest.raises(TaskError, match="expected a task directory .* got int"):
        resolve_task("broken")


def test_entry_point_researcher_is_recorded_and_rebuilt(plug_task: Task, tmp_path: Path) -> None:
    from rubicon_testplug import Variants

    d = tmp_path / "runs"
    c = Campaign.create("plugtask", Variants(bodies='["return 2 * seed"]'), directory=d, cfg=CALM)
    assert (c.info.researcher, c.info.researcher_args) == ("variants", {"bodies": ["return 2 * seed"]})
    c.run()
    again = Campaign.open(d)
    assert type(again.researcher).__name__ == "Variants"
    assert again.researcher.settings.bodies == ["return 2 * seed"]  # type: ignore[union-attr]
    exps = again.history()
    assert [(e.researcher, e.rationale, e.state) for e in exps[1:]] == [
        ("variants", "return 2 * seed", State.OK)]
    assert again.ask() is None  # the rebuilt researcher knows it has nothing left
    # the package moved its task (reinstalled elsewhere): reopening finds it by name
    moved = tmp_path / "moved"
    shutil.copytree(plug_task.dir, moved)
    shutil.rmtree(plug_task.dir)
    os.environ["PLUG_TASK_DIR"] = str(moved)
    assert Campaign.open(d).task.dir == moved


def test_module_class_reference_and_what_cannot_be_recorded(plug_task: Task, tmp_path: Path) -> None:
    from rubicon_testplug import Opaque, Variants

    c = Campaign.create(plug_task, "rubicon_testplug:Plain", directory=tmp_path / "a", cfg=CALM)
    assert c.info.researcher == "rubicon_testplug:Plain"
    assert type(Campaign.open(tmp_path / "a").researcher).__name__ == "Plain"
    by_ref = Campaign.create(plug_task, "rubicon_testplug:Variants", {"bodies": "[]"},
                             directory=tmp_path / "b", cfg=CALM)
    assert by_ref.info.researcher == "variants"  # recorded under its registered name
    with pytest.raises(ConfigError, match=r"cannot be recorded.*spec\(\).*rubicon\.researchers"):
        Campaign.create(plug_task, Opaque("x"), directory=tmp_path / "c", cfg=CALM)
    local = type("Local", (Variants,), {"__module__": "__main__"})
    with pytest.raises(ConfigError, match="defined in __main__"):
        Campaign.create(plug_task, local(), directory=tmp_path / "d", cfg=CALM)
    with pytest.raises(ConfigError, match="VariantSettings: bodies=7: Input should be a valid list"):
        Campaign.create(plug_task, "variants", {"bodies": "7"}, directory=tmp_path / "e", cfg=CALM)
    with pytest.raises(ConfigError, match="cannot be imported"):
        Campaign.create(plug_task, "no_such_module:X", directory=tmp_path / "f", cfg=CALM)
    # an object that cannot be recorded may still run when passed again to open
    assert Campaign.open(tmp_path / "a", researcher_obj=Opaque("y")).researcher.secret == "y"  # type: ignore[union-attr]


def test_several_researcher_objects_are_recorded_as_lines(plug_task: Task, tmp_path: Path) -> None:
    from rubicon_testplug import Plain, Variants

    c = Campaign.create(plug_task, [Variants(), Plain()], directory=tmp_path / "r", cfg=CALM)
    assert c.info.researcher == "variants+rubicon_testplug:Plain"
    again = Campaign.open(tmp_path / "r")
    assert [ln.name for ln in again.lines] == ["variants", "plain"]


def test_cli_lists_installed_researchers_and_tasks(plugin_dir: Path, plug_task: Task,
                                                   tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "200",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(plugin_dir)])}

    def rubicon(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "rubicon.cli.main", *args], cwd=tmp_path,
                              env=env, capture_output=True, text=True, timeout=120)

    r = rubicon("researchers")
    assert r.returncode == 0, r.stderr
    assert "variants" in r.stdout and "entry point (rubicon-testplug 0.1)" in r.stdout
    r = rubicon("researchers", "variants")
    assert "bodies" in r.stdout and "answer() bodies to try" in r.stdout
    r = rubicon("tasks")
    assert r.returncode == 0, r.stderr
    assert "plugtask" in r.stdout and "broken" in r.stdout and "invalid" in r.stdout
