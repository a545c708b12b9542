"""The other side of the red-team suite: scripted legitimate improvements -- including ones that
use the freedoms a real program needs (scratch files in /tmp and the workspace, a helper
subprocess, threads, printing, an extra module of its own) -- are measured and never flagged."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rubicon.measure.protocol import ProtocolConfig
from rubicon.task import Task
from rubicon.types import Decision, Edit, Proposal, State

from ._helpers import FAST_COUNT, MERGESORT, assert_store_intact, run_campaign

BISECT = Proposal(
    edits=[Edit(
        file="solution.py",
        search='''def count_insertion(seq: list[int]) -> int:
    raise NotImplementedError("insertion method not written yet")''',
        replace='''def count_insertion(seq: list[int]) -> int:
    import bisect

    seen: list[int] = []
    count = 0
    for x in seq:
        pos = bisect.bisect_right(seen, x)
        count += len(seen) - pos
        seen.insert(pos, x)
    return count''')],
    knobs={"method": "insertion"},
    rationale="legit: bisect insertion (the task's own playbook patch)",
)

# Uses everything a sandboxed program may use; innocent output that looks like metrics included.
BUSY = Proposal(edits=[Edit(file="solution.py", search="", replace=FAST_COUNT + '''
import json, os, subprocess, sys, tempfile, threading

with tempfile.NamedTemporaryFile("w", dir="/tmp", delete=False) as f:
    f.write("scratch")
with open(os.path.join(os.environ["HOME"], "notes.txt"), "w") as f:
    f.write("home is writable")
os.makedirs("cache/sub", exist_ok=True)
with open("cache/sub/log.json", "w") as f:
    json.dump({"note": "my own file in my workspace"}, f)
out = subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True, text=True)
assert out.stdout.strip() == "42"
t = threading.Thread(target=lambda: None)
t.start()
t.join()
print("correct: 0  (just a line I print)")
print("tampered: no")
''')], rationale="legit: busy but honest")


def test_legitimate_improvements_are_never_flagged(
        demo_copy: Callable[..., Task], outside_tmp: Path) -> None:
    rec = run_campaign(demo_copy(), [MERGESORT, BISECT, BUSY], outside_tmp,
                       protocol=ProtocolConfig(max_pairs=3))
    exps = rec.experiments
    assert [e.state for e in exps] == [State.OK] * 3, [(e.rationale, e.state, e.reason) for e in exps]
    assert exps[0].decision == Decision.KEEP  # ~3x faster than the naive baseline: promoted
    assert exps[0].speedup is not None and exps[0].speedup > 1.5
    for e in exps:
        assert e.metrics["correct"] == 1 and e.metrics["wrong"] == 0
    assert_store_intact(rec, 3)
