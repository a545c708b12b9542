from __future__ import annotations

from pathlib import Path

import pytest

from rubicon.errors import TaskError
from rubicon.task import builtin_tasks, load_task, resolve_task


def _write(d: Path, toml: str) -> Path:
    (d / "workspace").mkdir(parents=True, exist_ok=True)
    (d / "workspace" / "a.py").write_text("x = 1\n")
    (d / "task.toml").write_text(toml)
    return d


BASE = 'name = "t"\ninstructions = "hi"\neditable = ["a.py"]\n[run]\ncommand = ["python", "a.py"]\n'


def test_demo_task_loads_and_hashes_stably() -> None:
    t = resolve_task("demo-inversions")
    assert t.name == "demo-inversions"
    assert set(t.editable_files()) == {"solution.py", "knobs.json"}
    assert not t.is_editable("bench.py")
    assert not t.is_editable("../solution.py")
    assert t.hash() == t.hash()
    assert {p.name for p in t.playbook} == {"local-lookups", "bisect-insertion"}


def test_valid_minimal_task(tmp_path: Path) -> None:
    t = load_task(_write(tmp_path, BASE))
    assert t.spec.run.time_limit == 60 and t.spec.objective.metric == "wall_seconds"


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("name = ", "not valid TOML"),
        ("colour = 3\n" + BASE, "key 'colour': unknown key"),
        (BASE + "colour = 3\n", "key 'run.colour': unknown key"),
        (BASE.replace('editable = ["a.py"]\n', ""), "key 'editable': required but missing"),
        (BASE.replace('["a.py"]', '["b.py"]'), "matches no file in workspace/"),
        (BASE.replace("[run]\n", "[run]\ntime_limit = -1\n"), "key 'run.time_limit'"),
        (BASE + '[[gates]]\nmetric = "loss"\nop = "~"\nvalue = 1\n', "key 'gates.0.op'"),
        (BASE + '[[gates]]\nmetric = "loss"\nop = "<="\nvalue = 1\n', "needs an [evaluate]"),
        (BASE + '[knobs.lr]\ntype = "float"\ndefault = 1\n', "needs 'knobs_file'"),
        (BASE + '[objective]\ninclude_evaluator = true\n', "needs metric = \"wall_seconds\""),
    ],
)
def test_broken_task_messages_name_key_and_found(tmp_path: Path, toml: str, expected: str) -> None:
    with pytest.raises(TaskError) as err:
        load_task(_write(tmp_path, toml))
    assert expected in str(err.value)
    assert "task.toml" in str(err.value)


def test_found_value_is_reported(tmp_path: Path) -> None:
    with pytest.raises(TaskError, match=r"found -1"):
        load_task(_write(tmp_path, BASE.replace("[run]\n", "[run]\nthreads = -1\n")))


def test_unknown_task_lists_builtins() -> None:
    with pytest.raises(TaskError, match="demo-inversions"):
        resolve_task("no-such-task")


def test_every_builtin_task_validates() -> None:
    tasks = builtin_tasks()
    assert "demo-inversions" in tasks
    for path in tasks.values():
        assert load_task(path).spec.editable


SCORED = BASE.replace('editable = ["a.py"]\n', 'editable = ["a.py"]\nfamily = "demo"\n')


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ('[score]\nkind = "log-speedup"\nreference = 0.5\n', "reference > 1"),
        ('[score]\nkind = "log-speedup"\nreference = 4\nbaseline = 1\n', "takes no 'baseline'"),
        ('[score]\nkind = "linear"\nreference = 0.9\n', "linear needs 'baseline'"),
        ('[score]\nkind = "exp"\nreference = 4\n', "key 'score.kind'"),
        ('[[milestones]]\nname = "a"\nspeedup = 2\nhuman_minutes = 5\nbasis = "x"\n',
         "needs a [score] section"),
        ('[score]\nkind = "log-speedup"\nreference = 4\n[[milestones]]\nname = "a"\n'
         'human_minutes = 5\nbasis = "x"\n', "exactly one of score, speedup, objective"),
        ('[score]\nkind = "log-speedup"\nreference = 4\n[[milestones]]\nname = "a"\n'
         'objective = 3\nhuman_minutes = 5\nbasis = "x"\n', "'objective' needs score.kind"),
        ('[score]\nkind = "log-speedup"\nreference = 4\n[[milestones]]\nname = "a"\n'
         'speedup = 2\nhuman_minutes = 5\nbasis = ""\n', "key 'milestones.0.basis'"),
    ],
)
def test_bad_score_mappings_are_refused(tmp_path: Path, extra: str, expected: str) -> None:
    with pytest.raises(TaskError) as err:
        load_task(_write(tmp_path, SCORED + extra))
    assert expected in str(err.value)


def test_log_speedup_and_linear_scores(tmp_path: Path) -> None:
    t = load_task(_write(tmp_path, SCORED + '[score]\nkind = "log-speedup"\nreference = 16\n'
                         '[[milestones]]\nname = "4x"\nspeedup = 4\nhuman_minutes = 30\nbasis = "b"\n'
                         '[[milestones]]\nname = "top"\nscore = 1.0\nhuman_minutes = 90\nbasis = "b"\n'))
    sc = t.spec.score
    assert sc is not None and t.family == "demo"
    assert sc.normalize(speedup=1.0) == 0.0
    assert sc.normalize(speedup=16.0) == pytest.approx(1.0)
    assert sc.normalize(speedup=0.5) == pytest.approx(-0.25)
    assert [(m.name, round(v, 6)) for m, v in t.milestone_scores()] == [("4x", 0.5), ("top", 1.0)]
    lin = load_task(_write(tmp_path / "lin", BASE.replace('"t"', '"u"') +
                           '[objective]\nmetric = "acc"\ndirection = "maximize"\n'
                           '[evaluate]\ncommand = ["true"]\n'
                           '[score]\nkind = "linear"\nbaseline = 0.5\nreference = 0.9\n'))
    assert lin.family == "u" and lin.spec.score is not None
    assert lin.spec.score.normalize(objective=0.7) == pytest.approx(0.5)


def test_builtin_speed_tasks_declare_scores_and_caps() -> None:
    t = resolve_task("lm-speedrun")
    assert t.spec.score is not None and t.spec.score.kind == "log-speedup"
    assert [m.name for m in t.spec.milestones] == ["2x", "4x", "10x", "20x"]
    scores = [v for _, v in t.milestone_scores()]
    assert scores == sorted(scores) and scores[0] > 0 and scores[-1] < 1
    assert t.spec.max_editable_bytes < 64 * 1024


def test_every_suite_names_builtin_tasks() -> None:
    from rubicon.task import suites

    found = suites()
    assert {"smoke", "core", "rd"} <= set(found)
    for name, tasks in found.items():
        assert tasks, name
        assert set(tasks) <= set(builtin_tasks()), name
    assert set(found["smoke"]) <= set(found["core"])
    # core is every built-in task but the lineage's own (its dev and honeypot suites, the meta-
    # task); rd holds the AI R&D tasks (family "rd"), lm-speedrun first
    lineage_only = set(found["dev"]) | set(found["honeypot"]) | {
        n for n, d in builtin_tasks().items() if load_task(d).family == "meta"}
    assert sorted(found["core"]) == sorted(set(builtin_tasks()) - lineage_only)
    assert not lineage_only & set(found["core"])
    assert found["rd"][0] == "lm-speedrun" and set(found["rd"]) <= set(found["core"])


def test_every_builtin_task_has_a_calibrated_score_and_estimates_with_a_basis() -> None:
    """What `rubicon tasks` and horizons rest on: a [score], human minutes with a one-line basis,
    milestones ordered by score, and a spread of human minutes from minutes to hours."""
    minutes = []
    for name, d in builtin_tasks().items():
        t = load_task(d)
        assert t.spec.score is not None and t.spec.score.basis, name
        assert t.spec.human_minutes and t.spec.human_minutes_basis.strip(), name
        assert "\n" not in t.spec.human_minutes_basis, name
        scores = [v for _, v in t.milestone_scores()]
        # between the baseline (0) and the reference (1), but for weak-to-strong, whose milestones
        # are the published PGR marks 0.25 / 0.5 / 0.9 (issue 22): 0.9 is far past its reference
        # (median PGR 0.43 since the rule of wrong tokens: normalized 2.7)
        low, high = (-0.2, 3.0) if name == "weak-to-strong" else (0.0, 1.05)
        assert scores == sorted(scores) and all(low < v < high for v in scores), (name, scores)
        minutes += [t.spec.human_minutes, *(m.human_minutes for m in t.spec.milestones)]
    assert min(minutes) <= 5 and max(minutes) >= 6 * 60


def test_identity_hash_ignores_descriptions_but_not_measurement(tmp_path: Path) -> None:
    """A campaign stays resumable when a task's descriptive keys change (family, human minutes,
    score mapping, instructions); any change to what is measured makes it another task."""
    d = _write(tmp_path, BASE.replace('instructions = "hi"\n', 'instructions = "hi"\nhuman_minutes = 5\n'))
    first = load_task(d)
    ident, full = first.identity_hash(), first.hash()  # both read the directory as it is now
    (d / "task.toml").write_text(BASE.replace('instructions = "hi"\n',
                                              'instructions = "read me"\nhuman_minutes = 9\n'
                                              'family = "demo"\n'))
    described = load_task(d)
    assert described.identity_hash() == ident
    assert described.hash() != full  # the tamper check still sees every byte
    (d / "task.toml").write_text(BASE.replace("[run]\n", "[run]\ntime_limit = 30\n"))
    assert load_task(d).identity_hash() != ident
    (d / "task.toml").write_text(BASE)
    (d / "workspace" / "a.py").write_text("x = 2\n")
    assert load_task(d).identity_hash() != ident


def test_instructions_file_or_text(tmp_path: Path) -> None:
    # a sentence that ends in a file name is text, not a file to open
    inline = BASE.replace('instructions = "hi"', 'instructions = "Speed it up; notes are in NOTES.md"')
    assert load_task(_write(tmp_path / "inline", inline)).instructions.endswith("NOTES.md")
    d = _write(tmp_path / "file", BASE.replace('"hi"', '"brief.md"'))
    (d / "brief.md").write_text("read me\n")
    assert load_task(d).instructions == "read me\n"
    # a file name that leaves the task directory is refused, not followed
    (tmp_path / "secret.txt").write_text("outside\n")
    out = _write(tmp_path / "out", BASE.replace('"hi"', '"../secret.txt"'))
    with pytest.raises(TaskError, match="outside the task directory"):
        load_task(out)


def test_identity_of_a_task_is_stable_across_keys_added_later(tmp_path: Path) -> None:
    # recorded campaigns resume only while their task's identity holds: a key added to the
    # schema later, left at its default, must not change it (the value below was computed by
    # the code before `evaluate.rubicon` existed)
    d = _write(tmp_path / "t", BASE + '[evaluate]\ncommand = ["python", "ev.py"]\n')
    (d / "evaluator").mkdir()
    (d / "evaluator" / "ev.py").write_text("print('score: 1')\n")
    assert load_task(d).identity_hash() == (
        "b3cfbe90190dfe8f67722830dabe2b88d65d7a16426d3f78ac0ccff567f4c507")
