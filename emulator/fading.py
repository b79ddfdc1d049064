"""Small-scale block fading: a link's power gain factor, constant over each coherence block.

Each link owns a :class:`BlockFading` with its own random stream. Block ``j`` covers
``[offset + (j−1)·Tc, offset + j·Tc)`` for ``j ≥ 1`` and block 0 covers ``[0, offset)``, where the
per-link ``offset`` is drawn in ``[0, Tc)`` so that links do not all change at the same instant.
Factors are drawn in chunks, always in block order, so the sequence a link sees is a function of
its seed only, never of when or how often it is queried; memory stays bounded because only the
current chunk is kept (queries must move forward in time, as simulated time does).

All laws have mean power 1, so the mean gain is set by path loss and shadowing alone:

* ``rayleigh``: ``|h|² ~ Exp(1)``;
* ``rician``: ``|h|² = |√(K/(K+1)) + √(1/(K+1))·CN(0,1)|²`` (K = 0 is Rayleigh);
* ``nakagami``: ``|h|² ~ Gamma(m, 1/m)`` (m = 1 is Rayleigh).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from scipy import integrate, special, stats

FadingLaw = Literal["none", "rayleigh", "rician", "nakagami"]


def draw_power_gains(
    law: FadingLaw,
    rng: np.random.Generator,
    size: int,
    k_factor: float = 0.0,
    m: float = 1.0,
) -> np.ndarray:
    """``size`` independent unit-mean power gain factors ``|h|²`` of the fading law."""
    if law == "none":
        return np.ones(size)
    if law == "rayleigh":
        return rng.standard_exponential(size)
    if law == "rician":
        los = math.sqrt(k_factor / (k_factor + 1.0))
        scatter = math.sqrt(0.5 / (k_factor + 1.0))
        real = los + scatter * rng.standard_normal(size)
        imag = scatter * rng.standard_normal(size)
        return real * real + imag * imag
    if law == "nakagami":
        return rng.gamma(m, 1.0 / m, size)
    raise ValueError(f"fading law: got {law!r}, expected none, rayleigh, rician or nakagami")


class BlockFading:
    """The block-fading power gain factor of one link (see the module docstring)."""

    __slots__ = (
        "_chunk",
        "_chunk_start",
        "_gains",
        "_k",
        "_law",
        "_m",
        "_rng",
        "coherence_s",
        "offset_s",
    )

    def __init__(
        self,
        law: FadingLaw,
        coherence_time_s: float,
        rng: np.random.Generator,
        *,
        k_factor: float = 0.0,
        m: float = 1.0,
        chunk: int = 64,
    ) -> None:
        self._law = law
        self._rng = rng
        self._k = k_factor
        self._m = m
        self._chunk = chunk
        self.coherence_s = coherence_time_s
        self.offset_s = float(rng.random()) * coherence_time_s
        self._chunk_start = 0
        self._gains: list[float] = draw_power_gains(law, rng, chunk, k_factor, m).tolist()

    def block_at(self, t_s: float) -> int:
        """Index of the block containing time ``t_s``."""
        if t_s < self.offset_s:
            return 0
        return int((t_s - self.offset_s) // self.coherence_s) + 1

    def block_end_s(self, block: int) -> float:
        """End time of ``block`` (start of the next one), s."""
        return self.offset_s + block * self.coherence_s

    def gain(self, block: int) -> float:
        """Power gain factor of ``block``; blocks before the current chunk are gone."""
        position = block - self._chunk_start
        if position < self._chunk:
            if position < 0:
                raise ValueError(f"fading block {block} is before the kept window")
            return self._gains[position]
        while position >= self._chunk:  # draw (and forget) whole chunks in order
            self._chunk_start += self._chunk
            position -= self._chunk
            self._gains = draw_power_gains(
                self._law, self._rng, self._chunk, self._k, self._m
            ).tolist()
        return self._gains[position]


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
