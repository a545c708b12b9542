"""The `command` researcher with shell-script agents."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from rubicon.campaign import Campaign, CampaignConfig
from rubicon.errors import ConfigError
from rubicon.measure.protocol import ProtocolConfig
from rubicon.researcher import ResearchContext, make_researcher
from rubicon.researcher.command import CommandResearcher
from rubicon.task import resolve_task
from rubicon.types import Decision, Experiment, State

TASK = resolve_task("demo-inversions")


def fast(n: int) -> CampaignConfig:
    """A small campaign: this suite tests researchers, not the timing protocol."""
    return CampaignConfig(max_experiments=n, baseline_runs=2,
                          protocol=ProtocolConfig(min_pairs=2, max_pairs=3,
                                                  max_foreign_load=1e9))

# An agent that checks what rubicon gives it, then switches the algorithm to mergesort.
GOOD_AGENT = r"""#!/bin/sh
set -e
test -f "$RUBICON_BRIEF"
case "$RUBICON_BRIEF" in "$PWD"/*) echo "brief inside workspace"; exit 3;; esac
cat > "$OUT/stdin.txt"
cmp -s "$OUT/stdin.txt" "$RUBICON_BRIEF"
cp "$RUBICON_BRIEF" "$OUT/brief.md"
echo "$PWD" > "$OUT/pwd.txt"
echo "$RUBICON_PARENT_ID $RUBICON_MODE $RUBICON_EDITABLE" > "$OUT/env.txt"
printf '{"cutoff": 16, "method": "mergesort"}\n' > knobs.json
python bench.py                        # the agent may test its change
echo "notes" > NOTES.md                # new non-editable files are ignored
echo "use mergesort: O(n log n)" > "$RUBICON_RATIONALE"
echo "done"
"""


def agent(tmp_path: Path, body: str, name: str = "agent.sh") -> str:
    p = tmp_path / name
    p.write_text(body if body.startswith("#!") else "#!/bin/sh\n" + body)
    p.chmod(0o755)
    return str(p)


def alive(pid: int) -> bool:
    """True when `pid` runs (a zombie awaiting its reaper counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_dead(pid: int, seconds: float = 3.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def exp(i: int, state: State = State.OK, files: dict[str, str] | None = None,
        researcher: str = "command", **kw: object) -> Experiment:
    return Experiment(id=i, campaign_id="c", seq=i - 1, parent_id=None if i == 1 else 1,
                      researcher=researcher, files=files or TASK.editable_files(), state=state,
                      decision=Decision.KEEP if state == State.OK else Decision.DISCARD,
                      objective=1.0 if state == State.OK else None, **kw)  # type: ignore[arg-type]


def ctx(*extra: Experiment) -> ResearchContext:
    base = exp(1, researcher="baseline")
    return ResearchContext(task=TASK, baseline=base, incumbent=base, history=[base, *extra])


def test_campaign_end_to_end_with_script_agent(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setenv("OUT", str(out))
    cmd = agent(tmp_path, GOOD_AGENT)
    c = Campaign.create("demo-inversions", "command", researcher_args={"cmd": cmd, "timeout": "60"},
                        directory=tmp_path / "runs", cfg=fast(1))
    c.run()
    h = [e for e in c.history() if e.seq > 0]
    assert len(h) == 1
    e = h[0]
    assert e.state == State.OK and e.decision == Decision.KEEP, e.reason
    assert e.rationale == "use mergesort: O(n log n)"
    assert '"mergesort"' in e.files["knobs.json"] and set(e.files) == {"knobs.json", "solution.py"}
    assert e.meta["ignored_new_files"] == ["NOTES.md", "answers.json"]
    assert e.meta["exit_code"] == 0 and e.meta["agent_seconds"] > 0
    brief = (out / "brief.md").read_text()
    assert "demo-inversions" in brief and "solution.py, knobs.json" in brief
    assert (out / "env.txt").read_text().split()[1] == "improve"
    assert not Path((out / "pwd.txt").read_text().strip()).exists()  # temp dir cleaned up


def test_answers_artifact_and_new_files_do_not_count_as_edits(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    cmd = agent(tmp_path, "python bench.py\nmkdir -p .aider.x && echo 1 > .aider.x/y\n"
                          "sed -i 's/count = 0$/count = 0  # x/' solution.py\n")
    p = CommandResearcher(cmd=cmd).propose(ctx())
    assert p is not None and [e.file for e in p.edits] == ["solution.py"]
    assert p.edits[0].search == "" and "count = 0  # x" in p.edits[0].replace
    assert p.meta["ignored_new_files"] == ["answers.json"]  # .aider* ignored by default
    assert "error" not in p.meta


def test_edit_of_readonly_file_is_invalid(tmp_path: Path) -> None:
    cmd = agent(tmp_path, "sed -i 's/2000/20/g' bench.py\n"
                          "printf '{\"method\": \"mergesort\"}\\n' > knobs.json\n")
    c = Campaign.create("demo-inversions", "command", researcher_args={"cmd": cmd},
                        directory=tmp_path / "runs", cfg=fast(1))
    c.run()
    e = [e for e in c.history() if e.seq > 0][0]
    assert e.state == State.INVALID and "read-only" in e.reason and "bench.py" in e.reason
    assert e.diff == "" and e.files == TASK.editable_files()


def test_deleting_files_is_invalid(tmp_path: Path) -> None:
    p = CommandResearcher(cmd=agent(tmp_path, "rm solution.py\n")).propose(ctx())
    assert p is not None and p.edits == []
    assert "deleted editable files: solution.py" in p.meta["error"]
    p = CommandResearcher(cmd=agent(tmp_path, "rm bench.py\n", "b.sh")).propose(ctx())
    assert p is not None and "read-only files: bench.py" in p.meta["error"]


def test_timeout_kills_the_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "bg.pid"
    cmd = agent(tmp_path, f"sleep 300 &\necho $! > {pidfile}\n"
                          "echo x >> solution.py\nsleep 300\n")
    t0 = time.monotonic()
    p = CommandResearcher(cmd=cmd, timeout="0.5", grace="0.2").propose(ctx())
    assert time.monotonic() - t0 < 10
    assert p is not None and p.edits == [] and "timed out after 0.5 s" in p.meta["error"]
    assert wait_dead(int(pidfile.read_text()))


def test_background_leftovers_are_killed_after_a_normal_exit(tmp_path: Path) -> None:
    pidfile = tmp_path / "bg.pid"
    cmd = agent(tmp_path, f"(sleep 300 >/dev/null 2>&1 &\necho $! > {pidfile})\n"
                          "echo '# x' >> solution.py\n")
    p = CommandResearcher(cmd=cmd, timeout="20").propose(ctx())
    assert p is not None and p.edits
    assert wait_dead(int(pidfile.read_text()))


def test_nonzero_exit_is_invalid_with_output_tail(tmp_path: Path) -> None:
    cmd = agent(tmp_path, "echo '# x' >> solution.py\necho 'agent: quota exceeded' >&2\nexit 7\n")
    p = CommandResearcher(cmd=cmd).propose(ctx())
    assert p is not None and p.edits == []
    assert "exited with code 7" in p.meta["error"] and "quota exceeded" in p.meta["error"]


def test_no_change_is_invalid(tmp_path: Path) -> None:
    p = CommandResearcher(cmd="true").propose(ctx())
    assert p is not None and p.edits == [] and "unchanged" in p.meta["error"]


def test_debug_step_starts_from_failed_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setenv("OUT", str(out))
    files = TASK.editable_files()
    files["solution.py"] += "\nBROKEN = 1 / 0\n"
    failed = exp(2, state=State.CRASHED, files=files, reason="exit code 1: ZeroDivisionError",
                 log_tail="Traceback ...\nZeroDivisionError: division by zero")
    cmd = agent(tmp_path, 'cp "$RUBICON_BRIEF" "$OUT/brief.md"\n'
                          'echo "$RUBICON_MODE" > "$OUT/mode"\n'
                          "grep -q BROKEN solution.py\n"
                          "sed -i 's|BROKEN = 1 / 0|BROKEN = 1|' solution.py\n")
    p = CommandResearcher(cmd=cmd).propose(ctx(failed))
    assert p is not None and p.parent_id == 2 and p.meta["mode"] == "debug"
    assert "BROKEN = 1\n" in p.edits[0].replace
    assert (out / "mode").read_text().strip() == "debug"
    assert "ZeroDivisionError: division by zero" in (out / "brief.md").read_text()


def test_stops_after_invalid_in_row_and_config_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    bad = [exp(i, state=State.INVALID) for i in range(2, 4)]
    assert CommandResearcher(cmd="exit 9", max_invalid_in_row="2").propose(ctx(*bad)) is None
    monkeypatch.delenv("RUBICON_AGENT_CMD", raising=False)
    with pytest.raises(ConfigError, match="RUBICON_AGENT_CMD"):
        make_researcher("command")
    with pytest.raises(ConfigError, match="timeout"):
        CommandResearcher(cmd="true", timeout="soon")
    monkeypatch.setenv("RUBICON_AGENT_CMD", "true")
    assert CommandResearcher().cmd == "true"
