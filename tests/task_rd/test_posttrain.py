"""posttrain: the task validates, the baseline exports the base model and scores ~0, the playbook
applies, the evaluator draws its own questions from the secret seed, the reference ends within
its time budget however slow the machine, and it reaches its calibrated accuracy (slow)."""

from __future__ import annotations

import json
import random
import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from rubicon.researcher._search_space import SearchSpace
from rubicon.task import load_task, suites
from rubicon.workspace import apply_edits

from ._helpers import POSTTRAIN, load_module, parse, run_script, workspace

torch = pytest.importorskip("torch")

EVALUATE = POSTTRAIN / "evaluator" / "evaluate.py"


def evaluate(art: Path, seed: int = 1, questions: int = 200, **env: str) -> dict[str, object]:
    proc = run_script([str(EVALUATE), str(POSTTRAIN), str(art)], cwd=art.parent,
                      RUBICON_EVAL_SEED=str(seed), POSTTRAIN_EVAL_QUESTIONS=str(questions), **env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return parse(proc.stdout)


def train(ws: Path, timeout: float = 900) -> Path:
    """Run posttrain.py in `ws`; return a directory holding its artifacts."""
    proc = run_script(["posttrain.py"], cwd=ws, timeout=timeout, RUBICON_SEED="7")
    assert proc.returncode == 0, proc.stderr[-2000:]
    art = ws.parent / "art"
    art.mkdir()
    for name in ("model.rbw", "decode.json"):
        shutil.copy(ws / name, art / name)
    return art


def test_task_validates_with_family_milestones_and_suites() -> None:
    t = load_task(POSTTRAIN)
    assert t.family == "rd" and t.spec.human_minutes and t.spec.human_minutes_basis
    assert [m.name for m, _ in t.milestone_scores()]
    assert t.spec.score is not None and t.spec.score.kind == "linear"
    assert "posttrain" in suites()["rd"] and "posttrain" in suites()["core"]
    assert t.reference is not None and (t.reference / "posttrain.py").is_file()


def test_playbook_patches_apply_together_and_compile() -> None:
    t = load_task(POSTTRAIN)
    space = SearchSpace(t, t.editable_files())
    cfg = space.all_compatible()
    assert space.enabled(cfg) == [p.name for p in t.playbook]  # every patch applies, together
    files = apply_edits(t, t.editable_files(), space.edits(cfg))
    compile(files["posttrain.py"], "posttrain.py", "exec")
    assert json.loads(files["decode.json"])["digits_only"] is True


def test_questions_are_well_formed() -> None:
    q = load_module(POSTTRAIN / "evaluator" / "questions.py", "pt_questions")
    lang = load_module(POSTTRAIN / "evaluator" / "lang.py", "lang")
    rng = random.Random(3)
    for _ in range(300):
        program, a, b, answer = q.sample_question(rng)
        assert program[0] == lang.BOS and a != b
        assert len(program) - 1 <= q.PROGRAM_MAX + 8
        env = {program[i + 1]: lang.DIGIT_IDS.index(program[i + 2])
               for i in range(len(program) - 2) if program[i] == lang.ID["let"]}
        total = env[a] + env[b]
        assert answer == [lang.DIGIT_IDS[total // 10], lang.DIGIT_IDS[total % 10]]
        assert len(q.render(program, a, b, q.DEFAULT_TEMPLATE)) + 2 <= 128


def test_baseline_exports_the_base_model_and_scores_near_zero(tmp_path: Path) -> None:
    art = train(workspace(POSTTRAIN, tmp_path / "ws"))
    m = evaluate(art)
    assert "invalid" not in m, m
    assert m["distance_from_base"] == 0.0
    assert m["exact_accuracy"] <= 0.03  # the naive prompt: the base never printed a sum of variables
    assert m["accuracy"] == pytest.approx((m["exact_accuracy"] * 200 + 1) / 202, abs=1e-5)
    assert m["language_loss"] < 1.0  # the base model knows the language


def test_questions_depend_on_the_eval_seed_only(tmp_path: Path) -> None:
    """The run's seed (which the candidate knows) never enters the evaluator's draw."""
    art = train(workspace(POSTTRAIN, tmp_path / "ws"))
    a = evaluate(art, seed=5, questions=100, RUBICON_RUN_SEED="1", RUBICON_SEED="1")
    b = evaluate(art, seed=5, questions=100, RUBICON_RUN_SEED="2", RUBICON_SEED="2")
    assert a["units_accuracy"] == b["units_accuracy"] and a["language_loss"] == b["language_loss"]
    c = evaluate(art, seed=6, questions=100)
    assert c["language_loss"] != a["language_loss"]  # another secret seed, other questions


def test_reference_ends_its_schedule_within_its_time_budget(tmp_path: Path) -> None:
    """On a machine too slow for its steps (here: a million steps in a few seconds), the
    reference's schedule follows the clock: it stops at its time budget (counted from the
    process's start, torch's import included) and exports a valid model in time."""
    ws = workspace(POSTTRAIN, tmp_path / "ws", reference=True)
    cfg = json.loads((ws / "config.json").read_text())
    budget = 6
    cfg.update(steps=1_000_000, time_budget_seconds=budget)
    (ws / "config.json").write_text(json.dumps(cfg))
    t0 = time.monotonic()
    proc = run_script(["posttrain.py"], cwd=ws, timeout=120, RUBICON_SEED="7")
    elapsed = time.monotonic() - t0
    assert proc.returncode == 0, proc.stderr[-2000:]
    stop = re.search(r"time budget: stopping after (\d+) of 1000000 steps", proc.stdout)
    assert stop, proc.stdout[-2000:]
    assert elapsed < budget + 60, f"{elapsed:.0f} s for a {budget}-s budget"  # export, not training
    art = tmp_path / "art"
    art.mkdir()
    for name in ("model.rbw", "decode.json"):
        shutil.copy(ws / name, art / name)
    m = evaluate(art, questions=20)
    assert "invalid" not in m, m


@pytest.mark.slow
def test_reference_recipe_reaches_the_calibrated_accuracy(tmp_path: Path) -> None:
    """Within the task's time limit (the run's budget), not outside it."""
    limit = load_task(POSTTRAIN).spec.run.time_limit
    art = train(workspace(POSTTRAIN, tmp_path / "ws", reference=True), timeout=limit)
    m = evaluate(art, questions=600)
    assert "invalid" not in m, m
    sc = load_task(POSTTRAIN).spec.score
    assert sc is not None
    assert sc.normalize(objective=float(m["accuracy"])) > 0.9, m


class _Scripted:
    """A stand-in model for evaluate.answer: its k-th generated token is `script[k]` whatever
    the prompt (GPT.generate's contract: the pick function sees the logits and the tokens)."""

    def __init__(self, script: list[int], vocab: int = 80) -> None:
        self.script, self.vocab = script, vocab

    def generate(self, prompts: list[list[int]], steps: int, pick: Any = None) -> Any:
        n = max(map(len, prompts))
        seq = torch.tensor([[0] * (n - len(p)) + p for p in prompts])
        for k in range(steps):
            logits = torch.zeros(len(prompts), self.vocab)
            logits[:, self.script[min(k, len(self.script) - 1)]] = 10.0
            tok = logits.argmax(-1) if pick is None else pick(logits, seq)
            seq = torch.cat([seq, tok.view(-1, 1)], dim=1)
        return seq[:, n:]


def test_decoding_reads_the_two_tokens_after_the_first_generated_marker() -> None:
    ev = load_module(EVALUATE, "pt_evaluate")
    lang = load_module(POSTTRAIN / "evaluator" / "lang.py", "lang")
    i = lang.ID
    d = lang.DIGIT_IDS
    prompt = [[lang.BOS, i["let"], i["x"], d[7]]] * 2 + [[lang.BOS, i["let"], i["x"], d[7], i[";"]]]
    worked = [i[";"], i["print"], i["x"], d[7], i["="], d[1], d[5], i[";"]]
    dec = ev.Decode(["print", "A", "+", "B"], False, 16, i["="])
    assert ev.answer(_Scripted(worked), prompt, dec) == [[d[1], d[5]]] * 3
    # by default: the first two generated tokens
    first = ev.Decode(["print", "A", "+", "B"], False, 2, None)
    assert ev.answer(_Scripted(worked), prompt, first) == [[i[";"], i["print"]]] * 3
    # the marker must come within max_new_tokens, else no answer
    short = ev.Decode(["print", "A", "+", "B"], False, 5, i["="])
    assert ev.answer(_Scripted(worked), prompt, short) == [[-1, -1]] * 3
    # digits_only constrains the answer tokens only (";" after "=" becomes the best digit)
    bad = [i["="], i[";"], d[3], d[4]]
    dig = ev.Decode(["print", "A", "+", "B"], True, 8, i["="])
    got = ev.answer(_Scripted(bad), prompt, dig)[0]
    assert all(t in d for t in got)


def test_decode_settings_are_checked(tmp_path: Path) -> None:
    ev = load_module(EVALUATE, "pt_evaluate")
    p = tmp_path / "decode.json"
    for cfg, msg in [({"max_new_tokens": 99}, "max_new_tokens"), ({"answer_after": "=="}, "answer_after"),
                     ({"template": ["print", "A"]}, "both A and B"), ({"beam": 4}, "only the keys")]:
        p.write_text(json.dumps(cfg))
        with pytest.raises(ev.Invalid, match=msg):
            ev.read_decode(p)
    p.write_text(json.dumps({"max_new_tokens": 16, "answer_after": "="}))
    assert ev.read_decode(p).max_new_tokens == 16
