"""Request arrivals: times in seconds from 0, with optional token counts per request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np
from numpy.typing import ArrayLike

from coinfer.emulator.errors import InputError
from coinfer.traces.piecewise import frozen_array
from coinfer.traces.provenance import Provenance

_ANONYMOUS = Provenance(source="(in memory)")


@dataclass(frozen=True, eq=False)
class ArrivalTrace:
    """Arrival times of requests, in seconds from 0, in file order (nondecreasing).

    ``input_tokens``: input (prompt/context) tokens of each request, or ``None``;
    ``output_tokens``: output (generated) tokens of each request, or ``None``.
    """

    times_s: np.ndarray
    input_tokens: np.ndarray | None = None
    output_tokens: np.ndarray | None = None
    provenance: Provenance = _ANONYMOUS

    def __post_init__(self) -> None:
        what = f"arrival trace {self.provenance.source}"
        times = frozen_array(self.times_s)
        if times.size == 0:
            raise InputError(f"{what}: got no arrivals, expected at least one")
        if not np.all(np.isfinite(times)) or times[0] < 0.0:
            bad = int(np.argmax(~np.isfinite(times) | (times < 0.0)))
            raise InputError(
                f"{what}: arrival {bad} at {float(times[bad])!r} s, expected a finite time >= 0"
            )
        steps = np.diff(times)
        if np.any(steps < 0.0):
            bad = int(np.argmax(steps < 0.0)) + 1
            raise InputError(
                f"{what}: arrival {bad} at {float(times[bad])!r} s comes before arrival "
                f"{bad - 1} at {float(times[bad - 1])!r} s, expected nondecreasing times"
            )
        object.__setattr__(self, "times_s", times)
        for name in ("input_tokens", "output_tokens"):
            tokens = getattr(self, name)
            if tokens is None:
                continue
            tokens = frozen_array(tokens, dtype=np.int64)
            if tokens.size != times.size:
                raise InputError(
                    f"{what}: got {tokens.size} {name} for {times.size} arrivals, expected one "
                    "per arrival"
                )
            if np.any(tokens < 0):
                bad = int(np.argmax(tokens < 0))
                raise InputError(f"{what}: {name}[{bad}] is {tokens[bad]}, expected >= 0")
            object.__setattr__(self, name, tokens)

    @classmethod
    def from_times(
        cls,
        times_s: ArrayLike,
        input_tokens: ArrayLike | None = None,
        output_tokens: ArrayLike | None = None,
        provenance: Provenance = _ANONYMOUS,
    ) -> ArrivalTrace:
        """Arrivals at absolute times in s, shifted so that the first request arrives at 0."""
        times = np.asarray(times_s, dtype=float).reshape(-1)
        shifted = times - times[0] if times.size else times
        # __post_init__ makes read-only arrays of the token counts
        tokens_in = cast("np.ndarray | None", input_tokens)
        tokens_out = cast("np.ndarray | None", output_tokens)
        return cls(shifted, tokens_in, tokens_out, provenance)

    @property
    def count(self) -> int:
        """Number of requests."""
        return int(self.times_s.size)

    @property
    def duration_s(self) -> float:
        """Time of the last arrival, in s from 0."""
        return float(self.times_s[-1])

    @property
    def mean_rate_per_s(self) -> float:
        """Requests per second over ``[0, duration_s]`` (``inf`` if all arrive at once)."""
        duration = self.duration_s
        return self.count / duration if duration > 0.0 else float("inf")

    @property
    def interarrival_s(self) -> np.ndarray:
        """Gaps between consecutive arrivals, in s (``count - 1`` values)."""
        return np.diff(self.times_s)

    @property
    def has_tokens(self) -> bool:
        """True when both input and output token counts are known."""
        return self.input_tokens is not None and self.output_tokens is not None
