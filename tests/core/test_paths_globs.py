"""Where the store lives, how paths become lease keys, and how globs overlap."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctui.core.errors import UsageError
from ctui.core.leases.globs import compile_glob, fixed_prefix, is_glob, overlaps
from ctui.core.paths import RepoPaths, find_git, resolve_store_dir, worktree_branch
from tests.conftest import git


@pytest.fixture
def linked(repo: Path, tmp_path: Path) -> Path:
    """A linked worktree of `repo` on branch `feature`, outside the repository folder."""
    tree = tmp_path / "repo-feature"
    git(repo, "worktree", "add", "-q", "-b", "feature", str(tree))
    return tree


def test_store_is_in_the_main_worktree_from_anywhere(repo: Path, linked: Path) -> None:
    assert resolve_store_dir(start=repo) == repo / ".ctui"
    assert resolve_store_dir(start=repo / "src") == repo / ".ctui"
    assert resolve_store_dir(start=linked) == repo / ".ctui"
    assert resolve_store_dir(start=linked / "src") == repo / ".ctui"


def test_explicit_dir_and_env_override(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CTUI_DIR", str(tmp_path / "env-store"))
    assert resolve_store_dir(start=repo) == tmp_path / "env-store"
    assert resolve_store_dir(tmp_path / "flag-store", start=repo) == tmp_path / "flag-store"


def test_outside_git_uses_an_existing_store_above(tmp_path: Path) -> None:
    (tmp_path / "plain" / ".ctui").mkdir(parents=True)
    (tmp_path / "plain" / "deep").mkdir()
    assert resolve_store_dir(start=tmp_path / "plain" / "deep") == tmp_path / "plain" / ".ctui"
    assert find_git(tmp_path / "plain") is None


def test_absolute_relative_and_worktree_paths_share_one_key(repo: Path, linked: Path) -> None:
    paths = RepoPaths(repo)
    assert paths.key("src/app.py", cwd=repo) == "src/app.py"
    assert paths.key("app.py", cwd=repo / "src") == "src/app.py"
    assert paths.key(str(repo / "src" / "app.py")) == "src/app.py"
    assert paths.key(str(linked / "src" / "app.py")) == "src/app.py"
    assert paths.key("src/app.py", cwd=linked) == "src/app.py"
    assert paths.key("./src/../src/app.py", cwd=repo) == "src/app.py"
    assert paths.key(str(repo / "src" / "*.py")) == "src/*.py"


def test_paths_outside_the_repository_have_no_key(repo: Path, tmp_path: Path) -> None:
    paths = RepoPaths(repo)
    assert paths.key("/etc/passwd") is None
    assert paths.key(str(tmp_path / "elsewhere.py")) is None
    assert paths.key("../outside.py", cwd=repo) is None
    assert paths.key(".git/config", cwd=repo) is None
    for bad in ("", "   ", "a\x00b"):
        with pytest.raises(UsageError):
            paths.key(bad, cwd=repo)
    with pytest.raises(UsageError, match="repository root"):
        paths.key(str(repo))


def test_branch_and_worktree_come_from_head(repo: Path, linked: Path) -> None:
    assert worktree_branch(repo / "src") == (repo, "main")
    assert worktree_branch(linked) == (linked.resolve(), "feature")
    git(repo, "checkout", "-q", "--detach")
    assert worktree_branch(repo) == (repo, None)


def test_globs_match_like_a_shell_with_double_star() -> None:
    assert is_glob("src/*.py") and not is_glob("src/app.py")
    assert fixed_prefix("backend/**") == "backend/"
    assert fixed_prefix("src/app.py") == "src/app.py"
    cases = {
        "src/*.py": (["src/a.py"], ["src/a/b.py", "src/a.txt", "a.py"]),
        "backend/**": (["backend/x", "backend/a/b/c.py"], ["backendx", "front/backend/x"]),
        "**/test_*.py": (["test_a.py", "a/b/test_c.py"], ["a/b/c.py"]),
        "src/?.py": (["src/a.py"], ["src/ab.py", "src//.py"]),
        "src/[ab].py": (["src/a.py", "src/b.py"], ["src/c.py"]),
        "src/[!ab].py": (["src/c.py"], ["src/a.py"]),
        "a+b(c)/*.md": (["a+b(c)/x.md"], ["aab(c)/x.md"]),
    }
    for pattern, (yes, no) in cases.items():
        rx = compile_glob(pattern)
        for path in yes:
            assert rx.match(path), (pattern, path)
        for path in no:
            assert not rx.match(path), (pattern, path)


@pytest.mark.parametrize("bad", ["src/[ab.py", "src/[!].py", "[]"])
def test_malformed_globs_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError, match="bad glob"):
        compile_glob(bad)


def test_overlap_is_exact_for_paths_and_conservative_for_globs() -> None:
    assert overlaps("a.py", "a.py") and not overlaps("a.py", "b.py")
    assert overlaps("src/*.py", "src/a.py") and overlaps("src/a.py", "src/*.py")
    assert not overlaps("src/*.py", "src/a/b.py")
    assert overlaps("src/**", "src/a/*.py")
    assert overlaps("*.py", "src/*.md")  # prefixes "" and "src/": could share a file, so yes
    assert not overlaps("src/*.py", "docs/*.md")
    assert not overlaps("backend/**", "frontend/**")


def test_a_worktree_added_later_is_found(repo: Path) -> None:
    paths = RepoPaths(repo)
    assert paths.key("README.md") == "README.md"  # roots are read and cached here
    inside = repo / ".ctui" / "worktrees" / "late"
    git(repo, "worktree", "add", "-q", "-b", "late", str(inside))
    assert paths.key(str(inside / "src" / "app.py")) == "src/app.py"
    assert paths.key(".ctui/ctui.db") is None  # the store itself is not leasable


SEGMENTS = st.sampled_from(["a", "b", "ab", "x.py", "y.md", "src"])
GLOB_PARTS = st.sampled_from(["a", "b", "src", "*", "**", "?", "*.py", "[ab]", "a*", "x.py"])


@settings(max_examples=400, deadline=None)
@given(
    path=st.lists(SEGMENTS, min_size=1, max_size=4).map("/".join),
    a=st.lists(GLOB_PARTS, min_size=1, max_size=4).map("/".join),
    b=st.lists(GLOB_PARTS, min_size=1, max_size=4).map("/".join),
)
def test_overlap_never_misses_a_shared_file(path: str, a: str, b: str) -> None:
    """Soundness: if one file matches both keys, the keys overlap (so both can't be leased)."""
    matches = [
        k == path if not is_glob(k) else compile_glob(k).match(path) is not None for k in (a, b)
    ]
    if all(matches):
        assert overlaps(a, b), (a, b, path)
    if not is_glob(a) and not is_glob(b):
        assert overlaps(a, b) == (a == b)
    if is_glob(a) and not is_glob(path):
        assert overlaps(a, path) == matches[0]
