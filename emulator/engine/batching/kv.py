"""The KV-cache block pool: ``num_blocks`` blocks of ``block_size`` tokens, counted per sequence.

A sequence holds ``ceil(tokens / block_size)`` blocks for the tokens whose keys and values are
cached (prompt tokens prefilled, then one more per decode step); blocks are counted, not
addressed, as in Vidur's ``BaseReplicaScheduler.allocate/free``. The pool can never be
overdrawn: every allocation checks the free count first and raises :class:`KvPoolError` (an
``AssertionError``: it is a scheduler bug, never a user error) rather than go below zero; the
checks hold under ``python -O`` too.

Counts live in one numpy array indexed by the scheduler's sequence row, so that a whole batch of
decodes grows in one vectorised update.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from coinfer.emulator.compiled import use_compiled

use_compiled(__name__, __file__)  # its compiled build, if built from this source

IntArray = npt.NDArray[np.int64]


class KvPoolError(AssertionError):
    """An allocation would overdraw the pool, or a release would free blocks never held."""


class KvBlockManager:
    """Block counts per sequence row and the pool's free count."""

    __slots__ = ("block_size", "free", "held", "num_blocks")

    def __init__(self, num_blocks: int, block_size: int, rows: int = 64) -> None:
        if num_blocks < 1 or block_size < 1:
            raise ValueError(
                f"num_blocks = {num_blocks}, block_size = {block_size}: expected both >= 1"
            )
        self.num_blocks = num_blocks  #: blocks in the pool
        self.block_size = block_size  #: tokens per block
        self.free = num_blocks  #: blocks not held by any sequence
        self.held: IntArray = np.zeros(rows, dtype=np.int64)  #: blocks held, per row

    @property
    def used(self) -> int:
        """Blocks held by sequences."""
        return self.num_blocks - self.free

    def blocks_for(self, tokens: int) -> int:
        """Blocks needed to cache ``tokens`` tokens: ``ceil(tokens / block_size)``."""
        return -(-tokens // self.block_size)

    def blocks_for_many(self, tokens: IntArray) -> IntArray:
        """:meth:`blocks_for` of every element."""
        return -(-tokens // self.block_size)

    def resize(self, rows: int) -> None:
        """Make room for ``rows`` sequence rows (new rows hold nothing)."""
        grown = np.zeros(rows, dtype=np.int64)
        grown[: len(self.held)] = self.held
        self.held = grown

    def allocate(self, row: int, blocks: int) -> None:
        """Give ``blocks`` more blocks to the sequence in ``row``."""
        if not 0 <= blocks <= self.free:
            raise KvPoolError(f"cannot allocate {blocks} blocks: {self.free} free")
        self.held[row] += blocks
        self.free -= blocks

    def allocate_many(self, rows: IntArray, blocks: IntArray, total: int) -> None:
        """Give ``blocks[i]`` more blocks to ``rows[i]`` (rows distinct); ``total`` is their
        sum, already computed by the caller."""
        if not 0 <= total <= self.free:
            raise KvPoolError(f"cannot allocate {total} blocks: {self.free} free")
        self.held[rows] += blocks
        self.free -= total

    def release(self, row: int) -> int:
        """Free every block of ``row``; the number freed."""
        blocks = int(self.held[row])
        self.held[row] = 0
        self.free += blocks
        if self.free > self.num_blocks:
            raise KvPoolError(f"{self.free} blocks free in a pool of {self.num_blocks}")
        return blocks

    def release_many(self, rows: IntArray) -> int:
        """Free every block of each of ``rows`` (distinct); the number freed."""
        blocks = int(self.held[rows].sum())
        self.held[rows] = 0
        self.free += blocks
        if self.free > self.num_blocks:
            raise KvPoolError(f"{self.free} blocks free in a pool of {self.num_blocks}")
        return blocks

    def check(self) -> None:
        """Raise :class:`KvPoolError` unless the per-row counts add up to the blocks in use and
        the pool is neither overdrawn nor overfull (for tests and debugging; O(rows))."""
        held = int(self.held.sum())
        if not 0 <= self.free <= self.num_blocks or held != self.used or self.held.min() < 0:
            raise KvPoolError(
                f"pool of {self.num_blocks}: {self.free} free, rows hold {held} blocks"
            )
