"""Small-scale block fading: a link's power gain factor, constant over each coherence block.

Each link owns a :class:`BlockFading` with its own random stream. Block ``j`` covers
``[offset + (j−1)·Tc, offset + j·Tc)`` for ``j ≥ 1`` and block 0 covers ``[0, offset)``, where the
per-link ``offset`` is drawn in ``[0, Tc)`` so that links do not all change at the same instant.
A block's factor is a pure function of the link's seed and the block index (a counter-based
generator), never of when or how often it is queried, and no memory grows with time.

All laws have mean power 1, so the mean gain is set by path loss and shadowing alone:

* ``rayleigh``: ``|h|² ~ Exp(1)``;
* ``rician``: ``|h|² = |√(K/(K+1)) + √(1/(K+1))·CN(0,1)|²`` (K = 0 is Rayleigh);
* ``nakagami``: ``|h|² ~ Gamma(m, 1/m)`` (m = 1 is Rayleigh).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from scipy import special

FadingLaw = Literal["none", "rayleigh", "rician", "nakagami"]


# The inverse transforms, written once for both ``math`` (one block) and ``numpy`` (many).


def _rayleigh_power(u, xp):
    return -xp.log1p(-u)


def _rician_power(u1, u2, k_factor: float, xp):
    radius = xp.sqrt(-xp.log1p(-u1))  # |CN(0, 1)| by Box–Muller
    angle = 2.0 * xp.pi * u2
    los = math.sqrt(k_factor / (k_factor + 1.0))
    scatter = math.sqrt(1.0 / (k_factor + 1.0))
    real = los + scatter * radius * xp.cos(angle)
    imag = scatter * radius * xp.sin(angle)
    return real * real + imag * imag


def power_gains_from_uniforms(
    law: FadingLaw, uniforms: np.ndarray, k_factor: float = 0.0, m: float = 1.0
) -> np.ndarray:
    """Unit-mean power gain factors ``|h|²`` from uniforms in ``[0, 1)`` by inverse transforms.

    Rayleigh and Nakagami use one uniform per factor (inverse CDF); Rician uses two (Box–Muller
    for the scattered component), so ``uniforms`` has two entries per factor for it.
    """
    if law == "none":
        return np.ones(len(uniforms))
    if law == "rayleigh":
        return _rayleigh_power(uniforms, np)
    if law == "nakagami":
        return special.gammaincinv(m, uniforms) / m
    if law == "rician":
        return _rician_power(uniforms[0::2], uniforms[1::2], k_factor, np)
    raise ValueError(f"fading law: got {law!r}, expected none, rayleigh, rician or nakagami")


def uniforms_per_block(law: FadingLaw) -> int:
    """Uniform draws one block's factor consumes."""
    return 2 if law == "rician" else 1


_MASK64 = (1 << 64) - 1
_GOLDEN64 = 0x9E3779B97F4A7C15


def counter_uniform(key: int, counter: int) -> float:
    """A uniform in ``[0, 1)`` that is a pure function of ``(key, counter)``.

    SplitMix64 (Steele, Lea & Flood 2014; the seeding generator of ``java.util.SplittableRandom``
    and of xoshiro) applied to ``key + counter·φ64``: a counter-based generator, so any block's
    draw can be computed directly, in any order, without state.
    """
    z = (key + counter * _GOLDEN64) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return ((z ^ (z >> 31)) >> 11) * 1.1102230246251565e-16  # 2**-53


def counter_uniforms(key: int, first: int, count: int) -> np.ndarray:
    """:func:`counter_uniform` for counters ``first .. first+count−1``, vectorised."""
    with np.errstate(over="ignore"):
        counters = np.arange(first, first + count, dtype=np.uint64)
        z = np.uint64(key) + counters * np.uint64(_GOLDEN64)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(float) * 1.1102230246251565e-16


class BlockFading:
    """The block-fading power gain factor of one link (see the module docstring).

    Factors are random-access: block ``j``'s uniforms are :func:`counter_uniform` of the link's
    64-bit key and ``j`` (two uniforms for Rician), so any block can be asked for at any time
    and always gets the same value, with no memory kept but the last block's factor.
    """

    __slots__ = ("_k", "_key", "_last_block", "_last_gain", "_law", "_m", "coherence_s", "offset_s")

    def __init__(
        self,
        law: FadingLaw,
        coherence_time_s: float,
        seed: np.random.SeedSequence,
        *,
        k_factor: float = 0.0,
        m: float = 1.0,
    ) -> None:
        if law not in ("none", "rayleigh", "rician", "nakagami"):
            raise ValueError(
                f"fading law: got {law!r}, expected none, rayleigh, rician or nakagami"
            )
        self._law = law
        self._k = k_factor
        self._m = m
        key, offset = seed.generate_state(2, np.uint64).tolist()
        self._key = int(key)
        self.coherence_s = coherence_time_s
        self.offset_s = (int(offset) >> 11) * 1.1102230246251565e-16 * coherence_time_s
        self._last_block = -1
        self._last_gain = 1.0

    def block_at(self, t_s: float) -> int:
        """Index of the block containing time ``t_s``."""
        if t_s < self.offset_s:
            return 0
        return int((t_s - self.offset_s) // self.coherence_s) + 1

    def block_end_s(self, block: int) -> float:
        """End time of ``block`` (start of the next one), s."""
        return self.offset_s + block * self.coherence_s

    def gain(self, block: int) -> float:
        """Power gain factor of ``block``."""
        if block == self._last_block:
            return self._last_gain
        law = self._law
        if law == "rayleigh":
            value = _rayleigh_power(counter_uniform(self._key, block), math)
        elif law == "rician":
            u1 = counter_uniform(self._key, 2 * block)
            u2 = counter_uniform(self._key, 2 * block + 1)
            value = _rician_power(u1, u2, self._k, math)
        elif law == "nakagami":
            value = float(special.gammaincinv(self._m, counter_uniform(self._key, block))) / self._m
        else:
            value = 1.0
        self._last_block = block
        self._last_gain = value
        return value

    def gains(self, first: int, count: int) -> np.ndarray:
        """Factors of blocks ``first .. first+count−1`` (equal to :meth:`gain` block by block)."""
        if self._law == "none":
            return np.ones(count)
        per_block = uniforms_per_block(self._law)
        uniforms = counter_uniforms(self._key, per_block * first, per_block * count)
        return power_gains_from_uniforms(self._law, uniforms, self._k, self._m)


def ergodic_capacity_bps(
    law: FadingLaw,
    mean_snr: float,
    bandwidth_hz: float,
    k_factor: float = 0.0,
    m: float = 1.0,
) -> float:
    """Ergodic Shannon capacity ``B·E[log2(1 + SNR·|h|²)]`` of the fading law, bit/s.

    Rayleigh has the closed form ``B·e^(1/γ)·E1(1/γ)/ln 2``; the other laws are integrated
    numerically against their density.
    """
    from scipy import integrate, stats  # only needed here; slow to import

    if law == "none":
        return bandwidth_hz * math.log2(1.0 + mean_snr)
    if law == "rayleigh" or (law == "rician" and k_factor == 0.0):
        inv = 1.0 / mean_snr
        return bandwidth_hz * math.exp(inv) * float(special.exp1(inv)) / math.log(2.0)
    if law == "nakagami":
        density = stats.gamma(a=m, scale=1.0 / m).pdf
    elif law == "rician":
        # |h|²·2(K+1) is noncentral chi-square with 2 degrees of freedom and nc = 2K.
        scale = 1.0 / (2.0 * (k_factor + 1.0))
        density = stats.ncx2(df=2, nc=2.0 * k_factor, scale=scale).pdf
    else:
        raise ValueError(f"fading law: got {law!r}")
    value, _ = integrate.quad(
        lambda x: math.log2(1.0 + mean_snr * x) * density(x), 0, np.inf, limit=200
    )
    return bandwidth_hz * value
