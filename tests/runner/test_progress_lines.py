"""Progress lines (`progress: STEP/TOTAL`, docs/TASKS.md): parsed from a run's log while it
runs, and delivered as the campaign's "progress" events."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rubicon import Campaign, CampaignConfig, ProtocolConfig
from rubicon.runner._progress import READ_BYTES, LogProgress, last_progress
from rubicon.task import Task


def test_only_whole_well_formed_lines_count() -> None:
    assert last_progress(b"progress: 3/10\nprogress: 4/10\n") == (4, 10)
    assert last_progress(b"progress:7 / 9\r\n") == (7, 9)
    assert last_progress(b"progress: 12/10\n") == (10, 10)  # capped at the total
    for bad in (b"progress: 3/0\n", b"my progress: 3/10\n", b"progress: 3/10 steps\n",
                b"progress: -1/10\n", b"progress: 1234567890/2\n", b"nothing\n"):
        assert last_progress(bad) is None, bad


def test_follower_reports_changes_and_survives_a_flood(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_bytes(b"")
    seen: list[tuple[int, int]] = []
    follower = LogProgress(log, lambda s, t, _e: seen.append((s, t)), poll=60)
    with log.open("ab") as f:
        f.write(b"progress: 1/4\nprogress: 2/")  # a line in the middle of being written
        f.flush()
        follower.check()
        f.write(b"4\n")
        f.flush()
        follower.check()
        follower.check()  # nothing new: no repeat
        f.write(b"x" * (3 * READ_BYTES) + b"\nprogress: 3/4\n")  # a flood, then a line
        f.flush()
        follower.check()
    assert seen == [(1, 4), (2, 4), (3, 4)]


def test_follower_thread_reads_while_the_file_grows(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_bytes(b"")
    seen: list[tuple[int, int, float]] = []
    with LogProgress(log, lambda s, t, e: seen.append((s, t, e)), poll=0.05), log.open("ab") as f:
        for step in (1, 2):
            f.write(f"progress: {step}/2\n".encode())
            f.flush()
            time.sleep(0.3)
    assert [(s, t) for s, t, _ in seen] == [(1, 2), (2, 2)]
    assert seen[1][2] >= seen[0][2] > 0


SLOW_RUN = """
import os, time
import solution
for i in range(3):
    time.sleep(0.6)
    print(f"progress: {i + 1}/3", flush=True)
with open("out.txt", "w") as f:
    f.write(str(solution.answer(int(os.environ["RUBICON_SEED"]))))
"""


def test_campaign_emits_progress_events_of_its_runs(make_task: Callable[..., Task],
                                                    tmp_path: Path) -> None:
    task = make_task(extra_files={"workspace/run.py": textwrap.dedent(SLOW_RUN)})
    c = Campaign.create(task, "external", directory=tmp_path / "runs",
                        # one run: no re-run of a run the machine's load disturbed
                        cfg=CampaignConfig(baseline_runs=1,
                                           protocol=ProtocolConfig(max_foreign_load=1e9, max_reruns=0)))
    events: list[dict[str, Any]] = []
    c.on_event = lambda kind, data: events.append(data) if kind == "progress" else None
    c.ensure_baseline()
    assert events, "no progress event from a run printing progress lines"
    assert {(e["what"], e["experiment"], e["total"]) for e in events} == {("baseline", None, 3)}
    steps = [e["step"] for e in events]
    assert steps == sorted(steps) and steps[-1] == 3
