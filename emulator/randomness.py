"""Named random streams from one root seed (common random numbers across policies).

Every source of randomness (arrivals, work, fading, placement, shadowing, policy, the offsets at
which replayed input traces start, the prompt and output tokens of generative requests) gets its
own child of ``numpy.random.SeedSequence(root)``, keyed by the source's name and an index (a
device number, say) rather than by the order in which streams are asked for. So adding a new random
consumer never shifts the others, and two runs that differ only in their policy see exactly the
same arrivals, work and channel.

A run with many devices asks for one stream per device and source. Building each child
``SeedSequence`` in Python costs tens of microseconds, so :class:`Streams` derives the seeds of
every device of a source in one vectorised step (:func:`generate_states`, numpy's own
``SeedSequence`` hashing written over arrays) and hands each generator exactly the state the
child ``SeedSequence`` would have given it: the numbers drawn are the same, bit for bit.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.random.bit_generator import ISpawnableSeedSequence

#: The sources the engine draws from; a stream name must be one of these.
SOURCES = (
    "arrivals",
    "work",
    "fading",
    "placement",
    "shadowing",
    "los",
    "policy",
    "trace-offsets",
    "prompt-tokens",
    "output-tokens",
    "early-exit",
    "mobility",
    "mobility-shadowing",
    "mobility-los",
    "mobility-start",
    "merged-arrivals",
    "draft-acceptance",
    "token-exit",
)


def seed_sequence(root_seed: int, source: str, index: int = 0) -> np.random.SeedSequence:
    """The seed of ``source`` (one of :data:`SOURCES`) for item ``index`` under the root seed."""
    return np.random.SeedSequence(root_seed, spawn_key=(_source_key(source), index))


def stream(root_seed: int, source: str, index: int = 0) -> np.random.Generator:
    """The generator of ``source`` (one of :data:`SOURCES`) for item ``index`` under the seed."""
    return np.random.Generator(np.random.PCG64(seed_sequence(root_seed, source, index)))


def _source_key(source: str) -> int:
    if source not in SOURCES:
        raise ValueError(f"random source: got {source!r}, expected one of {SOURCES}")
    return zlib.crc32(source.encode())


# ---- many seeds at once ----------------------------------------------------------------------
#
# numpy's SeedSequence (O'Neill's seed_seq alternative; numpy/random/bit_generator.pyx): the
# entropy words are hashed into a pool of four 32-bit words, and state words are hashed out of
# the pool. The hash constants evolve independently of the data, so the same steps run on
# arrays of words, one element per child. tests/emulator/test_randomness.py checks the result
# against numpy's own SeedSequence, word for word.

_POOL_SIZE = 4
_INIT_A = 0x43B0D7E5
_MULT_A = 0x931E8875
_INIT_B = 0x8B51F9DD
_MULT_B = 0x58F38DED
_MIX_MULT_L = np.uint32(0xCA01F9DD)
_MIX_MULT_R = np.uint32(0x4973F715)
_XSHIFT = np.uint32(16)
_MASK32 = 0xFFFFFFFF
_ONE_WORD = 1 << 32  #: indices below this are one entropy word


def _words(value: int) -> list[int]:
    """``value`` as 32-bit words, lowest first (``[0]`` for zero), as numpy's seeding splits it."""
    if value < 0:
        raise ValueError(f"seed: got {value}, expected a non-negative integer")
    words = [value & _MASK32]
    value >>= 32
    while value:
        words.append(value & _MASK32)
        value >>= 32
    return words


def _hashmix(value: np.ndarray, hash_const: int) -> tuple[np.ndarray, int]:
    value = value ^ np.uint32(hash_const)
    hash_const = (hash_const * _MULT_A) & _MASK32
    value = value * np.uint32(hash_const)
    return value ^ (value >> _XSHIFT), hash_const


def _mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    result: np.ndarray = _MIX_MULT_L * x - _MIX_MULT_R * y
    return result ^ (result >> _XSHIFT)


def _pools(root_seed: int, source: str, indices: np.ndarray) -> list[np.ndarray]:
    """The four pool words of each child (``indices`` below 2**32), as four arrays."""
    count = len(indices)
    run = _words(root_seed)
    run += [0] * (_POOL_SIZE - len(run))  # padded to the pool size when there is a spawn key
    entropy = [np.full(count, word, dtype=np.uint32) for word in (*run, _source_key(source))]
    entropy.append(indices.astype(np.uint32))
    hash_const = _INIT_A
    pool = []
    for word in entropy[:_POOL_SIZE]:
        mixed, hash_const = _hashmix(word, hash_const)
        pool.append(mixed)
    for src in range(_POOL_SIZE):
        for dst in range(_POOL_SIZE):
            if src != dst:
                mixed, hash_const = _hashmix(pool[src], hash_const)
                pool[dst] = _mix(pool[dst], mixed)
    for word in entropy[_POOL_SIZE:]:
        for dst in range(_POOL_SIZE):
            mixed, hash_const = _hashmix(word, hash_const)
            pool[dst] = _mix(pool[dst], mixed)
    return pool


def generate_states(
    root_seed: int,
    source: str,
    indices: Sequence[int] | np.ndarray,
    n_words: int,
    dtype: type = np.uint32,
) -> np.ndarray:
    """``seed_sequence(root_seed, source, i).generate_state(n_words, dtype)`` for every ``i`` of
    ``indices``, one row each (shape ``(len(indices), n_words)``), in one vectorised step."""
    out_dtype = np.dtype(dtype)
    if out_dtype not in (np.dtype(np.uint32), np.dtype(np.uint64)):
        raise ValueError(f"dtype: got {out_dtype}, expected uint32 or uint64")
    n32 = 2 * n_words if out_dtype == np.dtype(np.uint64) else n_words
    index_array = np.asarray(indices, dtype=np.int64).reshape(-1)
    if (index_array < 0).any():
        raise ValueError("indices: expected non-negative integers")
    states = np.empty((len(index_array), n32), dtype=np.uint32)
    small = index_array < _ONE_WORD
    pool = _pools(root_seed, source, index_array[small])
    hash_const = _INIT_B
    for word in range(n32):
        value = pool[word % _POOL_SIZE] ^ np.uint32(hash_const)
        hash_const = (hash_const * _MULT_B) & _MASK32
        value = value * np.uint32(hash_const)
        states[small, word] = value ^ (value >> _XSHIFT)
    for row in np.flatnonzero(~small).tolist():  # indices of two words or more: one by one
        child = seed_sequence(root_seed, source, int(index_array[row]))
        states[row] = child.generate_state(n32, np.uint32)
    if out_dtype == np.dtype(np.uint64):  # as numpy: little-endian pairs, whatever the platform
        return states.astype("<u4").view("<u8").astype(np.uint64)
    return states


#: 64-bit state words kept per child: what PCG64 asks for (and BlockFading, fewer).
_KEPT_WORDS = 4


class Streams:
    """The streams of one root seed for items ``0 .. count−1`` (devices), seeded in bulk.

    ``Streams(root, n).stream(source, i)`` draws exactly what ``stream(root, source, i)`` draws,
    but the seeds of all ``n`` items of a source are derived together, on the first request for
    that source (a few milliseconds for 100,000 items), and each generator is then built from
    its item's row. Items outside ``0 .. count−1`` are seeded one by one, as by :func:`stream`.
    """

    def __init__(self, root_seed: int, count: int) -> None:
        self.root_seed = root_seed
        self.count = count
        self._states: dict[str, np.ndarray] = {}

    def seed_sequence(self, source: str, index: int = 0) -> ISpawnableSeedSequence:
        """A stand-in for ``seed_sequence(root, source, index)``: the same state words."""
        if not 0 <= index < self.count:
            return seed_sequence(self.root_seed, source, index)
        states = self._states.get(source)
        if states is None:
            states = generate_states(
                self.root_seed, source, np.arange(self.count), _KEPT_WORDS, np.uint64
            )
            self._states[source] = states
        return _ChildSeed(self.root_seed, source, index, states)

    def stream(self, source: str, index: int = 0) -> np.random.Generator:
        """The generator of ``source`` for item ``index`` (equal to :func:`stream`'s)."""
        seed = self.seed_sequence(source, index)  # numpy's stubs say SeedSequence: any will do
        return np.random.Generator(np.random.PCG64(seed))  # type: ignore[arg-type]


class _ChildSeed(ISpawnableSeedSequence):
    """The child ``SeedSequence`` of (root, source, index), with its first state words computed
    in bulk (row ``index`` of ``states``); longer states and spawning go to the real
    ``SeedSequence``."""

    __slots__ = ("_full", "_index", "_root", "_source", "_states")

    def __init__(self, root_seed: int, source: str, index: int, states: np.ndarray) -> None:
        self._root = root_seed
        self._source = source
        self._index = index
        self._states = states  #: generate_state(_KEPT_WORDS, uint64) of every item, by row
        self._full: np.random.SeedSequence | None = None

    def _sequence(self) -> np.random.SeedSequence:
        if self._full is None:
            self._full = seed_sequence(self._root, self._source, self._index)
        return self._full

    def generate_state(self, n_words: int, dtype: Any = np.uint32) -> np.ndarray:
        """As ``SeedSequence.generate_state``: the first ``n_words`` state words."""
        if dtype is np.uint64 and n_words <= _KEPT_WORDS:  # what PCG64 and BlockFading ask
            return self._states[self._index, :n_words].copy()
        out_dtype = np.dtype(dtype)
        if out_dtype == np.dtype(np.uint64) and n_words <= _KEPT_WORDS:
            return self._states[self._index, :n_words].copy()
        if out_dtype == np.dtype(np.uint32) and n_words <= 2 * _KEPT_WORDS:
            words = self._states[self._index].astype("<u8").view("<u4")
            return words[:n_words].astype(np.uint32)
        return self._sequence().generate_state(n_words, dtype)

    def spawn(self, n_children: int) -> list[Any]:
        """As ``SeedSequence.spawn`` (real ``SeedSequence`` children)."""
        return self._sequence().spawn(n_children)
