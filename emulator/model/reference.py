"""The reference model of pruning-aware device–server co-inference, as pure numpy functions.

This module is the single home of the analytic formulas of Lyu et al., "The Larger the Merrier?"
(arXiv 2505.09214, 2025), written out in ``docs/reference-model.md``. Both the engine (what
happens) and the policies (what they predict) call these functions, so prediction and emulation
cannot drift apart.

Conventions:

* SI units everywhere: seconds, joules, watts, hertz (cycles/s for clocks), bits, FLOPs.
* Every function is pure and vectorised: arguments broadcast like numpy arrays. The
  communication and computation functions also take plain Python numbers and then return a plain
  ``float`` without touching numpy, because the engine and the policies call them once per request
  (a numpy call on a scalar costs about a microsecond; plain arithmetic a few tens of
  nanoseconds). Other functions return numpy scalars or 0-d arrays for scalar input.
* Pruning ratios are the fraction of parameters **kept** (the paper's convention): ``ρ = 1`` is
  the unpruned model.
* Gains are linear power gains (``g``), never dB, except in the path-loss functions whose names
  end in ``_db``.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple, overload

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import gammaln

from coinfer.emulator.compiled import use_compiled

use_compiled(__name__, __file__)  # its compiled build, if built from this source

#: Speed of light in vacuum (m/s), used for the 3GPP breakpoint distance.
#: What the formulas return: a float for float arguments (the engine's fast path), else an array.
Real = float | np.ndarray

SPEED_OF_LIGHT_M_PER_S = 299_792_458.0

_LN2 = math.log(2.0)
_LOG2_SQRT_PI_E = 0.5 * math.log2(math.pi * math.e)


def _array(x: ArrayLike) -> np.ndarray:
    return np.asarray(x, dtype=float)


def _number(x: ArrayLike) -> Real:
    """``x`` as a plain float when it is a Python number, else as a float numpy array."""
    if type(x) is float:
        return x
    if type(x) is int:
        return float(x)
    return np.asarray(x, dtype=float)


def _log2(x: Real) -> Real:
    return math.log2(x) if type(x) is float else np.log2(x)


def _ratio_or_zero(numerator: Real, denominator: Real) -> Real:
    """``numerator / denominator`` where ``numerator > 0``, else 0 (and ``x/0 = inf``)."""
    if type(numerator) is float and type(denominator) is float:
        if numerator <= 0.0:
            return 0.0
        return numerator / denominator if denominator > 0.0 else math.inf
    numerator, denominator = np.asarray(numerator), np.asarray(denominator)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = numerator / denominator
    return np.where(numerator > 0.0, ratio, 0.0)


# --------------------------------------------------------------------------------------------
# Communication (paper section 3)
# --------------------------------------------------------------------------------------------


# Kernels: the formulas, written once. They take floats or numpy arrays (no conversion); the
# public functions below convert their arguments and call them.


def _snr(p: Real, g: Real, b: Real, n0: Real) -> Real:
    return g * p / (b * n0)


def _rate(p: Real, g: Real, b: Real, n0: Real) -> Real:
    return b * _log2(1.0 + _snr(p, g, b, n0))


def shannon_rate_bps(p: float, g: float, b: float, n0: float) -> float:
    """:func:`uplink_rate_bps` for plain floats only, without argument conversion.

    For the engine's inner loops (one call per fading block of every transfer), where the
    conversion of :func:`uplink_rate_bps` would double the cost.
    """
    return b * math.log2(1.0 + g * p / (b * n0))


def _cycles(n: Real, rho: Real, c: Real) -> Real:
    return rho * n / c


def _energy(n: Real, rho: Real, f: Real, c: Real, phi: Real, eta: Real) -> Real:
    return eta * phi * f**2 * _cycles(n, rho, c)


def snr_linear(
    tx_power_w: ArrayLike, gain: ArrayLike, bandwidth_hz: ArrayLike, noise_psd_w_per_hz: ArrayLike
) -> Real:
    """Received signal-to-noise ratio ``g·p / (B·N0)`` (linear, not dB)."""
    return _snr(
        _number(tx_power_w), _number(gain), _number(bandwidth_hz), _number(noise_psd_w_per_hz)
    )


@overload
def uplink_rate_bps(
    tx_power_w: float, gain: float, bandwidth_hz: float, noise_psd_w_per_hz: float
) -> float: ...
@overload
def uplink_rate_bps(
    tx_power_w: ArrayLike, gain: np.ndarray, bandwidth_hz: ArrayLike, noise_psd_w_per_hz: ArrayLike
) -> np.ndarray: ...
@overload
def uplink_rate_bps(
    tx_power_w: ArrayLike, gain: ArrayLike, bandwidth_hz: ArrayLike, noise_psd_w_per_hz: ArrayLike
) -> Real: ...
def uplink_rate_bps(
    tx_power_w: ArrayLike, gain: ArrayLike, bandwidth_hz: ArrayLike, noise_psd_w_per_hz: ArrayLike
) -> Real:
    """Shannon uplink rate ``r(p) = B·log2(1 + g·p/(B·N0))`` in bit/s.

    ``bandwidth_hz`` is the band this upload actually gets (its share of the cell's band when
    several uploads share it); ``noise_psd_w_per_hz`` is ``N0`` in W/Hz.
    """
    return _rate(
        _number(tx_power_w), _number(gain), _number(bandwidth_hz), _number(noise_psd_w_per_hz)
    )


def upload_delay_s(payload_bits: ArrayLike, rate_bps: ArrayLike) -> Real:
    """Upload delay ``t_U = θ / r`` in seconds; zero when nothing is uploaded (``θ = 0``).

    A positive payload over a zero rate takes forever (``inf``).
    """
    return _ratio_or_zero(_number(payload_bits), _number(rate_bps))


def upload_energy_j(tx_power_w: ArrayLike, payload_bits: ArrayLike, rate_bps: ArrayLike) -> Real:
    """Upload energy ``e_U = p·θ / r`` in joules; zero when nothing is uploaded."""
    return _number(tx_power_w) * upload_delay_s(payload_bits, rate_bps)


# --------------------------------------------------------------------------------------------
# Computation (paper section 4)
# --------------------------------------------------------------------------------------------


def compute_cycles(flops: ArrayLike, keep_ratio: ArrayLike, flops_per_cycle: ArrayLike) -> Real:
    """Clock cycles to run ``ρ·N`` FLOPs on a chip doing ``c`` FLOPs per cycle: ``ρ·N / c``."""
    return _cycles(_number(flops), _number(keep_ratio), _number(flops_per_cycle))


def compute_delay_s(
    flops: ArrayLike, keep_ratio: ArrayLike, clock_hz: ArrayLike, flops_per_cycle: ArrayLike
) -> Real:
    """Compute delay ``t_I = ρ·N / (f·c)`` in seconds; zero when there is nothing to compute."""
    return _ratio_or_zero(compute_cycles(flops, keep_ratio, flops_per_cycle), _number(clock_hz))


def compute_power_w(clock_hz: ArrayLike, power_coeff_w_per_hz3: ArrayLike, pue: ArrayLike) -> Real:
    """Power drawn at clock ``f``: ``η·φ·f³`` in watts (``η`` = PUE, ``φ`` in W/(cycle/s)³)."""
    return _number(pue) * _number(power_coeff_w_per_hz3) * _number(clock_hz) ** 3


def compute_energy_j(
    flops: ArrayLike,
    keep_ratio: ArrayLike,
    clock_hz: ArrayLike,
    flops_per_cycle: ArrayLike,
    power_coeff_w_per_hz3: ArrayLike,
    pue: ArrayLike,
) -> Real:
    """Compute energy ``e_I = η·φ·f²·(ρ·N / c)`` in joules (power × delay)."""
    return _energy(
        _number(flops),
        _number(keep_ratio),
        _number(clock_hz),
        _number(flops_per_cycle),
        _number(power_coeff_w_per_hz3),
        _number(pue),
    )


def compute_cost_float(
    flops: float,
    keep_ratio: float,
    clock_hz: float,
    flops_per_cycle: float,
    power_coeff_w_per_hz3: float,
    pue: float,
) -> tuple[float, float]:
    """:func:`compute_cost` for plain floats only, without argument conversion.

    The engine calls it twice per request; the conversions of :func:`compute_cost` would
    double its cost. Same formulas as ``_cycles`` and ``_energy`` (eqs. 10-13).
    """
    cycles = keep_ratio * flops / flops_per_cycle
    delay_s = cycles / clock_hz if cycles > 0.0 else 0.0
    return delay_s, pue * power_coeff_w_per_hz3 * clock_hz**2 * cycles


def compute_cost(
    flops: ArrayLike,
    keep_ratio: ArrayLike,
    clock_hz: ArrayLike,
    flops_per_cycle: ArrayLike,
    power_coeff_w_per_hz3: ArrayLike,
    pue: ArrayLike,
) -> tuple[float | np.ndarray, float | np.ndarray]:
    """``(compute_delay_s, compute_energy_j)`` of one side in one call (the engine's hot path)."""
    n, rho, f, c = _number(flops), _number(keep_ratio), _number(clock_hz), _number(flops_per_cycle)
    return (
        _ratio_or_zero(_cycles(n, rho, c), f),
        _energy(n, rho, f, c, _number(power_coeff_w_per_hz3), _number(pue)),
    )


class CoInferenceCost(NamedTuple):
    """Latency and energy of one request, broken down by stage (paper section 4).

    Every field is a float for plain-number inputs and a numpy array otherwise (an immutable
    named tuple: cheap to build once per request). ``latency_s`` is the sum of the three
    delays and ``energy_j`` the sum of the three energies, server included; ``device_energy_j``
    is what the device's battery pays (its compute plus its upload).
    """

    device_compute_s: Real
    upload_s: Real
    server_compute_s: Real
    device_compute_j: Real
    upload_j: Real
    server_compute_j: Real
    rate_bps: Real

    @property
    def latency_s(self) -> Real:
        """End-to-end latency ``T = t_I + t_U + t̃_I`` in seconds."""
        return self.device_compute_s + self.upload_s + self.server_compute_s

    @property
    def energy_j(self) -> Real:
        """Total energy ``E = e_I + e_U + ẽ_I`` in joules, server included (the paper's E)."""
        return self.device_compute_j + self.upload_j + self.server_compute_j

    @property
    def device_energy_j(self) -> Real:
        """Energy paid by the device alone, ``e_I + e_U``, in joules."""
        return self.device_compute_j + self.upload_j


def co_inference_cost(
    *,
    device_flops: ArrayLike,
    server_flops: ArrayLike,
    payload_bits: ArrayLike,
    rho_device: ArrayLike,
    rho_server: ArrayLike,
    tx_power_w: ArrayLike,
    f_device_hz: ArrayLike,
    f_server_hz: ArrayLike,
    gain: ArrayLike,
    bandwidth_hz: ArrayLike,
    noise_psd_w_per_hz: ArrayLike,
    device_flops_per_cycle: ArrayLike,
    device_power_coeff: ArrayLike,
    device_pue: ArrayLike,
    server_flops_per_cycle: ArrayLike,
    server_power_coeff: ArrayLike,
    server_pue: ArrayLike,
) -> CoInferenceCost:
    """Latency and energy of one split request under the reference model.

    ``device_flops`` (``N``) and ``server_flops`` (``Ñ``) are the unpruned FLOPs of each side at
    the chosen split; ``payload_bits`` (``θ``) the activation uploaded. The stages run one after
    another: device compute, upload, server compute.
    """
    n_d, n_s, theta = _number(device_flops), _number(server_flops), _number(payload_bits)
    rho, rho_s, p = _number(rho_device), _number(rho_server), _number(tx_power_w)
    f, f_s = _number(f_device_hz), _number(f_server_hz)
    c, phi, eta = (
        _number(device_flops_per_cycle),
        _number(device_power_coeff),
        _number(device_pue),
    )
    c_s, phi_s, eta_s = (
        _number(server_flops_per_cycle),
        _number(server_power_coeff),
        _number(server_pue),
    )
    rate = _rate(p, _number(gain), _number(bandwidth_hz), _number(noise_psd_w_per_hz))
    upload_s = _ratio_or_zero(theta, rate)
    return CoInferenceCost(
        device_compute_s=_ratio_or_zero(_cycles(n_d, rho, c), f),
        upload_s=upload_s,
        server_compute_s=_ratio_or_zero(_cycles(n_s, rho_s, c_s), f_s),
        device_compute_j=_energy(n_d, rho, f, c, phi, eta),
        upload_j=p * upload_s,
        server_compute_j=_energy(n_s, rho_s, f_s, c_s, phi_s, eta_s),
        rate_bps=rate,
    )


# --------------------------------------------------------------------------------------------
# Distortion (paper section III, eq. 41)
# --------------------------------------------------------------------------------------------


def kept_parameters(
    rho_device: ArrayLike, rho_server: ArrayLike, device_params: ArrayLike, server_params: ArrayLike
) -> Real:
    """Number of parameters kept after pruning, ``ρ·q + ρ̃·s``."""
    return _number(rho_device) * _number(device_params) + _number(rho_server) * _number(
        server_params
    )


def log2_distortion_bound(
    kept_params: ArrayLike,
    total_params: ArrayLike,
    weight_bits: ArrayLike = 32,
    entropy_bits_per_param: ArrayLike = -2.70,
) -> Real:
    """``log2`` of the exact rate–distortion bound ``D̂`` (see :func:`distortion_bound`).

    Computed in log space with ``lgamma`` (``scipy.special.gammaln``) because ``n`` is ~1e8 and
    ``Γ(n)`` overflows any float.
    """
    n = _number(total_params)
    rate_bits = _number(kept_params) * _number(weight_bits)
    entropy_bits = n * _number(entropy_bits_per_param)
    lgamma = math.lgamma if type(n) is float else gammaln
    log2_gamma_ratio = (lgamma(n / 2.0) - _LN2 - lgamma(n)) / _LN2
    return _log2(n) - _LOG2_SQRT_PI_E - (rate_bits - entropy_bits) / n + log2_gamma_ratio / n


@overload
def distortion_bound(
    kept_params: float,
    total_params: float,
    weight_bits: float = 32,
    entropy_bits_per_param: float = -2.70,
) -> float: ...
@overload
def distortion_bound(
    kept_params: ArrayLike,
    total_params: ArrayLike,
    weight_bits: ArrayLike = 32,
    entropy_bits_per_param: ArrayLike = -2.70,
) -> Real: ...
def distortion_bound(
    kept_params: ArrayLike,
    total_params: ArrayLike,
    weight_bits: ArrayLike = 32,
    entropy_bits_per_param: ArrayLike = -2.70,
) -> Real:
    """Rate–distortion lower bound on the parameter distortion (paper eq. 41), exact form.

    ``D̂ = (n/sqrt(π·e)) · 2^(−(R − h)/n) · (Γ(n/2) / (2·Γ(n)))^(1/n)`` with ``n`` the total
    parameter count, ``R = kept·b`` the bits kept after pruning (``b = weight_bits``) and
    ``h = n·entropy_bits_per_param`` the differential entropy of the weights in bits.

    The paper prints ``sqrt(π·e)``; a re-derivation of its Lemma 4.2 gives ``e·sqrt(π)``, a
    constant factor ``sqrt(e)`` that moves no decision. We follow the printed form.
    """
    return 2.0 ** log2_distortion_bound(
        kept_params, total_params, weight_bits, entropy_bits_per_param
    )


def distortion_bound_per_side(
    rho_device: float,
    rho_server: float,
    device_params: float,
    server_params: float,
    weight_bits_device: float,
    weight_bits_server: float,
    entropy_bits_per_param: float = -2.70,
) -> float:
    """:func:`distortion_bound` with each side's weights stored at its own width (issue 21).

    The bound's rate is the bits kept, ``R = ρ·q·b_d + ρ̃·s·b_s`` (with ``b_d = b_s = b`` it is
    the paper's ``kept·b``); the rest of eq. 41 is unchanged, ``n = q + s``. Plain floats (the
    engine and the policies call it once per quantized decision).
    """
    n = device_params + server_params
    rate_bits = rho_device * device_params * weight_bits_device + (
        rho_server * server_params * weight_bits_server
    )
    entropy_bits = n * entropy_bits_per_param
    log2_gamma_ratio = (math.lgamma(n / 2.0) - _LN2 - math.lgamma(n)) / _LN2
    log2_bound = math.log2(n) - _LOG2_SQRT_PI_E - (rate_bits - entropy_bits) / n
    return float(2.0 ** (log2_bound + log2_gamma_ratio / n))


def distortion_bound_large_n(
    kept_params: ArrayLike,
    total_params: ArrayLike,
    weight_bits: ArrayLike = 32,
    entropy_bits_per_param: ArrayLike = -2.70,
) -> Real:
    """Large-``n`` (Stirling) form of :func:`distortion_bound`.

    ``D̂ ≈ sqrt(n/(2π)) · 2^(h/n − b·ρ_eff)`` with ``ρ_eff = kept/n``; it agrees with the exact
    form to about ``1/n`` relative error in the exponent (4+ digits at ``n = 1e8``).
    """
    n = _array(total_params)
    rho_eff = _array(kept_params) / n
    result: Real = np.sqrt(n / (2.0 * np.pi)) * np.exp2(
        _array(entropy_bits_per_param) - _array(weight_bits) * rho_eff
    )
    return result


def laplace_entropy_bits_per_param(scale: ArrayLike) -> Real:
    """Differential entropy of a Laplace(0, λ) weight in bits: ``log2(2·e·λ)``.

    With standard deviation σ = 0.04 (λ = σ/√2) this gives ≈ −2.70 bit, the project's default.
    """
    return np.log2(2.0 * np.e * _array(scale))


# --------------------------------------------------------------------------------------------
# Path loss: the paper's log-distance model and 3GPP TR 38.901 UMi / UMa
# --------------------------------------------------------------------------------------------


def log_distance_gain(
    distance_m: ArrayLike,
    k0_db: ArrayLike = -30.0,
    reference_distance_m: ArrayLike = 1.0,
    exponent: ArrayLike = 2.8,
) -> Real:
    """The paper's deterministic path-loss gain ``g = K0·(d/d0)^(−α)`` (linear).

    Defaults are the paper's: ``K0 = −30 dB`` at ``d0 = 1 m`` and ``α = 2.8``; at 500 m this
    gives ``g ≈ 2.77e-11``.
    """
    k0 = np.power(10.0, _array(k0_db) / 10.0)
    result: Real = k0 * (_array(distance_m) / _array(reference_distance_m)) ** (-_array(exponent))
    return result


def gain_from_pathloss_db(pathloss_db: ArrayLike) -> Real:
    """Linear power gain from a path loss in dB: ``g = 10^(−PL/10)``."""
    return np.power(10.0, -_array(pathloss_db) / 10.0)


Scenario38901 = Literal["umi", "uma"]

#: Default base-station antenna heights of TR 38.901 Table 7.4.1-1 (m).
DEFAULT_BS_HEIGHT_M: dict[str, float] = {"umi": 10.0, "uma": 25.0}
#: Shadow-fading standard deviations of TR 38.901 Table 7.4.1-1 (dB), by (scenario, LOS).
SHADOWING_STD_DB: dict[tuple[str, bool], float] = {
    ("umi", True): 4.0,
    ("umi", False): 7.82,
    ("uma", True): 4.0,
    ("uma", False): 6.0,
}
#: Lower validity limit of the 38.901 UMi/UMa formulas on the 2-D distance (m).
MIN_DISTANCE_2D_M = 10.0
#: Effective environment height ``h_E`` (m) used for the breakpoint distance. TR 38.901 uses 1 m
#: for UMi, and for UMa whenever the UT is at most 13 m high (it draws h_E at random above that;
#: coinfer keeps 1 m, a documented simplification).
ENVIRONMENT_HEIGHT_M = 1.0


def _check_scenario(scenario: str) -> None:
    if scenario not in DEFAULT_BS_HEIGHT_M:
        raise ValueError(f"scenario: got {scenario!r}, expected one of 'umi', 'uma'")


def _distances_3d(
    distance_2d_m: ArrayLike, h_bs_m: float, h_ut_m: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    d2d = np.maximum(_array(distance_2d_m), MIN_DISTANCE_2D_M)
    d3d = np.sqrt(d2d**2 + (h_bs_m - _array(h_ut_m)) ** 2)
    return d2d, d3d


def breakpoint_distance_38901_m(
    carrier_hz: ArrayLike, h_bs_m: ArrayLike, h_ut_m: ArrayLike
) -> Real:
    """Breakpoint distance ``d'_BP = 4·h'_BS·h'_UT·f_c / c`` (m), effective heights ``h − h_E``."""
    result: Real = (
        4.0
        * (_array(h_bs_m) - ENVIRONMENT_HEIGHT_M)
        * (_array(h_ut_m) - ENVIRONMENT_HEIGHT_M)
        * _array(carrier_hz)
        / SPEED_OF_LIGHT_M_PER_S
    )
    return result


def pathloss_38901_db(
    scenario: Scenario38901,
    los: ArrayLike,
    distance_2d_m: ArrayLike,
    carrier_hz: ArrayLike = 3.5e9,
    h_bs_m: float | None = None,
    h_ut_m: ArrayLike = 1.5,
) -> Real:
    """Path loss of 3GPP TR 38.901 V17 Table 7.4.1-1 in dB, UMi-Street Canyon or UMa.

    ``los`` selects the line-of-sight (True) or non-line-of-sight (False) formula per element.
    LOS is the dual-slope model with breakpoint :func:`breakpoint_distance_38901_m`; NLOS is
    ``max(PL_LOS, PL'_NLOS)``. ``carrier_hz`` is the carrier frequency in Hz (the standard's
    formulas take GHz; converted here). Distances below 10 m are clamped to 10 m, the model's
    lower validity limit; beyond 5 km the formulas are extrapolated. Shadowing is not included
    (see :data:`SHADOWING_STD_DB`).
    """
    _check_scenario(scenario)
    h_bs = DEFAULT_BS_HEIGHT_M[scenario] if h_bs_m is None else float(h_bs_m)
    h_ut = _array(h_ut_m)
    d2d, d3d = _distances_3d(distance_2d_m, h_bs, h_ut)
    fc_ghz = _array(carrier_hz) / 1e9
    d_bp = breakpoint_distance_38901_m(carrier_hz, h_bs, h_ut)
    if scenario == "umi":
        pl1 = 32.4 + 21.0 * np.log10(d3d) + 20.0 * np.log10(fc_ghz)
        pl2 = (
            32.4
            + 40.0 * np.log10(d3d)
            + 20.0 * np.log10(fc_ghz)
            - 9.5 * np.log10(d_bp**2 + (h_bs - h_ut) ** 2)
        )
        nlos_prime = 35.3 * np.log10(d3d) + 22.4 + 21.3 * np.log10(fc_ghz) - 0.3 * (h_ut - 1.5)
    else:
        pl1 = 28.0 + 22.0 * np.log10(d3d) + 20.0 * np.log10(fc_ghz)
        pl2 = (
            28.0
            + 40.0 * np.log10(d3d)
            + 20.0 * np.log10(fc_ghz)
            - 9.0 * np.log10(d_bp**2 + (h_bs - h_ut) ** 2)
        )
        nlos_prime = 13.54 + 39.08 * np.log10(d3d) + 20.0 * np.log10(fc_ghz) - 0.6 * (h_ut - 1.5)
    pl_los = np.where(d2d <= d_bp, pl1, pl2)
    pl_nlos = np.maximum(pl_los, nlos_prime)
    result: Real = np.where(np.asarray(los, dtype=bool), pl_los, pl_nlos)
    return result


def los_probability_38901(
    scenario: Scenario38901, distance_2d_m: ArrayLike, h_ut_m: ArrayLike = 1.5
) -> Real:
    """Line-of-sight probability of 3GPP TR 38.901 Table 7.4.2-1 (UMi-Street Canyon, UMa).

    UMi: ``1`` up to 18 m, then ``18/d + exp(−d/36)·(1 − 18/d)``. UMa: the same with 63 m, times
    ``1 + C'(h_UT)·(5/4)·(d/100)³·exp(−d/150)`` where ``C' = ((h_UT − 13)/10)^1.5`` above 13 m.
    """
    _check_scenario(scenario)
    d = _array(distance_2d_m)
    safe_d = np.maximum(d, 18.0)
    decay = 36.0 if scenario == "umi" else 63.0
    base = 18.0 / safe_d + np.exp(-safe_d / decay) * (1.0 - 18.0 / safe_d)
    if scenario == "uma":
        h_ut = _array(h_ut_m)
        c_prime = np.where(h_ut <= 13.0, 0.0, (np.maximum(h_ut - 13.0, 0.0) / 10.0) ** 1.5)
        base = base * (1.0 + c_prime * 1.25 * (safe_d / 100.0) ** 3 * np.exp(-safe_d / 150.0))
    return np.where(d <= 18.0, 1.0, base)


def mean_gain_38901(
    scenario: Scenario38901,
    distance_2d_m: ArrayLike,
    carrier_hz: ArrayLike = 3.5e9,
    h_bs_m: float | None = None,
    h_ut_m: ArrayLike = 1.5,
) -> Real:
    """Linear gain averaged over the LOS state: ``P_LOS·g_LOS + (1 − P_LOS)·g_NLOS``.

    Shadowing is excluded (its mean linear factor depends on the draw law; add it separately).
    """
    p_los = los_probability_38901(scenario, distance_2d_m, h_ut_m)
    g_los = gain_from_pathloss_db(
        pathloss_38901_db(scenario, True, distance_2d_m, carrier_hz, h_bs_m, h_ut_m)
    )
    g_nlos = gain_from_pathloss_db(
        pathloss_38901_db(scenario, False, distance_2d_m, carrier_hz, h_bs_m, h_ut_m)
    )
    return p_los * g_los + (1.0 - p_los) * g_nlos
