"""What the test suite may leave in the checkout: nothing but caches.

``snapshot`` records every file ``git status`` reports as changed, untracked or ignored (one by
one, not folded into its directory), with its size and modification time; ``left_behind``
compares two snapshots. ``tests/conftest.py`` takes one before the suite and one after it and
fails the run when they differ.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

# Written by Python, pytest, Hypothesis and pip while the suite runs; nothing else may be.
CACHES = ("__pycache__", ".pytest_cache", ".hypothesis")
CACHE_SUFFIXES = (".egg-info",)

Snapshot = dict[str, tuple[str, int, int]]  # path -> (git status code, size, mtime in ns)


def is_cache(path: str) -> bool:
    return any(part in CACHES or part.endswith(CACHE_SUFFIXES) for part in Path(path).parts)


def snapshot(root: Path) -> Snapshot | None:
    """Every changed, untracked or ignored file under ``root`` but caches; ``None`` when
    ``root`` is not a git checkout (an unpacked sdist, say) or git is not installed."""
    git = shutil.which("git")
    if git is None:
        return None
    result = subprocess.run(
        [git, "status", "--porcelain=v1", "-z", "--ignored", "--untracked-files=all"],
        cwd=root,
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        return None
    files: Snapshot = {}
    entries = iter(result.stdout.decode("utf-8", "surrogateescape").split("\0"))
    for entry in entries:
        if not entry:
            continue
        code, path = entry[:2], entry[3:]
        if code[0] in "RC":  # a rename or copy: the source path follows as its own entry
            next(entries, None)
        if is_cache(path):
            continue
        try:
            stat = (root / path).lstat()
            files[path] = (code, stat.st_size, stat.st_mtime_ns)
        except FileNotFoundError:  # deleted from the work tree
            files[path] = (code, -1, -1)
    return files


GIT_CODES = {"??": "new", "!!": "new (ignored)", "D": "deleted"}


def describe(code: str) -> str:
    """``git status``'s two-letter code in words."""
    return GIT_CODES.get(code, GIT_CODES.get(code.strip(), "modified"))


def left_behind(before: Snapshot, after: Snapshot) -> list[str]:
    """What changed between two snapshots, one line per file, sorted by path."""
    lines = []
    for path in sorted(before.keys() | after.keys()):
        if path not in before:
            lines.append(f"{describe(after[path][0])}: {path}")
        elif path not in after:
            lines.append(f"gone: {path}")
        elif before[path] != after[path]:
            lines.append(f"rewritten: {path}")
    return lines
