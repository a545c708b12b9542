"""lm-speedrun validates as a task; its knobs match the baseline config; its generator copies
agree; every playbook patch applies alone and in combination to the baseline and still compiles
(and, for a miniature config, still trains and exports a valid model)."""

from __future__ import annotations

import itertools
import json
import py_compile
import random
import sys
from pathlib import Path

import pytest

from rubicon.task import load_task, resolve_task

from ._helpers import MINI, TASK_DIR, TRAIN_SEED, make_workspace, run_evaluator, run_train


@pytest.fixture(scope="module")
def task():
    return load_task(TASK_DIR)


def test_task_validates_and_is_the_default(task) -> None:
    assert task.name == "lm-speedrun"
    assert resolve_task(None).name == "lm-speedrun"
    assert task.spec.objective.metric == "wall_seconds"
    assert task.spec.objective.direction == "minimize"
    assert [(g.metric, g.op) for g in task.spec.gates] == [("val_loss", "<=")]
    assert task.spec.run.artifacts == ["model.pt2"]
    assert task.spec.run.threads == 2
    assert task.spec.run.memory_mb >= 4096
    assert task.spec.evaluate is not None and "{artifacts}" in task.spec.evaluate.command
    assert task.is_editable("train.py") and task.is_editable("config.json")
    assert task.reference is not None and (task.reference / "train.py").is_file()


def test_knob_defaults_are_the_baseline_config(task) -> None:
    cfg = json.loads((TASK_DIR / "workspace" / "config.json").read_text())
    assert set(task.spec.knobs) <= set(cfg)
    for name, knob in task.spec.knobs.items():
        assert knob.default == cfg[name], name
        if knob.type in ("int", "float"):
            assert knob.low <= cfg[name] <= knob.high, name
    assert task.spec.fidelity_knob == "steps"


def test_evaluator_has_its_own_identical_generator() -> None:
    a = (TASK_DIR / "workspace" / "data.py").read_bytes()
    b = (TASK_DIR / "evaluator" / "lang.py").read_bytes()
    assert a == b


def test_reference_fast_generator_makes_the_same_tokens_and_rng_calls() -> None:
    """The reference trains on fastdata.sample_tokens: it must be data.py's stream, not a cheaper
    language (same tokens, and the rng left in the same state, so every later sequence agrees)."""
    sys.path[:0] = [str(TASK_DIR / "reference"), str(TASK_DIR / "workspace")]
    try:
        import data
        import fastdata
    finally:
        del sys.path[:2]
    for seed in range(100):
        a, b = random.Random(seed), random.Random(seed)
        perm = data.variant(seed % 3) if seed % 2 else None  # the run's variant or another
        for length in (128, 64, 7):
            assert fastdata.sample_tokens(b, length, perm) == data.sample_sequence(a, length, perm)[0]
        assert a.getstate() == b.getstate(), seed


def test_generator_is_deterministic_and_has_the_documented_floor() -> None:
    sys.path.insert(0, str(TASK_DIR / "evaluator"))
    try:
        import lang
    finally:
        sys.path.pop(0)
    t1, l1 = lang.sample_sequence(random.Random(5), 128)
    t2, l2 = lang.sample_sequence(random.Random(5), 128)
    assert (t1, l1) == (t2, l2)
    assert len(t1) == 129 and len(l1) == 128 and t1[0] == lang.BOS
    assert all(0 <= t < lang.VOCAB_SIZE for t in t1) and all(lp <= 0 for lp in l1)
    rng = random.Random(0)
    nll = [-sum(lang.sample_sequence(rng, 128)[1]) / 128 for _ in range(1000)]
    assert 0.96 < sum(nll) / len(nll) < 0.99  # instructions.md says about 0.977


def test_statements_mean_what_the_docstring_says() -> None:
    """Recall returns the one value bound to the variable; sums and copies are right."""
    sys.path.insert(0, str(TASK_DIR / "evaluator"))
    try:
        import lang
    finally:
        sys.path.pop(0)
    rng = random.Random(3)
    counts = dict.fromkeys(("let", "print", "+", "copy", "say"), 0)
    for _ in range(200):
        words = lang.decode(lang.sample_sequence(rng, 128)[0]).split()
        env: dict[str, str] = {}
        statements = " ".join(words[1:]).split(" ; ")[:-1]  # the last one may be cut off
        for st in statements:
            w = st.split()
            if w[0] == "let":
                assert w[1] in lang.VARIABLES and w[1] not in env and len(w) == 3
                env[w[1]] = w[2]
            elif w[0] == "print":
                assert w[2] == env[w[1]] and len(w) == 3
            elif w[0] == "copy":
                bar = w.index("|")
                assert w[1:bar] == w[bar + 1 :] and 2 <= bar - 1 <= 6
            elif w[1] == "+":
                assert int(w[4] + w[5]) == int(w[0]) + int(w[2])
                w[0] = "+"
            counts[w[0]] = counts.get(w[0], 0) + 1
    assert all(n > 50 for n in counts.values()), counts


def _apply(files: dict[str, str], patch) -> dict[str, str]:
    out = dict(files)
    for e in patch.edits:
        text = out[e.file]
        assert text.count(e.search) == 1, f"{patch.name}: search text found {text.count(e.search)}x"
        out[e.file] = text.replace(e.search, e.replace)
    return out


def _compatible(names: tuple[str, ...], task) -> bool:
    by_name = {p.name: p for p in task.playbook}
    return all(r in names for n in names for r in by_name[n].requires)


def _compiles(files: dict[str, str], tmp: Path) -> None:
    tmp.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        if name.endswith(".py"):
            (tmp / name).write_text(text)
            py_compile.compile(str(tmp / name), doraise=True)


def test_playbook_is_nonempty_and_described(task) -> None:
    assert len(task.playbook) >= 6
    for p in task.playbook:
        assert p.description and "\n" not in p.description
        assert all(e.search for e in p.edits)  # exact edits, not whole-file replacements


def test_each_patch_alone_and_every_pair_applies_and_compiles(task, tmp_path: Path) -> None:
    base = task.editable_files()
    n = skipped = 0
    for k in (1, 2):
        for combo in itertools.combinations(task.playbook, k):
            names = tuple(p.name for p in combo)
            if not _compatible(names, task):
                skipped += 1
                continue
            files = base
            for p in combo:
                files = _apply(files, p)
            assert files["train.py"] != base["train.py"]
            _compiles(files, tmp_path / "-".join(names))
            n += 1
    k = len(task.playbook)
    assert n + skipped == k * (k + 1) // 2
    assert skipped <= k  # only combinations missing a required patch are skipped


def test_all_patches_together_train_and_export(task, tmp_path: Path) -> None:
    files = task.editable_files()
    for p in task.playbook:
        files = _apply(files, p)
    ws = make_workspace(tmp_path / "ws", MINI)
    (ws / "train.py").write_text(files["train.py"])
    proc = run_train(ws)
    assert proc.returncode == 0, proc.stderr[-3000:]
    art = tmp_path / "art"
    art.mkdir()
    (ws / "model.pt2").rename(art / "model.pt2")
    m = run_evaluator(art, sequences=32, run_seed=TRAIN_SEED)
    assert "invalid" not in m and m["val_loss"] > 0, m


@pytest.mark.slow
@pytest.mark.parametrize("name", [p.name for p in load_task(TASK_DIR).playbook])
def test_each_patch_alone_trains_and_exports(task, tmp_path: Path, name: str) -> None:
    patch = next(p for p in task.playbook if p.name == name)
    files = task.editable_files()
    for p in task.playbook:  # its requirements first (they come earlier in the playbook)
        if p.name in patch.requires:
            files = _apply(files, p)
    files = _apply(files, patch)
    ws = make_workspace(tmp_path / "ws", MINI)
    (ws / "train.py").write_text(files["train.py"])
    proc = run_train(ws)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (ws / "model.pt2").is_file()
