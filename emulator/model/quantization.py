"""Quantization as a decision: bit widths per side and what they change (issue 21).

A decision may store each side's weights at fewer bits than the model's own precision, send the
uploaded activation at fewer bits per value and keep the KV cache at fewer bits. Each width is a
field of :class:`~coinfer.policies.base.Decision` (``weight_bits_device``,
``weight_bits_server``, ``payload_bits_per_value``, ``kv_cache_bits``); ``0`` means the model's
own precision (its profile's ``weight_bits`` or ``activation_bits``), which leaves every result
exactly as without quantization. What a width changes, each from the reference formulas:

* weight bytes and memory: ``params · b / 8`` B per side (:func:`weight_bytes`);
* the uploaded payload: ``θ(l) · a / a₀`` bit, ``a₀`` the profile's activation bits
  (:func:`scaled_payload_bits`);
* the KV cache: ``a_kv / a₀`` of the profile's bytes per token;
* memory-bound steps (decode): the weight bytes streamed per step fall by ``b / b₀`` in the
  ideal, by ``(b / b₀) / e(b)`` on hardware that reaches only a fraction ``e(b)`` of the ideal
  speed-up (:attr:`HardwareSpec.quantized_decode_efficiency`, fitted to published
  measurements, e.g. INT4 decode of Llama-2-7B on Jetson AGX Orin is 2.70× FP16 in TinyChat's
  table at mit-han-lab/llm-awq commit b76fab62, not 4×);
* compute-bound work (one-pass inference, prefill) is unchanged: weight-only quantization
  dequantizes to the compute precision before the matrix products (Lin et al., AWQ, MLSys 2024,
  sec. 4: W4A16 kernels speed up the memory-bound generation stage);
* the distortion bound (paper eq. 41) counts ``R = ρ·q·b_d + ρ̃·s·b_s`` bits kept, each side at
  its own width (:func:`~coinfer.emulator.model.reference.distortion_bound_per_side`).

Widths outside :data:`STORAGE_BITS`, above the model's own, or (for weights) outside the side's
hardware's ``weight_bits_supported`` are refused, by name, before the request runs
(:func:`bits_problem`). SI units: bits, bytes.
"""

from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

from coinfer.emulator.model.hardware_spec import HardwareSpec
from coinfer.emulator.model.profiles import ModelProfile
from coinfer.emulator.model.step_costs import SideCosts

#: The storage widths a decision may choose, bits per value (weights, payload, KV cache); 32 and
#: 16 are float formats, the others integer formats with per-group scales (not counted).
STORAGE_BITS: tuple[int, ...] = (32, 16, 8, 6, 4, 3, 2)
#: The weight widths the issue names as decisions, bits per weight.
WEIGHT_BITS_CHOICES: tuple[int, ...] = (16, 8, 6, 4, 3, 2)

#: The bit-width fields of a decision, in the order :class:`Bits` holds them.
BIT_FIELDS: tuple[str, ...] = (
    "weight_bits_device",
    "weight_bits_server",
    "payload_bits_per_value",
    "kv_cache_bits",
)


class Bits(NamedTuple):
    """The widths one request runs with, resolved (no ``0``): bits per value."""

    weight_bits_device: int
    weight_bits_server: int
    payload_bits_per_value: int
    kv_cache_bits: int


def native_bits(profile: ModelProfile) -> Bits:
    """The model's own widths: weights at ``weight_bits``, payload and KV at
    ``activation_bits``."""
    return Bits(
        profile.weight_bits, profile.weight_bits, profile.activation_bits, profile.activation_bits
    )


def resolve_bits(
    profile: ModelProfile,
    weight_bits_device: int,
    weight_bits_server: int,
    payload_bits_per_value: int,
    kv_cache_bits: int,
) -> Bits:
    """The widths of a decision with each ``0`` replaced by the model's own."""
    native = native_bits(profile)
    return Bits(
        weight_bits_device or native.weight_bits_device,
        weight_bits_server or native.weight_bits_server,
        payload_bits_per_value or native.payload_bits_per_value,
        kv_cache_bits or native.kv_cache_bits,
    )


def is_native(bits: Bits, profile: ModelProfile) -> bool:
    """Whether ``bits`` are the model's own widths (nothing quantized)."""
    return bits == native_bits(profile)


def bits_problem(
    given: Bits,
    profile: ModelProfile,
    split: int,
    device: HardwareSpec,
    server: HardwareSpec,
) -> str | None:
    """``field=value, expected ...`` for the first width a request cannot use, else None.

    ``given`` holds the decision's fields as given (``0``: the model's own). A width must be one
    of :data:`STORAGE_BITS` and at most the model's own; a side's weight width must be one its
    hardware supports, checked only for a side that holds blocks at ``split``.
    """
    native = native_bits(profile)
    for field, value, own in zip(BIT_FIELDS, given, native, strict=True):
        if value == 0:
            continue
        if value not in STORAGE_BITS or value > own:
            allowed = ", ".join(str(b) for b in STORAGE_BITS if b <= own)
            return (
                f"{field}={value!r}, expected 0 (the model's own {own} bits) or one of "
                f"{allowed} (at most model {profile.name!r}'s {own} bits)"
            )
    sides = (
        ("weight_bits_device", given.weight_bits_device, device, split > 0),
        ("weight_bits_server", given.weight_bits_server, server, split < profile.num_blocks),
    )
    for field, value, hardware, holds_blocks in sides:
        if holds_blocks and value and value not in hardware.weight_bits_supported:
            supported = ", ".join(str(b) for b in hardware.weight_bits_supported)
            return (
                f"{field}={value!r}, expected a weight width hardware class {hardware.name!r} "
                f"supports: {supported}"
            )
    return None


def weight_bytes(params: float, bits: int) -> float:
    """Bytes of ``params`` weights stored at ``bits`` bits each: ``params · bits / 8``."""
    return params * bits / 8.0


def scaled_payload_bits(payload_bits: float, bits: int, own_bits: int) -> float:
    """The uploaded payload at ``bits`` per value instead of ``own_bits``: ``θ · bits / own``
    (``θ`` itself, to the bit, when ``bits == own_bits``)."""
    if bits == own_bits:
        return payload_bits
    return payload_bits * bits / own_bits


def decode_efficiency(hardware: HardwareSpec, bits: int) -> float:
    """The fraction of the ideal weight-streaming speed-up ``hardware`` reaches at ``bits``
    (its ``quantized_decode_efficiency``; 1 for a width it does not list)."""
    return hardware.quantized_decode_efficiency.get(bits, 1.0)


def quantized_side(
    side: SideCosts,
    weight_bits: int,
    kv_cache_bits: int,
    own_activation_bits: int,
    hardware: HardwareSpec,
) -> SideCosts:
    """``side`` (built at the model's own widths) with weights at ``weight_bits`` and the KV
    cache at ``kv_cache_bits``.

    Resident weight bytes scale by ``b / b₀`` (what memory holds); the weight bytes streamed per
    step by ``(b / b₀) / e(b)``, ``e`` the hardware's :func:`decode_efficiency`; the KV bytes of
    a token by ``a_kv / a₀``. FLOPs and activations are unchanged. The model's own widths return
    ``side`` itself.
    """
    own_weight_bits = side.weight_bits
    if weight_bits == own_weight_bits and kv_cache_bits == own_activation_bits:
        return side
    stored = weight_bits / own_weight_bits
    streamed = stored / decode_efficiency(hardware, weight_bits) if stored != 1.0 else 1.0
    kv = kv_cache_bits / own_activation_bits
    return replace(
        side,
        weight_bits=weight_bits,
        weight_bytes_per_step=side.weight_bytes_per_step * streamed,
        weight_bytes_per_token=side.weight_bytes_per_token * streamed,
        resident_weight_bytes=side.resident_weight_bytes * stored,
        kv_bytes_per_token=side.kv_bytes_per_token * kv,
    )


def one_pass_device_bytes(
    profile: ModelProfile, split: int, rho_device: float, bits: Bits, work_scale: float = 1.0
) -> float:
    """Memory the device side of a one-pass request needs, B: its kept weights at their width,
    ``ρ·q(l)·b_d/8``, plus the activation it holds for the upload, ``θ(l)·a/a₀/8`` (work-scaled
    like the payload)."""
    table = profile.split_table
    weights = weight_bytes(rho_device * table.device_params[split], bits.weight_bits_device)
    payload = scaled_payload_bits(
        table.payload_bits[split] * work_scale, bits.payload_bits_per_value, profile.activation_bits
    )
    return weights + payload / 8.0


def model_bytes_device(profile: ModelProfile, split: int, rho_device: float, bits: Bits) -> float:
    """Bytes of the device side's kept weights at their width: ``ρ·q(l)·b_d/8``."""
    return weight_bytes(rho_device * profile.split_table.device_params[split], bits[0])


def memory_warning(profile: ModelProfile, hardware: HardwareSpec) -> str | None:
    """A warning when ``profile``'s weights, whole and unpruned, do not fit ``hardware``'s
    memory at its own width (the smallest width that fits named, if any), else None.

    What ``coinfer validate`` says for each device group: a request of such a group can run
    on the device only pruned, quantized or split.
    """
    memory = hardware.memory_bytes
    own = profile.weight_bits
    if weight_bytes(profile.total_params, own) <= memory:
        return None
    widths = sorted((b for b in hardware.weight_bits_supported if b < own), reverse=True)
    fitting = [b for b in widths if weight_bytes(profile.total_params, b) <= memory]
    gib = 2.0**30
    need = weight_bytes(profile.total_params, own) / gib
    head = (
        f"model {profile.name!r} needs {need:.2f} GiB at its own {own} bits, more than the "
        f"{memory / gib:.2f} GiB of device class {hardware.name!r}"
    )
    if fitting:
        return (
            f"{head}: on the device it fits only quantized to {fitting[0]} bits or fewer, "
            "pruned or split"
        )
    return (
        f"{head}, at every width the class supports ({', '.join(map(str, widths)) or 'none'}): "
        "no unpruned decision fits on the device; only pruned or split decisions can run there"
    )
