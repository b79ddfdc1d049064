"""Plain-text tables and SI-prefixed numbers for the command line (presentation only)."""

from __future__ import annotations

import math
from collections.abc import Sequence

_PREFIXES = ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def si(value: float | None, unit: str = "", digits: int = 3) -> str:
    """``value`` with an SI prefix, e.g. ``si(6.74e9, "FLOPs") == "6.74 GFLOPs"``."""
    if value is None:
        return "-"
    for scale, prefix in _PREFIXES:
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g} {prefix}{unit}".rstrip()
    return f"{value:.{digits}g} {unit}".rstrip()


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A left-aligned text table with a header rule; numbers should be pre-formatted."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def half_width_text(mean: float, half_width: float, digits: int = 4) -> str:
    """A confidence interval's half-width as shown next to ``mean`` (shown to ``digits``
    significant digits): two significant digits, and ``0`` when it is below half the last digit
    shown of the mean (float noise: ``8.8e-15`` beside ``62.5`` is ``0``)."""
    if math.isnan(half_width) or math.isinf(half_width):
        return f"{half_width}"
    if mean != 0.0 and math.isfinite(mean):
        last_digit = 10.0 ** (math.floor(math.log10(abs(mean))) - (digits - 1))
        if abs(half_width) < 0.5 * last_digit:
            return "0"
    return f"{half_width:.2g}"
