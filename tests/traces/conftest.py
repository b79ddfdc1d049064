"""Shared helpers: where the real public traces are (``../shared/traces`` beside the checkout).

Tests that need a real file skip cleanly when it is absent; everything else runs on small
synthetic fixtures that the tests write themselves.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED_TRACES = ROOT.parent / "shared" / "traces"


def shared_file(relative: str) -> Path:
    """A file of ``../shared/traces``, or skip the test when it is not there."""
    path = SHARED_TRACES / relative
    if not path.is_file():
        pytest.skip(f"real trace {relative} is absent (expected under {SHARED_TRACES})")
    return path


@pytest.fixture
def shared_dir() -> Path:
    """``../shared/traces``, or skip the test when it is absent."""
    if not SHARED_TRACES.is_dir():
        pytest.skip(f"the real traces are absent (expected at {SHARED_TRACES})")
    return SHARED_TRACES


@pytest.fixture
def clean_env(monkeypatch, tmp_path) -> Path:
    """No ``$COINFER_TRACE_DIR``; ``$COINFER_CACHE_DIR`` is an empty temporary directory."""
    cache = tmp_path / "cache"
    monkeypatch.delenv("COINFER_TRACE_DIR", raising=False)
    monkeypatch.setenv("COINFER_CACHE_DIR", str(cache))
    return cache
