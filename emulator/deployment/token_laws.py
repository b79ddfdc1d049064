"""The token counts of generative requests: each device group's laws, resolved for the run.

A device group of a decoder model that declares ``tokens`` sends *generative* requests: each
carries a prompt of ``P`` tokens and generates ``O`` output tokens. The counts come from two laws
(:class:`~coinfer.emulator.scenario.schema.TokenCounts`; an ``empirical`` law's file is read
here, once per file) or from the replayed arrival trace (``tokens: trace``; see
:mod:`coinfer.emulator.deployment.replay_arrivals`). The deployment gives every device of such a
group its :class:`TokenSource` (:func:`coinfer.emulator.deployment.build.attach_tokens`); the
engine draws from it (:func:`law_draws`).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from coinfer.emulator.errors import InputError
from coinfer.emulator.model.profiles import ModelProfile
from coinfer.emulator.scenario.schema import (
    ConstantWork,
    EmpiricalWork,
    ExponentialWork,
    LognormalWork,
    TokenCounts,
    TokenLaw,
    UniformWork,
)

_DRAW_BLOCK = 256  # token counts drawn per numpy call, at most


@dataclass(frozen=True, eq=False)
class ResolvedLaw:
    """A token law with, for ``empirical``, the values read from its file (else None)."""

    law: TokenLaw
    values: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class TokenSource:
    """Where a device's token counts come from: two laws, or its arrival trace (``trace``)."""

    prompt: ResolvedLaw | None  #: None: from the arrival trace
    output: ResolvedLaw | None

    @property
    def from_trace(self) -> bool:
        """Whether the counts are the replayed arrival trace's."""
        return self.prompt is None


FROM_TRACE = TokenSource(None, None)


def is_generative(model: ModelProfile) -> bool:
    """Whether ``model`` can generate: every block carries the token costs the step-time
    models need (the decoder presets do)."""
    return all(block.token_costs is not None for block in model.blocks)


def resolve_token_counts(
    counts: TokenCounts, where: str, files: dict[tuple[str, str | None], np.ndarray]
) -> TokenSource:
    """The source of a group's ``tokens: {prompt: LAW, output: LAW}`` (empirical files read
    here; ``files`` caches them by path and column across groups)."""
    return TokenSource(
        _resolved(counts.prompt, f"{where}.prompt", files),
        _resolved(counts.output, f"{where}.output", files),
    )


def _resolved(
    law: TokenLaw, where: str, files: dict[tuple[str, str | None], np.ndarray]
) -> ResolvedLaw:
    if not isinstance(law, EmpiricalWork):
        return ResolvedLaw(law)
    key = (law.file, law.column)
    if key not in files:
        files[key] = read_values(Path(law.file), law.column, f"{where}.file")
    return ResolvedLaw(law, files[key])


def read_values(path: Path, column: str | None, where: str) -> np.ndarray:
    """The values of an empirical law's CSV file (read-only float64 array, all > 0).

    One value per row, or a header row naming the columns (``column`` picks one, default the
    first); blank lines and ``#`` comments are skipped. Every problem raises
    :class:`InputError` naming ``where``, the file and the row.
    """
    what = f"{where}: file {str(path)!r}"
    if not path.is_file():
        raise InputError(f"{what} does not exist", path=where, value=str(path))
    with path.open(newline="", encoding="utf-8") as handle:
        lines = [line for line in handle if line.strip() and not line.lstrip().startswith("#")]
    rows = list(csv.reader(lines))
    if not rows:
        raise InputError(f"{what} holds no values, expected one number per row", path=where)
    header = None
    if not _is_number(rows[0][0]):
        header = [name.strip() for name in rows[0]]
        rows = rows[1:]
    index = 0
    if column is not None:
        if header is None or column not in header:
            raise InputError(
                f"{what} has no column {column!r}; expected one of {header or 'no header'}",
                path=where,
                value=column,
            )
        index = header.index(column)
    values = []
    for number, row in enumerate(rows, start=2 if header else 1):
        text = row[index].strip() if index < len(row) else ""
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise InputError(
                f"{what} row {number}: got {text!r}, expected a finite number > 0",
                path=where,
                value=text,
            )
        values.append(value)
    if not values:
        raise InputError(f"{what} holds no values, expected one number per row", path=where)
    array = np.asarray(values, dtype=float)
    array.setflags(write=False)
    return array


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def law_draws(law: ResolvedLaw, rng: np.random.Generator) -> Iterator[int]:
    """Token counts from ``law``: each draw rounded to the nearest whole number, at least 1.

    Numbers come in numpy blocks of 1, 2, 4, … up to 256 (a device that sends few requests
    draws few); each law consumes its generator one number after the other, so the blocks
    change no count.
    """
    spec = law.law
    if isinstance(spec, ConstantWork):
        count = max(1, round(spec.value))
        while True:
            yield count
    size = 1
    while True:
        if isinstance(spec, EmpiricalWork):
            assert law.values is not None
            block = law.values[rng.integers(0, law.values.size, size)]
        elif isinstance(spec, ExponentialWork):
            block = rng.exponential(spec.mean, size)
        elif isinstance(spec, UniformWork):
            block = rng.uniform(spec.low, spec.high, size)
        elif isinstance(spec, LognormalWork):
            mu = math.log(spec.mean) - 0.5 * spec.sigma**2
            block = rng.lognormal(mu, spec.sigma, size)
        else:  # pragma: no cover - the schema admits no other law
            raise TypeError(f"unknown token law {spec!r}")
        yield from np.maximum(np.rint(block), 1.0).astype(np.int64).tolist()
        size = min(2 * size, _DRAW_BLOCK)
