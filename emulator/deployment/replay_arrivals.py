"""Request arrivals replayed from an arrival trace: per device, from its own offset, looping.

An :class:`~coinfer.traces.ArrivalTrace` holds ``n`` arrival times ``τ_0 ≤ ... ≤ τ_{n−1}`` (s). It
is replayed as a loop of period ``P = τ_{n−1} + (τ_{n−1} − τ_0)/(n − 1)``, the last arrival
plus the mean gap (for a trace that starts at 0, as the public ones do, the seam adds one mean
gap): loop ``k`` holds arrivals at ``k·P + τ_i``. A device starting at offset ``o`` in
``[0, P)`` sees the arrivals of the loop from trace time ``o`` on, shifted to start at
emulation time 0 and scaled by ``f = time_scale / rate_scale``: its first arrival is at
``(τ_j − o)·f`` for the first ``τ_j ≥ o``, then the trace's gaps follow from request ``j`` on,
cyclically.

With token counts, request ``i`` carries the work scale ``max(tokens_i, 1) / L``, ``L`` the
model profile's sequence length and ``tokens_i`` its input (context) tokens, or its input plus
generated tokens (``tokens: total``, as if every generated token went once through the model
like a prompt token: prefill plus one decoding pass each, the growth of attention with the
context left out).

A generative device group (``tokens: trace``) takes instead each request's prompt and output
tokens from the trace, ``max(input_tokens, 1)`` and ``max(output_tokens, 1)``, in the same
order as the arrivals.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from coinfer.emulator.errors import InputError
from coinfer.traces.arrivals import ArrivalTrace

T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class ArrivalSchedule:
    """An arrival trace prepared for replay (shared by every device of a group).

    ``times_s``: trace arrival times (s, unscaled); ``period_s``: the loop period (unscaled);
    ``gaps_s``: scaled gap from each request to the next in the loop (the last one across the
    seam); ``work``: work scale of each request, or None (the group's work law applies);
    ``time_factor``: ``time_scale / rate_scale``; ``tokens``: ``(prompt, output)`` tokens of
    each request of a generative group, or None.
    """

    times_s: list[float]
    period_s: float
    gaps_s: list[float]
    work: list[float] | None
    time_factor: float
    tokens: list[tuple[int, int]] | None = None

    @classmethod
    def from_trace(
        cls,
        trace: ArrivalTrace,
        time_factor: float,
        tokens: str,
        sequence_length: int | None,
        where: str,
        generative: bool = False,
    ) -> ArrivalSchedule:
        """Prepare ``trace`` with ``time_factor``; ``tokens``: ``input``, ``total`` or ``none``
        (the work scales); ``generative``: keep each request's prompt and output tokens.

        ``where`` names the scenario field in errors (a trace that cannot loop, token counts or
        a sequence length missing).
        """
        times = np.asarray(trace.times_s, dtype=float)
        first, last = float(times[0]), float(times[-1])
        if times.size < 2 or not last > first:
            raise InputError(
                f"{where}: trace {trace.provenance.source} has {times.size} arrival(s) over "
                f"{last - first:g} s, expected at least two arrivals at different times to "
                "replay in a loop"
            )
        period = last + (last - first) / (times.size - 1)
        gaps = np.diff(np.append(times, period + first)) * time_factor
        work = None
        counts = None
        if generative:
            counts = generative_tokens(trace, where)
        elif tokens != "none":
            work = token_work_scales(trace, tokens, sequence_length, where).tolist()
        return cls(times.tolist(), period, gaps.tolist(), work, time_factor, counts)

    def start(self, offset_s: float) -> tuple[int, float]:
        """``(j, first)``: the first request a device at trace offset ``offset_s`` (unscaled s,
        in ``[0, period)``) sees, and its emulation arrival time, s."""
        j = bisect.bisect_left(self.times_s, offset_s)
        if j == len(self.times_s):  # past the last arrival: the next loop's first
            return 0, (self.period_s + self.times_s[0] - offset_s) * self.time_factor
        return j, (self.times_s[j] - offset_s) * self.time_factor


def token_work_scales(
    trace: ArrivalTrace, tokens: str, sequence_length: int | None, where: str
) -> np.ndarray:
    """Work scale of each request of ``trace``: ``max(tokens, 1) / sequence_length``."""
    if not trace.has_tokens:
        raise InputError(
            f"{where}.tokens: trace {trace.provenance.source} has no token counts, expected "
            "input and output tokens per request; set tokens: none to use the group's work law"
        )
    if not sequence_length:
        raise InputError(
            f"{where}.tokens: the model has no sequence length, expected a text model to turn "
            "tokens into work; set tokens: none to use the group's work law"
        )
    assert trace.input_tokens is not None and trace.output_tokens is not None
    count = trace.input_tokens.astype(float)
    if tokens == "total":
        count = count + trace.output_tokens
    return np.maximum(count, 1.0) / float(sequence_length)


def generative_tokens(trace: ArrivalTrace, where: str) -> list[tuple[int, int]]:
    """``(prompt, output)`` tokens of each request of ``trace``, each at least 1."""
    if not trace.has_tokens:
        raise InputError(
            f"{where}: trace {trace.provenance.source} has no token counts, expected input and "
            "output tokens per request for tokens: trace (e.g. azure-2023/conv, "
            "mooncake/conversation); or give tokens: {prompt: LAW, output: LAW}"
        )
    assert trace.input_tokens is not None and trace.output_tokens is not None
    prompt = np.maximum(trace.input_tokens, 1).tolist()
    output = np.maximum(trace.output_tokens, 1).tolist()
    return list(zip(prompt, output, strict=True))


@dataclass(frozen=True, eq=False)
class ArrivalReplay:
    """One device's replay of an :class:`ArrivalSchedule` from trace offset ``offset_s``."""

    schedule: ArrivalSchedule
    offset_s: float  #: where the device starts in the loop, unscaled trace s
    first_index: int  #: the first request it sees
    first_s: float  #: emulation time of its first arrival, s

    @classmethod
    def at(cls, schedule: ArrivalSchedule, offset_s: float) -> ArrivalReplay:
        """The replay of ``schedule`` from ``offset_s`` (unscaled trace s in ``[0, period)``)."""
        index, first = schedule.start(offset_s)
        return cls(schedule, offset_s, index, first)

    @property
    def has_work(self) -> bool:
        """Whether the trace sets each request's work scale."""
        return self.schedule.work is not None

    def gaps(self) -> Iterator[float]:
        """Inter-arrival times, s (the first is the time of the first arrival), forever."""
        yield self.first_s
        yield from _cycle_from(self.schedule.gaps_s, self.first_index)

    @property
    def has_tokens(self) -> bool:
        """Whether the trace gives each request's prompt and output tokens (generative)."""
        return self.schedule.tokens is not None

    def token_counts(self) -> Iterator[tuple[int, int]]:
        """``(prompt, output)`` tokens of each arrival in order, forever (generative groups)."""
        tokens = self.schedule.tokens
        assert tokens is not None
        return _cycle_from(tokens, self.first_index)

    def work_scales(self) -> Iterator[float]:
        """Work scale of each arrival in order, forever (the schedule must have work)."""
        work = self.schedule.work
        assert work is not None
        return _cycle_from(work, self.first_index)


def _cycle_from(values: list[T], start: int) -> Iterator[T]:
    """``values[start:]``, then ``values`` over and over (no copy: many devices share them)."""
    for index in range(start, len(values)):
        yield values[index]
    while True:
        yield from values
