from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from rubicon.errors import ProposalError
from rubicon.task import resolve_task
from rubicon.types import Edit, Proposal
from rubicon.workspace import (
    apply_proposal,
    code_hash,
    diff_files,
    read_workspace,
    scan_workspace,
    write_workspace,
)


@pytest.fixture
def demo():  # type: ignore[no-untyped-def]
    return resolve_task("demo-inversions")


def test_edit_outside_editable_is_rejected(demo) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ProposalError, match="bench.py.*not editable"):
        apply_proposal(demo, demo.editable_files(), Proposal(edits=[Edit(file="bench.py", replace="")]))
    with pytest.raises(ProposalError, match="not editable"):
        apply_proposal(demo, demo.editable_files(),
                       Proposal(edits=[Edit(file="../escape.py", replace="x")]))


def test_search_must_match_once(demo) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ProposalError, match="not found"):
        apply_proposal(demo, demo.editable_files(),
                       Proposal(edits=[Edit(file="solution.py", search="nope", replace="x")]))
    with pytest.raises(ProposalError, match="found .* times"):
        apply_proposal(demo, demo.editable_files(),
                       Proposal(edits=[Edit(file="solution.py", search="count", replace="x")]))


def test_knobs_validated_and_written(demo) -> None:  # type: ignore[no-untyped-def]
    files = apply_proposal(demo, demo.editable_files(), Proposal(knobs={"method": "mergesort"}))
    assert json.loads(files["knobs.json"])["method"] == "mergesort"
    for bad in ({"method": "quantum"}, {"cutoff": 1000}, {"cutoff": 2.5}, {"colour": 1}):
        with pytest.raises(ProposalError, match="knob"):
            apply_proposal(demo, demo.editable_files(), Proposal(knobs=bad))


def test_playbook_patches_apply_to_baseline(demo) -> None:  # type: ignore[no-untyped-def]
    for patch in demo.playbook:
        files = apply_proposal(demo, demo.editable_files(), Proposal(edits=patch.edits))
        assert files["solution.py"] != demo.editable_files()["solution.py"]
        compile(files["solution.py"], "solution.py", "exec")


def test_diff_and_code_hash(demo) -> None:  # type: ignore[no-untyped-def]
    a = demo.editable_files()
    b = dict(a, **{"solution.py": a["solution.py"] + "\n\n   \n"})
    assert code_hash(a) == code_hash(b)  # whitespace-only change is a duplicate
    c = dict(a, **{"solution.py": a["solution.py"].replace("count = 0", "count = 0  # x", 1)})
    assert code_hash(a) != code_hash(c)
    d = diff_files(a, c)
    assert d.startswith("--- a/solution.py") and "+    count = 0  # x" in d


def test_read_workspace_reports_outside_edits(demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ws = tmp_path / "ws"
    write_workspace(demo, demo.editable_files(), ws)
    (ws / "solution.py").write_text("# changed\n")
    (ws / "bench.py").write_text("print('hacked')\n")
    (ws / "new.py").write_text("x = 1\n")
    files, outside = read_workspace(demo, ws, demo.workspace_files())
    assert files["solution.py"] == "# changed\n"
    assert set(outside) == {"bench.py", "new.py"}


def test_scan_never_follows_or_opens_special_entries(demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Symlinks (to a file, to a directory), fifos, sockets and hard-linked files are refused
    with a reason and never read; plain edits are read as usual."""
    import socket

    secret = tmp_path / "secret.py"
    secret.write_text("SECRET = 1\n")
    ws = tmp_path / "ws"
    write_workspace(demo, demo.editable_files(), ws)
    (ws / "knobs.json").write_text('{"method": "mergesort"}\n')
    (ws / "solution.py").unlink()
    (ws / "solution.py").symlink_to(secret)
    (ws / "lib").symlink_to(tmp_path)
    os.mkfifo(ws / "pipe")
    os.link(secret, ws / "linked.py")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(ws / "sock"))
    try:
        scan = scan_workspace(demo, ws, demo.workspace_files())
    finally:
        sock.close()
    assert scan.files == {"knobs.json": '{"method": "mergesort"}\n'}
    assert sorted(scan.refused) == sorted([
        "'solution.py' is a symbolic link", "'lib' is a symbolic link", "'pipe' is a fifo",
        "'sock' is a socket",
        "'linked.py' has other hard links (it may be a file outside the workspace)"])
    assert "SECRET" not in repr(scan)
    files, problems = read_workspace(demo, ws, demo.workspace_files())
    assert "'pipe' is a fifo" in problems and "solution.py" not in files


def test_scan_refuses_a_symlinked_workspace_and_deep_trees(demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ws = tmp_path / "ws"
    write_workspace(demo, demo.editable_files(), ws)
    link = tmp_path / "link"
    link.symlink_to(ws)
    with pytest.raises(ProposalError, match="is a symbolic link; pass the real directory"):
        scan_workspace(demo, link, demo.workspace_files())
    deep = ws
    for _ in range(70):
        deep = deep / "d"
    deep.mkdir(parents=True)
    scan = scan_workspace(demo, ws, demo.workspace_files())
    assert any("is deeper than 64 directory levels" in r for r in scan.refused), scan.refused


def test_write_never_follows_a_symlink(demo, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """export/ask write editable files without following a symlink planted in the target."""
    from rubicon.workspace import _write_new

    outside = tmp_path / "outside"
    outside.mkdir()
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "sub").symlink_to(outside)
    (ws / "x.py").symlink_to(outside / "x.py")
    with pytest.raises(ProposalError, match="not a plain directory"):
        _write_new(ws, "sub/y.py", b"y")
    with pytest.raises(ProposalError, match="cannot write 'x.py'"):
        _write_new(ws, "x.py", b"x")
    assert list(outside.iterdir()) == []
