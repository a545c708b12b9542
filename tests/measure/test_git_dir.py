"""The git history the sandbox hides (runner._files.git_dirs_of): a plain checkout's .git
directory, and for a linked worktree (where .git is a file) the repository's common git
directory, which holds every worktree's objects."""

from __future__ import annotations

from pathlib import Path

from rubicon.runner._files import git_dirs_of


def test_plain_checkout(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    assert git_dirs_of(tmp_path / "src" / "pkg") == [tmp_path / ".git"]


def test_linked_worktree_resolves_to_the_common_git_dir(tmp_path: Path) -> None:
    """Returning the .git *file* would break the sandbox (a tmpfs cannot cover a file) and leave
    the history in the main checkout readable."""
    main_git = tmp_path / "main" / ".git"
    wt_git = main_git / "worktrees" / "wt1"
    wt_git.mkdir(parents=True)
    (wt_git / "commondir").write_text("../..\n")
    wt = tmp_path / "wt1"
    (wt / "src").mkdir(parents=True)
    (wt / ".git").write_text(f"gitdir: {wt_git}\n")
    assert git_dirs_of(wt / "src") == [main_git.resolve()]


def test_a_gitdir_outside_the_common_dir_is_hidden_too(tmp_path: Path) -> None:
    common = tmp_path / "repo.git"
    common.mkdir()
    gitdir = tmp_path / "elsewhere" / "wt1"
    gitdir.mkdir(parents=True)
    (gitdir / "commondir").write_text(f"{common}\n")
    wt = tmp_path / "wt1"
    wt.mkdir()
    (wt / ".git").write_text(f"gitdir: {gitdir}\n")
    assert sorted(git_dirs_of(wt)) == sorted([common.resolve(), gitdir.resolve()])


def test_not_a_gitdir_file(tmp_path: Path) -> None:
    (tmp_path / ".git").write_text("something else\n")
    assert git_dirs_of(tmp_path) == []
