"""Compact models in the engine: the model and bit widths a request runs with (issue 21).

A decision that leaves every width at 0 and names no other model runs the device's own model at
its own precision: the engine takes its usual path and nothing here is called, so such runs are
unchanged to the bit. Otherwise :func:`resolve` gives the request a :class:`CompactRun`: the
profile that runs (the device's model, or a student of its family), the resolved widths and the
trace's model code. ``docs/compact-models.md`` describes the effects; the formulas are in
:mod:`coinfer.emulator.model.quantization` and :mod:`coinfer.emulator.model.reference`.
"""

from __future__ import annotations

from typing import NamedTuple

from coinfer.emulator.compiled import use_compiled
from coinfer.emulator.model.families import member_profile
from coinfer.emulator.model.profiles import ModelProfile
from coinfer.emulator.model.quantization import Bits, native_bits, resolve_bits
from coinfer.emulator.model.reference import distortion_bound, distortion_bound_per_side
from coinfer.policies.base import Decision

use_compiled(__name__, __file__)  # its compiled build, if built from this source


class CompactRun(NamedTuple):
    """What a quantized or distilled request runs: its model, its widths, its model code."""

    model: ModelProfile
    bits: Bits
    model_code: int


def is_compact(decision: Decision) -> bool:
    """Whether ``decision`` quantizes anything or names another model."""
    return bool(
        decision.model
        or decision.weight_bits_device
        or decision.weight_bits_server
        or decision.payload_bits_per_value
        or decision.kv_cache_bits
    )


def resolve(decision: Decision, model: ModelProfile, model_codes: dict[str, int]) -> CompactRun:
    """The model and widths of a (checked) compact ``decision`` on a device running ``model``;
    ``model_codes`` maps the names of the models the run may use to their trace codes."""
    if decision.model and decision.model != model.name:
        model = member_profile(model, decision.model)
    bits = resolve_bits(
        model,
        decision.weight_bits_device,
        decision.weight_bits_server,
        decision.payload_bits_per_value,
        decision.kv_cache_bits,
    )
    return CompactRun(model, bits, model_codes[model.name])


def compact_distortion(run: CompactRun, decision: Decision) -> float:
    """The distortion bound of ``decision`` on the model it runs, each side at its width (the
    paper's form, to the bit, when both sides keep the model's own width)."""
    model, bits, split = run.model, run.bits, decision.split
    table = model.split_table
    if bits.weight_bits_device == bits.weight_bits_server:
        kept = (
            decision.rho_device * table.device_params[split]
            + decision.rho_server * table.server_params[split]
        )
        return distortion_bound(
            float(kept),
            model.total_params,
            float(bits.weight_bits_device),
            model.entropy_bits_per_param,
        )
    return distortion_bound_per_side(
        decision.rho_device,
        decision.rho_server,
        table.device_params[split],
        table.server_params[split],
        bits.weight_bits_device,
        bits.weight_bits_server,
        model.entropy_bits_per_param,
    )


def native_columns(model: ModelProfile) -> Bits:
    """The widths the trace shows for a request that quantizes nothing."""
    return native_bits(model)
