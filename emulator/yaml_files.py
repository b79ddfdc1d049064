"""Reading user YAML files with one clear error for every way they can be wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from coinfer.emulator.errors import InputError


def read_yaml(path: str | Path, what: str) -> Any:
    """Parse the YAML file at ``path``; ``what`` names the file's role in error messages.

    A missing file or a syntax error raises :class:`InputError` naming the file (its
    ``source``), chained to the parser's own error.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"{what}: {str(path)!r} does not exist", source=str(path), expected="a file"
        )
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise InputError(
            f"{what} {str(path)!r} is not valid YAML: {err}", source=str(path), expected="YAML"
        ) from err
