"""The paper's per-request optimisation problem (P1), as plain arrays every solver shares.

For one request and a set of candidate split points, (P1) is::

    maximise   ρ·q(l) + ρ̃·s(l)                       (kept parameters: minimises D̂)
    subject to ρ·a_d/f + θ/r(p) + ρ̃·a_s/f̃ ≤ T0      (latency, s)
               k_d·f²·ρ·a_d + p·θ/r(p) + k_s·f̃²·ρ̃·a_s ≤ E0   (energy, J)
               ρ_lo ≤ ρ ≤ ρ_hi,  ρ̃_lo ≤ ρ̃ ≤ ρ̃_hi,  f ∈ [f_lo, f_hi],  f̃ ∈ [f̃_lo, f̃_hi],
               p ∈ [p_lo, p_hi]

with ``a_d = N(l)·w/c`` and ``a_s = Ñ(l)·w/c̃`` the unpruned cycles of each side for this
request's work scale ``w``, ``k = η·φ`` the energy per cycle per Hz², and
``r(p) = B·log2(1 + g·p/(B·N0))``. On a cell whose link model has a Shannon envelope (NR:
:func:`~coinfer.emulator.model.links.shannon_envelope`), ``r(p) = κ·B·log2(1 + g·p/(B·N0))`` up
to the SINR of the top MCS: written in Shannon's shape with the band ``κ·B`` and the noise PSD
``N0/κ`` (the same SINR), and the power capped where the SINR reaches the top MCS (more power
no longer raises the rate), so every solver stays exact for that model. A :class:`Problem`
holds these numbers; the joint solver, the
paper's SCA, every baseline and the tests' reference solvers (``tests/oracles``) read the same
object, and a baseline is the same problem with some bounds pinned (``p_lo = p_hi = P_max`` for
fixed power, etc.).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import numpy as np

from coinfer.emulator.compiled import use_compiled
from coinfer.emulator.model.links import shannon_envelope
from coinfer.emulator.model.reference import shannon_rate_bps
from coinfer.policies.base import PolicyContext

use_compiled(__name__, __file__)  # its compiled build, if built from this source

#: Relative slack kept inside each budget by the solvers, so that a decision rounded to floats
#: and re-evaluated with the reference formulas still meets the budget.
BUDGET_MARGIN = 1e-9


class Evaluation(NamedTuple):
    """What one point of (P1) costs and keeps (:meth:`Problem.evaluate`)."""

    latency_s: float  #: compute on both sides plus the upload, s
    energy_j: float  #: device and server compute plus the upload, J
    kept_params: float  #: ρ·q + ρ̃·s


@dataclass(frozen=True)
class Problem:
    """(P1) for one request over candidate split points (arrays indexed like ``splits``).

    Units: params are counts, cycles are cycles, bits are bits, times s, energies J, clocks Hz,
    powers W, gain linear, noise W/Hz.
    """

    splits: np.ndarray  #: candidate split points l (int)
    device_params: np.ndarray  #: q(l), parameters on the device
    server_params: np.ndarray  #: s(l), parameters on the server
    device_cycles: np.ndarray  #: a_d = N(l)·w/c, unpruned device cycles
    server_cycles: np.ndarray  #: a_s = Ñ(l)·w/c̃, unpruned server cycles
    payload_bits: np.ndarray  #: θ(l) (work-scaled if the scenario says so), bits
    total_params: float  #: n, the model's parameters (kept fraction = kept / n)
    device_k: float  #: η·φ of the device, J per cycle per Hz²
    server_k: float  #: η̃·φ̃ of the server, J per cycle per Hz²
    f_device_lo_hz: float
    f_device_hi_hz: float
    f_server_lo_hz: float
    f_server_hi_hz: float
    p_lo_w: float  #: lowest transmit power allowed (0 for the paper: p > 0 is implied)
    p_hi_w: float  #: highest transmit power (P_max)
    rho_device_lo: float
    rho_device_hi: float
    rho_server_lo: float
    rho_server_hi: float
    gain: float  #: uplink power gain g (linear)
    bandwidth_hz: float  #: band B of this upload, Hz (NR: κ·B, the envelope's)
    noise_psd_w_per_hz: float  #: N0, W/Hz (NR: N0/κ, the envelope's)
    deadline_s: float  #: T0, s (may be inf)
    energy_budget_j: float  #: E0, J (may be inf)

    @classmethod
    def from_context(
        cls,
        context: PolicyContext,
        splits: np.ndarray | list[int] | None = None,
        rho_min: float = 0.0,
        deadline_s: float | None = None,
        server_slowdown: float = 1.0,
    ) -> Problem:
        """The problem of ``context``'s request over ``splits`` (default: every split point).

        ``deadline_s`` replaces the context's budget (the queue-aware policy passes what is left
        after the expected waits); ``server_slowdown`` ≥ 1 stretches the server's time per cycle
        (a processor-sharing server shared with others) without changing its energy: the
        server clock of this problem is then the *effective* clock f̃/slowdown, and the energy
        coefficient is scaled by slowdown² so that the energy per cycle at the real clock is kept;
        multiply the solved server clock by ``server_slowdown`` to get the clock to set.
        """
        model, device, server = context.model, context.device, context.server
        if splits is None:
            splits = np.arange(model.last_split + 1)
        splits = np.asarray(splits, dtype=int)
        scale = context.work_scale
        payload = model.payload_bits[splits]
        band, noise = context.bandwidth_hz, context.noise_psd_w_per_hz
        p_hi = float(device.max_tx_power_w or 0.0)
        envelope = None if context.link is None else shannon_envelope(context.link)
        if envelope is not None:
            if context.gain > 0.0:  # the power at which the SINR reaches the top MCS
                p_hi = min(p_hi, envelope.max_sinr * band * noise / context.gain)
            band, noise = envelope.rate_scale * band, noise / envelope.rate_scale
        return cls(
            splits=splits,
            device_params=model.device_params[splits].astype(float),
            server_params=model.server_params[splits].astype(float),
            device_cycles=model.device_flops[splits] * scale / device.flops_per_cycle,
            server_cycles=model.server_flops[splits] * scale / server.flops_per_cycle,
            payload_bits=payload * scale if context.scale_payload else payload.astype(float),
            total_params=float(model.total_params),
            device_k=device.pue * device.power_coeff_w_per_hz3,
            server_k=server.pue * server.power_coeff_w_per_hz3 * server_slowdown**2,
            f_device_lo_hz=device.f_min_hz,
            f_device_hi_hz=device.f_max_hz,
            f_server_lo_hz=server.f_min_hz / server_slowdown,
            f_server_hi_hz=server.f_max_hz / server_slowdown,
            p_lo_w=0.0,
            p_hi_w=p_hi,
            rho_device_lo=rho_min,
            rho_device_hi=1.0,
            rho_server_lo=rho_min,
            rho_server_hi=1.0,
            gain=context.gain,
            bandwidth_hz=band,
            noise_psd_w_per_hz=noise,
            deadline_s=context.deadline_s if deadline_s is None else deadline_s,
            energy_budget_j=context.energy_budget_j,
        )

    def pinned(self, **bounds: float) -> Problem:
        """A copy with some fields replaced (e.g. ``p_lo_w=P, p_hi_w=P`` for fixed power)."""
        changes: dict[str, Any] = dict(bounds)
        return replace(self, **changes)

    def only_splits(self, keep: np.ndarray) -> Problem:
        """A copy restricted to the split points selected by the boolean mask or indices."""
        fields = (
            "splits",
            "device_params",
            "server_params",
            "device_cycles",
            "server_cycles",
            "payload_bits",
        )
        return replace(self, **{name: getattr(self, name)[keep] for name in fields})

    def rate_bps(self, p_w: float | np.ndarray) -> float | np.ndarray:
        """Uplink rate r(p), bit/s."""
        p_w = np.asarray(p_w, dtype=float)
        return self.bandwidth_hz * np.log2(
            1.0 + self.gain * p_w / (self.bandwidth_hz * self.noise_psd_w_per_hz)
        )

    def evaluate(
        self,
        index: int,
        rho_device: float,
        rho_server: float,
        tx_power_w: float,
        f_device_hz: float,
        f_server_hz: float,
    ) -> Evaluation:
        """Latency (s), energy (J) and kept parameters of one point at split ``splits[index]``."""
        a_d, a_s = float(self.device_cycles[index]), float(self.server_cycles[index])
        theta = float(self.payload_bits[index])
        upload_s = 0.0
        if theta > 0.0:
            rate = shannon_rate_bps(
                tx_power_w, self.gain, self.bandwidth_hz, self.noise_psd_w_per_hz
            )
            upload_s = theta / rate if rate > 0.0 else math.inf
        latency = (
            (rho_device * a_d / f_device_hz if a_d > 0 else 0.0)
            + upload_s
            + (rho_server * a_s / f_server_hz if a_s > 0 else 0.0)
        )
        energy = (
            self.device_k * f_device_hz**2 * rho_device * a_d
            + tx_power_w * upload_s
            + self.server_k * f_server_hz**2 * rho_server * a_s
        )
        kept = rho_device * float(self.device_params[index]) + rho_server * float(
            self.server_params[index]
        )
        return Evaluation(latency, energy, kept)

    def solution_at(
        self,
        index: int,
        rho_device: float,
        rho_server: float,
        tx_power_w: float,
        f_device_hz: float,
        f_server_hz: float,
    ) -> Solution:
        """One point at split ``splits[index]`` as a :class:`Solution`, evaluated with
        :meth:`evaluate`: feasible if it meets both budgets (:meth:`meets_budgets`)."""
        latency, energy, kept = self.evaluate(
            index, rho_device, rho_server, tx_power_w, f_device_hz, f_server_hz
        )
        return Solution(
            feasible=self.meets_budgets(latency, energy),
            index=index,
            split=int(self.splits[index]),
            rho_device=rho_device,
            rho_server=rho_server,
            tx_power_w=tx_power_w,
            f_device_hz=f_device_hz,
            f_server_hz=f_server_hz,
            kept_params=kept,
            latency_s=latency,
            energy_j=energy,
        )

    def meets_budgets(self, latency_s: float, energy_j: float, rel_tol: float = 1e-9) -> bool:
        """Whether a (latency, energy) pair meets both budgets (up to ``rel_tol``)."""
        return latency_s <= self.deadline_s * (1 + rel_tol) and energy_j <= (
            self.energy_budget_j * (1 + rel_tol)
        )


@dataclass(frozen=True)
class Solution:
    """A solver's answer: the best point found, or ``feasible=False`` if none meets both budgets.

    ``index`` is the position in ``problem.splits``; the other fields are meaningless when not
    feasible (they hold the solver's fallback, if any).
    """

    feasible: bool
    index: int
    split: int
    rho_device: float
    rho_server: float
    tx_power_w: float
    f_device_hz: float
    f_server_hz: float
    kept_params: float  #: ρ·q + ρ̃·s
    latency_s: float
    energy_j: float

    @staticmethod
    def infeasible() -> Solution:
        """No point meets both budgets."""
        nan = math.nan
        return Solution(False, -1, -1, nan, nan, nan, nan, nan, -math.inf, nan, nan)
