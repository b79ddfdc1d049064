"""Where trace files are looked for: ``trace_dir`` (the command line's ``--trace-dir``),
``$COINFER_TRACE_DIR``, then the cache.

A trace directory has the layout of ``../shared/traces`` (``mahimahi/Verizon-LTE-short.down``,
``azure-llm-2023/AzureLLMInferenceTrace_code.csv``, ...). The download cache has the same
layout; it is ``--cache-dir``, else ``$COINFER_CACHE_DIR``, else
``$XDG_CACHE_HOME/coinfer/traces``, else ``~/.cache/coinfer/traces``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from coinfer.emulator.errors import InputError
from coinfer.traces.registry import TraceEntry

TRACE_DIR_ENV = "COINFER_TRACE_DIR"
CACHE_DIR_ENV = "COINFER_CACHE_DIR"
#: The argument naming the trace directory first searched (the command line's ``--trace-dir``).
TRACE_DIR_ARGUMENT = "trace_dir"


def cache_dir(explicit: str | Path | None = None, env: Mapping[str, str] | None = None) -> Path:
    """The download cache directory (it need not exist yet)."""
    env = os.environ if env is None else env
    if explicit:
        return Path(explicit).expanduser()
    if env.get(CACHE_DIR_ENV):
        return Path(env[CACHE_DIR_ENV]).expanduser()
    base = env.get("XDG_CACHE_HOME") or str(Path("~/.cache").expanduser())
    return Path(base).expanduser() / "coinfer" / "traces"


def search_dirs(
    trace_dir: str | Path | None = None,
    cache: str | Path | None = None,
    env: Mapping[str, str] | None = None,
) -> list[tuple[str, Path]]:
    """``(where it came from, directory)`` in the order they are searched."""
    env = os.environ if env is None else env
    dirs: list[tuple[str, Path]] = []
    if trace_dir:
        dirs.append((TRACE_DIR_ARGUMENT, Path(trace_dir).expanduser()))
    if env.get(TRACE_DIR_ENV):
        dirs.append((f"${TRACE_DIR_ENV}", Path(env[TRACE_DIR_ENV]).expanduser()))
    dirs.append(("cache", cache_dir(cache, env)))
    return dirs


def _mention(label: str) -> str:
    """The argument written as an :class:`InputError` mentions it (a front end rewords it)."""
    return f"`{label}`" if label == TRACE_DIR_ARGUMENT else label


def find_trace_file(
    entry: TraceEntry,
    trace_dir: str | Path | None = None,
    cache: str | Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Path:
    """The local copy of ``entry``'s file; refused, saying where it looked, when there is none."""
    dirs = search_dirs(trace_dir, cache, env)
    for _, directory in dirs:
        candidate = directory / entry.file.path
        if candidate.is_file():
            return candidate
    looked = "; ".join(
        f"{_mention(label)} {directory / entry.file.path}" for label, directory in dirs
    )
    raise InputError(
        f"trace {entry.name!r}: file {entry.file.path} not found (looked in: {looked}). "
        f"Download it with `coinfer traces fetch {entry.name}`, or point `trace_dir` or "
        f"${TRACE_DIR_ENV} at a directory that holds it, such as ../shared/traces",
        value=entry.file.path,
        expected="a local copy of the trace file",
        mentions=("trace_dir",),
    )
