"""Writing a run's or a sweep's files so that nothing already there is lost half-way.

* :func:`check_output_dir` refuses, before any work, an output folder that is an existing file
  or lies under one, with :class:`~coinfer.emulator.errors.InputError` naming it.
* A file is written under a temporary name beside its final one (:func:`partial_path`) and
  renamed over it when complete (:func:`write_bytes_atomically`, and the trace writers): a run
  killed while writing leaves the previous complete file, never a truncated one. A rename
  within one folder is atomic on POSIX file systems and on Windows (``os.replace``).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from coinfer.emulator.errors import InputError


def check_output_dir(path: str | Path, what: str) -> Path:
    """``path`` as a :class:`Path` if a folder can be made or used there, else InputError.

    ``what`` is the argument it came through (``out_dir``; the error's ``argument``)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(
            f"{str(path)!r} is a file, expected a folder (or a path that does not exist)",
            argument=what,
            value=str(path),
            expected="a folder",
        )
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(
                    f"{str(path)!r} lies under {str(parent)!r}, which is a file, expected a folder",
                    argument=what,
                    value=str(path),
                    expected="a path under a folder",
                )
            break
    return path


def partial_path(path: Path) -> Path:
    """The temporary name a file is written under before it becomes ``path``."""
    return path.with_name(f".{path.name}.partial")


def write_bytes_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file (unique to this process, flushed to
    disk) renamed over it; the folder is made if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_text_atomically(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` as :func:`write_bytes_atomically` does."""
    write_bytes_atomically(path, text.encode("utf-8"))
