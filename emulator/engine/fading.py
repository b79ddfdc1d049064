"""Small-scale block fading: a link's power gain factor, constant over each coherence block.

Each link owns a :class:`BlockFading` with its own random stream. Block ``j`` covers
``[offset + (j−1)·Tc, offset + j·Tc)`` for ``j ≥ 1`` and block 0 covers ``[0, offset)``, where the
per-link ``offset`` is drawn in ``[0, Tc)`` so that links do not all change at the same instant.
A block's factor is a pure function of the link's seed and the block index (a counter-based
generator), never of when or how often it is queried, and no memory grows with time.

The law of the factor is a plug-in of the ``coinfer.fading`` family
(:mod:`coinfer.emulator.plugins`): a class implementing :class:`FadingLaw`, registered under the
name a scenario gives as ``channel.fading.law``. All built-in laws have mean power 1, so the
mean gain is set by path loss and shadowing alone:

* ``none``: ``|h|² = 1`` (the engine then skips fading altogether);
* ``rayleigh``: ``|h|² ~ Exp(1)``;
* ``rician``: ``|h|² = |√(K/(K+1)) + √(1/(K+1))·CN(0,1)|²`` (K = 0 is Rayleigh);
* ``nakagami``: ``|h|² ~ Gamma(m, 1/m)`` (m = 1 is Rayleigh).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, overload

import numpy as np
from scipy import special

from coinfer.emulator.compiled import use_compiled
from coinfer.emulator.errors import InputError
from coinfer.emulator.plugins import FADING
from coinfer.emulator.scenario.schema import Fading

use_compiled(__name__, __file__)  # its compiled build, if built from this source

if TYPE_CHECKING:
    from types import ModuleType

    from numpy.random.bit_generator import ISeedSequence


class FadingLaw(Protocol):
    """A fading law: the power gain factor ``|h|²`` of each coherence block of a link.

    Made once per run from the channel's fading parameters (``Params``, a :class:`Fading`
    model). ``gain(key, block)`` must be a pure function of the link's 64-bit ``key`` and the
    block index (draw uniforms with :func:`counter_uniform` / :func:`counter_uniforms`), and
    ``gains`` must equal ``gain`` block by block. ``fades``: False for a law whose factor is
    always 1 (the engine then gives links no fading process at all).
    """

    Params: ClassVar[type[Fading]]
    fades: ClassVar[bool]

    def __init__(self, params: Fading) -> None: ...

    def gain(self, key: int, block: int) -> float:
        """Power gain factor of ``block`` of the link ``key``."""
        ...

    def gains(self, key: int, first: int, count: int) -> np.ndarray:
        """Factors of blocks ``first .. first+count−1`` of the link ``key``."""
        ...


def fading_law(params: Fading) -> FadingLaw:
    """The law ``params.law`` names, made with ``params``."""
    law: type[FadingLaw] = FADING.load(params.law)
    return law(params)


# The inverse transforms, written once for both ``math`` (one block) and ``numpy`` (many).


@overload
def _rayleigh_power(u: float, xp: ModuleType) -> float: ...
@overload
def _rayleigh_power(u: np.ndarray, xp: ModuleType) -> np.ndarray: ...
def _rayleigh_power(u: Any, xp: Any) -> Any:
    return -xp.log1p(-u)


@overload
def _rician_power(u1: float, u2: float, k_factor: float, xp: ModuleType) -> float: ...
@overload
def _rician_power(
    u1: np.ndarray, u2: np.ndarray, k_factor: float, xp: ModuleType
) -> np.ndarray: ...
def _rician_power(u1: Any, u2: Any, k_factor: float, xp: Any) -> Any:
    radius = xp.sqrt(-xp.log1p(-u1))  # |CN(0, 1)| by Box–Muller
    angle = 2.0 * xp.pi * u2
    los = math.sqrt(k_factor / (k_factor + 1.0))
    scatter = math.sqrt(1.0 / (k_factor + 1.0))
    real = los + scatter * radius * xp.cos(angle)
    imag = scatter * radius * xp.sin(angle)
    return real * real + imag * imag


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


# ---- the built-in laws ---------------------------------------------------------------------


class NoFading:
    """No small-scale fading: ``|h|² = 1``."""

    Params = Fading
    fades = False

    def __init__(self, params: Fading) -> None:
        self.params = params

    def gain(self, key: int, block: int) -> float:
        return 1.0

    def gains(self, key: int, first: int, count: int) -> np.ndarray:
        return np.ones(count)

    def ergodic_capacity_bps(self, mean_snr: float, bandwidth_hz: float) -> float:
        """Shannon capacity at the mean SNR, bit/s."""
        return bandwidth_hz * math.log2(1.0 + mean_snr)


class RayleighFading:
    """Rayleigh fading: ``|h|² ~ Exp(1)``, one uniform per block (inverse CDF)."""

    Params = Fading
    fades = True

    def __init__(self, params: Fading) -> None:
        self.params = params

    def gain(self, key: int, block: int) -> float:
        return -math.log1p(-counter_uniform(key, block))  # _rayleigh_power, inlined: hot path

    def gains(self, key: int, first: int, count: int) -> np.ndarray:
        return _rayleigh_power(counter_uniforms(key, first, count), np)

    def ergodic_capacity_bps(self, mean_snr: float, bandwidth_hz: float) -> float:
        """The closed form ``B·e^(1/γ)·E1(1/γ)/ln 2``, bit/s."""
        inv = 1.0 / mean_snr
        return bandwidth_hz * math.exp(inv) * float(special.exp1(inv)) / math.log(2.0)


class RicianFading:
    """Rician fading with factor ``k_factor``: two uniforms per block (Box–Muller for the
    scattered component)."""

    Params = Fading
    fades = True

    def __init__(self, params: Fading) -> None:
        self.params = params
        self._k = params.k_factor

    def gain(self, key: int, block: int) -> float:
        u1 = counter_uniform(key, 2 * block)
        u2 = counter_uniform(key, 2 * block + 1)
        return _rician_power(u1, u2, self._k, math)

    def gains(self, key: int, first: int, count: int) -> np.ndarray:
        uniforms = counter_uniforms(key, 2 * first, 2 * count)
        return _rician_power(uniforms[0::2], uniforms[1::2], self._k, np)

    def ergodic_capacity_bps(self, mean_snr: float, bandwidth_hz: float) -> float:
        """``B·E[log2(1 + γ|h|²)]``: Rayleigh's closed form at K = 0, else integrated against
        the density (``|h|²·2(K+1)`` is non-central χ² with 2 degrees of freedom, nc = 2K)."""
        k = self._k
        if k == 0.0:
            return RayleighFading(self.params).ergodic_capacity_bps(mean_snr, bandwidth_hz)
        from scipy import stats  # only needed here; slow to import

        scale = 1.0 / (2.0 * (k + 1.0))
        density = stats.ncx2(df=2, nc=2.0 * k, scale=scale).pdf
        return _integrated_capacity_bps(density, mean_snr, bandwidth_hz)


class NakagamiFading:
    """Nakagami-m fading: ``|h|² ~ Gamma(m, 1/m)``, one uniform per block (inverse CDF)."""

    Params = Fading
    fades = True

    def __init__(self, params: Fading) -> None:
        self.params = params
        self._m = params.m

    def gain(self, key: int, block: int) -> float:
        return float(special.gammaincinv(self._m, counter_uniform(key, block))) / self._m

    def gains(self, key: int, first: int, count: int) -> np.ndarray:
        gains: np.ndarray = special.gammaincinv(self._m, counter_uniforms(key, first, count))
        return gains / self._m

    def ergodic_capacity_bps(self, mean_snr: float, bandwidth_hz: float) -> float:
        """``B·E[log2(1 + γ|h|²)]`` integrated against the Gamma(m, 1/m) density."""
        from scipy import stats  # only needed here; slow to import

        density = stats.gamma(a=self._m, scale=1.0 / self._m).pdf
        return _integrated_capacity_bps(density, mean_snr, bandwidth_hz)


def _integrated_capacity_bps(
    density: Callable[[float], float], mean_snr: float, bandwidth_hz: float
) -> float:
    from scipy import integrate  # only needed here; slow to import

    value: float
    value, _ = integrate.quad(
        lambda x: math.log2(1.0 + mean_snr * x) * density(x), 0, np.inf, limit=200
    )
    return bandwidth_hz * value


# ---- one link's block-fading process -------------------------------------------------------


class BlockFading:
    """The block-fading power gain factor of one link (see the module docstring).

    Factors are random-access: block ``j``'s factor is the law's factor of the link's 64-bit key
    and ``j``, so any block can be asked for at any time and always gets the same value, with no
    memory kept but the last block's factor.
    """

    __slots__ = ("_gain_of", "_gains_of", "_key", "_last_block", "_last_gain", "coherence_s",
                 "offset_s")  # fmt: skip

    def __init__(self, law: FadingLaw, coherence_time_s: float, seed: ISeedSequence) -> None:
        self._gain_of = law.gain
        self._gains_of = law.gains
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
        value = self._gain_of(self._key, block)
        self._last_block = block
        self._last_gain = value
        return value

    def gains(self, first: int, count: int) -> np.ndarray:
        """Factors of blocks ``first .. first+count−1`` (equal to :meth:`gain` block by block)."""
        return self._gains_of(self._key, first, count)


def ergodic_capacity_bps(
    law: str,
    mean_snr: float,
    bandwidth_hz: float,
    k_factor: float = 0.0,
    m: float = 1.0,
) -> float:
    """Ergodic Shannon capacity ``B·E[log2(1 + SNR·|h|²)]`` of the fading law, bit/s.

    For a law that provides ``ergodic_capacity_bps(mean_snr, bandwidth_hz)`` (every built-in
    does: Rayleigh in closed form, the others integrated numerically against their density).
    """
    made = fading_law(Fading(law=law, k_factor=k_factor, m=m))
    capacity = getattr(made, "ergodic_capacity_bps", None)
    if capacity is None:
        raise InputError(f"fading law {law!r} does not give its ergodic capacity")
    return float(capacity(mean_snr, bandwidth_hz))
