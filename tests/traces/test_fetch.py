"""Downloading into the cache: checksum verified, clear errors without network or on mismatch."""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request

import pytest

from coinfer.emulator.errors import InputError
from coinfer.traces.fetch import fetch_file
from coinfer.traces.registry import TraceFile, TraceSource

SOURCE = TraceSource("synthetic", "a synthetic file", "example/repo", "0" * 40, "CC0-1.0", "none")
CONTENT = b"1\n1\n2\n"


def remote(tmp_path, content: bytes = CONTENT, sha256: str | None = None) -> TraceFile:
    origin = tmp_path / "origin" / "link.down"
    origin.parent.mkdir(parents=True, exist_ok=True)
    origin.write_bytes(content)
    digest = sha256 or hashlib.sha256(content).hexdigest()
    return TraceFile("synthetic/link.down", origin.as_uri(), digest, len(content), SOURCE)


def test_download_verifies_and_then_reuses_the_cache(tmp_path):
    file = remote(tmp_path)
    cache = tmp_path / "cache"
    first = fetch_file(file, cache)
    assert first.downloaded and first.size_bytes == len(CONTENT)
    assert first.path == cache / "synthetic" / "link.down"
    assert first.path.read_bytes() == CONTENT
    again = fetch_file(file, cache)
    assert not again.downloaded and again.path == first.path


def test_a_checksum_mismatch_is_refused_and_nothing_is_kept(tmp_path):
    file = remote(tmp_path, sha256="f" * 64)
    cache = tmp_path / "cache"
    with pytest.raises(InputError, match=f"checksum mismatch for {file.url}: got sha256 ") as info:
        fetch_file(file, cache)
    assert "expected " + "f" * 64 in str(info.value)
    assert list((cache / "synthetic").iterdir()) == []


def test_a_corrupt_cached_copy_is_replaced(tmp_path):
    file = remote(tmp_path)
    cache = tmp_path / "cache"
    (cache / "synthetic").mkdir(parents=True)
    (cache / file.path).write_bytes(b"garbage")
    result = fetch_file(file, cache)
    assert result.downloaded and (cache / file.path).read_bytes() == CONTENT


def test_no_network_is_a_clear_error(tmp_path, monkeypatch):
    def offline(url, timeout):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    file = remote(tmp_path)
    with pytest.raises(InputError) as info:
        fetch_file(file, tmp_path / "cache")
    message = str(info.value)
    assert message.startswith(f"could not download synthetic/link.down from {file.url}: ")
    assert "Temporary failure in name resolution" in message
    assert "Check the network connection" in message
    assert list((tmp_path / "cache" / "synthetic").iterdir()) == []


def test_an_unreachable_address_is_a_clear_error(tmp_path):
    file = TraceFile("synthetic/x", "http://127.0.0.1:9/x", "0" * 64, 1, SOURCE)
    with pytest.raises(
        InputError, match=r"could not download synthetic/x from http://127\.0\.0\.1:9"
    ):
        fetch_file(file, tmp_path / "cache", timeout_s=5.0)


def test_a_missing_remote_file_is_a_clear_error(tmp_path):
    file = TraceFile("synthetic/x", (tmp_path / "nope").as_uri(), "0" * 64, 1, SOURCE)
    with pytest.raises(InputError, match="could not download synthetic/x"):
        fetch_file(file, tmp_path / "cache")
