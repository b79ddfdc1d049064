"""Stable identifiers: a hash of the canonical JSON of a run's resolved configuration and seed.

Canonical JSON has sorted keys, no whitespace, tuples as lists and non-finite floats as the
strings ``"inf"``, ``"-inf"`` and ``"nan"``; floats keep Python's shortest round-trip form. The
same configuration therefore gets the same id in every process, on every machine and with any
``PYTHONHASHSEED``, whichever way its YAML spelled the values (``30`` or ``30.0`` for a float
field), since the configuration hashed is the validated one.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from pydantic import BaseModel

#: Bumped if the hashed payload ever changes shape (old ids would no longer match).
ID_FORMAT = 1
#: Hex digits kept of the SHA-256 digest (64 bits: collisions are negligible for any sweep).
ID_LENGTH = 16


def jsonable(value: Any, *, finite_only: bool = False) -> Any:
    """``value`` as plain JSON data (dicts, lists, str, int, float, bool, None).

    With ``finite_only`` non-finite floats become ``"inf"``, ``"-inf"`` or ``"nan"`` (for
    hashing); otherwise they stay floats (``json`` writes them as ``Infinity``, ``NaN``).
    """
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="python")
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, finite_only=finite_only) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v, finite_only=finite_only) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return jsonable(value.item(), finite_only=finite_only)
    if isinstance(value, float):
        if finite_only and not math.isfinite(value):
            return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
        return value
    if isinstance(value, PurePath):
        return str(value)
    raise TypeError(f"cannot put a {type(value).__name__} ({value!r}) into canonical JSON")


def canonical_json(value: Any) -> str:
    """The canonical JSON text of ``value`` (see the module docstring)."""
    return json.dumps(
        jsonable(value, finite_only=True),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def digest(value: Any) -> str:
    """The first :data:`ID_LENGTH` hex digits of the SHA-256 of ``value``'s canonical JSON."""
    text = canonical_json({"format": ID_FORMAT, "value": value})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:ID_LENGTH]


def config_id(configuration: Mapping[str, Any]) -> str:
    """Id of a resolved configuration (a scenario mapping without its seed)."""
    return digest({"configuration": configuration})


def run_id(configuration: Mapping[str, Any], seed: int) -> str:
    """Id of one run: a resolved configuration on one seed."""
    return digest({"configuration": configuration, "seed": int(seed)})
