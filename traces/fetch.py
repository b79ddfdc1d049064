"""Download a registry file into the cache and check its SHA-256 before keeping it."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coinfer.emulator.errors import InputError
from coinfer.traces.checksum import BLOCK_BYTES, file_sha256
from coinfer.traces.registry import TraceFile

TIMEOUT_S = 60.0


@dataclass(frozen=True)
class FetchResult:
    """Where the file is, and whether it was downloaded now (False: already in the cache)."""

    path: Path
    downloaded: bool
    size_bytes: int


def fetch_file(
    file: TraceFile,
    cache: Path,
    timeout_s: float = TIMEOUT_S,
    opener: Callable[..., Any] | None = None,
) -> FetchResult:
    """Make sure ``cache / file.path`` holds ``file`` with the right SHA-256.

    A copy already there with the right checksum is kept; otherwise the file is downloaded from
    ``file.url`` into a temporary file beside the target, checked, and renamed into place. No
    network, an HTTP error or a checksum mismatch is refused with :class:`InputError` and leaves
    nothing behind. ``opener`` replaces :func:`urllib.request.urlopen` (for tests).
    """
    target = cache / file.path
    if target.is_file() and file_sha256(target) == file.sha256:
        return FetchResult(target, False, target.stat().st_size)
    if opener is None:
        from urllib.request import urlopen

        opener = urlopen
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"cache directory {target.parent}: cannot create it ({err})") from err
    handle, temporary = tempfile.mkstemp(prefix=".fetch-", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            digest, size = _download(file, opener, timeout_s, out, target)
        if digest != file.sha256:
            raise InputError(
                f"checksum mismatch for {file.url}: got sha256 {digest}, expected "
                f"{file.sha256}; the download was discarded"
            )
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return FetchResult(target, True, size)


def _download(
    file: TraceFile, opener: Callable[..., Any], timeout_s: float, out: Any, target: Path
) -> tuple[str, int]:
    """Stream ``file.url`` into ``out``; return its SHA-256 and size."""
    digest = hashlib.sha256()
    size = 0
    try:
        with opener(file.url, timeout=timeout_s) as response:
            while block := response.read(BLOCK_BYTES):
                digest.update(block)
                out.write(block)
                size += len(block)
    except (OSError, ValueError) as err:  # URLError, HTTPError and timeouts are OSErrors
        reason = getattr(err, "reason", None) or err
        raise InputError(
            f"could not download {file.path} from {file.url}: {reason}. Check the network "
            f"connection, or copy the file to {target} yourself, or point `trace_dir` at a "
            "directory that holds it",
            mentions=("trace_dir",),
        ) from err
    return digest.hexdigest(), size
