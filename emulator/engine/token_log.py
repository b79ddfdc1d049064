"""Per-token values of the generative requests in flight, kept in flat numpy arenas.

A request that generates on a server emits its tokens one step at a time, among the other
sequences of each batch. The engine records, per emitted token, a few numbers (when it was
emitted, and the request's accumulated server time then) with one vectorised write per step for
the whole batch: every request in flight owns a contiguous segment of ``output_tokens`` entries
of one arena per field, addressed by its *slot* (a small integer reused after the request
completes). Nothing is allocated per token.

Segments are handed out from the top of the arena; when the top reaches the end, the segments
still open are moved to the front of a fresh arena at least twice as large as what they hold
(compaction), so the work of moving is a constant per token on average and the arena's size
stays within a small factor of the tokens of the requests in flight.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class TokenArena:
    """``fields`` arrays of per-token floats, one segment per open slot.

    ``values[f, start[slot] + k]`` is field ``f`` of the ``k``-th token (from 0) of ``slot``.
    """

    __slots__ = ("_length", "_live", "_top", "start", "values")

    def __init__(self, fields: int, capacity: int = 4096, slots: int = 64) -> None:
        if fields < 1 or capacity < 1 or slots < 1:
            raise ValueError(
                f"fields, capacity, slots: got {fields}, {capacity}, {slots}; expected all >= 1"
            )
        self.values: FloatArray = np.zeros((fields, capacity))
        self.start: IntArray = np.zeros(slots, dtype=np.int64)  #: first entry of each slot
        self._length: IntArray = np.zeros(slots, dtype=np.int64)  # 0: slot not open
        self._top = 0  # first entry never handed out
        self._live = 0  # entries of open segments

    @property
    def capacity(self) -> int:
        """Entries per field."""
        return int(self.values.shape[1])

    @property
    def live(self) -> int:
        """Entries held by open segments."""
        return self._live

    def open(self, slot: int, tokens: int) -> None:
        """Give ``slot`` a segment of ``tokens`` entries (values unset)."""
        if tokens < 1:
            raise ValueError(f"tokens: got {tokens}, expected >= 1")
        if slot >= len(self.start):
            self._grow_slots(max(2 * len(self.start), slot + 1))
        if self._length[slot]:
            raise ValueError(f"slot {slot} is already open")
        if self._top + tokens > self.capacity:
            self._compact(tokens)
        self.start[slot] = self._top
        self._length[slot] = tokens
        self._top += tokens
        self._live += tokens

    def close(self, slot: int) -> None:
        """Free ``slot``'s segment."""
        self._live -= int(self._length[slot])
        self._length[slot] = 0

    def segment(self, field: int, slot: int) -> FloatArray:
        """The entries of field ``field`` of ``slot`` (a view; valid until the next open)."""
        start = int(self.start[slot])
        view: FloatArray = self.values[field, start : start + int(self._length[slot])]
        return view

    def _grow_slots(self, slots: int) -> None:
        for name in ("start", "_length"):
            old = getattr(self, name)
            new = np.zeros(slots, dtype=np.int64)
            new[: len(old)] = old
            setattr(self, name, new)

    def _compact(self, needed: int) -> None:
        """Move the open segments to the front of an arena with room for ``needed`` more."""
        capacity = max(self.capacity, 2 * (self._live + needed))
        values = np.zeros((self.values.shape[0], capacity))
        top = 0
        for slot in np.flatnonzero(self._length).tolist():
            length = int(self._length[slot])
            start = int(self.start[slot])
            values[:, top : top + length] = self.values[:, start : start + length]
            self.start[slot] = top
            top += length
        self.values = values
        self._top = top
