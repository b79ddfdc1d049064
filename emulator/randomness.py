"""Named random streams from one root seed (common random numbers across policies).

Every source of randomness (arrivals, work, fading, placement, shadowing, policy, the offsets at
which replayed input traces start) gets its own child of ``numpy.random.SeedSequence(root)``,
keyed by the source's name and an index (a device number, say) rather than by the order in which
streams are asked for. So adding a new random
consumer never shifts the others, and two runs that differ only in their policy see exactly the
same arrivals, work and channel.
"""

from __future__ import annotations

import zlib

import numpy as np

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
)


def seed_sequence(root_seed: int, source: str, index: int = 0) -> np.random.SeedSequence:
    """The seed of ``source`` (one of :data:`SOURCES`) for item ``index`` under the root seed."""
    if source not in SOURCES:
        raise ValueError(f"random source: got {source!r}, expected one of {SOURCES}")
    return np.random.SeedSequence(root_seed, spawn_key=(zlib.crc32(source.encode()), index))


def stream(root_seed: int, source: str, index: int = 0) -> np.random.Generator:
    """The generator of ``source`` (one of :data:`SOURCES`) for item ``index`` under the seed."""
    return np.random.Generator(np.random.PCG64(seed_sequence(root_seed, source, index)))
