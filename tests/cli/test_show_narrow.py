"""`rubicon show` at 80 columns: a list of blocks, every word of a rationale and reason kept
whole, no column squeezed to one word per line."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from rubicon.store import open_store
from rubicon.types import CampaignInfo, Decision, Experiment, State

REASON = ("futile: wall_seconds ratio 0.812x [0.600, 1.100] over 3 pairs; at this trend a 2% "
          "chance of promotion within 6 pairs")
RATIONALE = ("enable sdpa-attention (use torch's scaled_dot_product_attention kernel instead "
             "of the hand-written softmax attention) -- because the sampler expects it to be fast")


def make_store(d: Path) -> None:
    store = open_store(d)
    store.create_campaign(CampaignInfo(id="c1", task_name="demo", task_dir="/x", task_hash="h",
                                       researcher="search", created_at=time.time()))
    now = time.time()
    for seq, (state, decision, reason) in enumerate([
            (State.OK, Decision.KEEP, "baseline: 2 runs"),
            (State.OK, Decision.KEEP, "better: wall_seconds ratio 0.5x [0.4, 0.6] over 2 pairs"),
            (State.OK, Decision.DISCARD, REASON)]):
        e = Experiment(id=0, campaign_id="c1", seq=seq, parent_id=None if seq == 0 else 1,
                       researcher="search", rationale=RATIONALE if seq else "as given",
                       created_at=now)
        e = store.experiment(store.add_pending(e, f"code{seq}"))
        e.state, e.decision, e.reason, e.finished_at = state, decision, reason, now + 5
        e.objective, e.speedup = 1.0 / (seq + 1), float(seq + 1)
        if seq == 2:
            e.meta, e.ratio_low, e.ratio_high = {"compared_with": 2}, 0.6, 1.1
        store.finish(e, [], {})
    crash = store.experiment(store.add_pending(Experiment(
        id=0, campaign_id="c1", seq=0, parent_id=2, researcher="search", rationale="broken",
        created_at=now), "code3"))
    crash.state, crash.decision, crash.finished_at = State.CRASHED, Decision.DISCARD, now + 1
    crash.reason = "exit code 1: SyntaxError: expected ':'"
    crash.log_tail = ('Traceback (most recent call last):\n  File "/w/p1.e4/ws/solution.py", '
                      'line 12\n    def f(x)\n           ^\nSyntaxError: expected \':\'\n')
    store.finish(crash, [], {})
    store.update_campaign("c1", baseline_id=1, incumbent_id=2, status="finished")
    store.close()


def show(d: Path, *args: str, columns: int) -> str:
    env = {**os.environ, "COLUMNS": str(columns)}
    r = subprocess.run([sys.executable, "-m", "rubicon.cli.main", "show", *args, "--dir", str(d)],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def words(text: str) -> list[str]:
    return text.split()


def test_summary_at_80_columns_keeps_every_word(tmp_path: Path) -> None:
    make_store(tmp_path)
    out = show(tmp_path, columns=80)
    lines = out.splitlines()
    assert all(len(ln) <= 80 for ln in lines), out
    one_word = [len(ln.split()) == 1 for ln in lines]
    assert not any(all(one_word[i:i + 3]) for i in range(len(lines) - 2)), out  # no squeezed column
    flat = " ".join(words(out))
    assert " ".join(words(REASON)) in flat and "sdpa-attention" in flat
    assert "looked 1.23x better than #2" in flat  # why the faster-looking one was discarded
    assert "vs 2" in flat  # measured against the incumbent #2, not its parent #1
    # a crash names its file and line, and where to look
    assert "SyntaxError: expected ':' at solution.py:12 (details: rubicon show 4)" in flat
    wide = show(tmp_path, columns=160)
    assert "┃ vs" in wide and "futile:" in wide  # a table when wide


def test_one_experiment_names_its_speedup_method(tmp_path: Path) -> None:
    make_store(tmp_path)
    out = " ".join(words(show(tmp_path, "3", columns=80)))
    assert "measured against #2" in out
    assert "speedup: 3.000x vs baseline (chained: #2's speedup / paired ratio)" in out
