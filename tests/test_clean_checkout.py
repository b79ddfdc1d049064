"""How the suite proves that it leaves the checkout clean (``tests/checkout.py``): a snapshot of
``git status --ignored`` taken before and after, compared file by file, caches excepted."""

import shutil
import subprocess

import pytest

from tests.checkout import left_behind, snapshot

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytest.fixture
def checkout(tmp_path):
    """A git repository with one committed file and ``runs/`` ignored, as in coinfer's own."""
    repo = tmp_path / "checkout"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / ".gitignore").write_text("/runs/\n__pycache__/\n")
    (repo / "README.md").write_text("hello\n")
    subprocess.run(["git", "add", "."], cwd=repo, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one"],
        cwd=repo,
        check=True,
    )
    return repo


def test_a_clean_checkout_snapshots_as_nothing(checkout):
    assert snapshot(checkout) == {}


def test_files_in_ignored_folders_are_listed_one_by_one(checkout):
    before = snapshot(checkout)
    (checkout / "runs" / "busy-cell-s7").mkdir(parents=True)
    (checkout / "runs" / "busy-cell-s7" / "trace.parquet").write_bytes(b"rows")
    (checkout / "notes.txt").write_text("untracked\n")
    assert left_behind(before, snapshot(checkout)) == [
        "new: notes.txt",
        "new (ignored): runs/busy-cell-s7/trace.parquet",
    ]


def test_an_overwritten_or_deleted_file_is_a_change_too(checkout):
    (checkout / "runs").mkdir()
    (checkout / "runs" / "mine.csv").write_text("a user's own run\n")
    (checkout / "runs" / "old.csv").write_text("another\n")
    before = snapshot(checkout)
    (checkout / "runs" / "mine.csv").write_text("overwritten by a test\n")
    (checkout / "runs" / "old.csv").unlink()
    (checkout / "README.md").write_text("edited\n")
    assert left_behind(before, snapshot(checkout)) == [
        "modified: README.md",
        "rewritten: runs/mine.csv",
        "gone: runs/old.csv",
    ]


def test_caches_do_not_count(checkout):
    before = snapshot(checkout)
    for cache in ("pkg/__pycache__", ".pytest_cache/v", ".hypothesis/examples", "x.egg-info"):
        (checkout / cache).mkdir(parents=True)
        (checkout / cache / "file").write_text("cached\n")
    assert left_behind(before, snapshot(checkout)) == []


def test_outside_a_git_checkout_there_is_nothing_to_compare(tmp_path):
    assert snapshot(tmp_path) is None
