"""Closed forms of a generative request on a split model: what crosses the link, and the
timeline of a request served alone.

A decoder profile is built for a pass of ``S`` tokens (its ``sequence_length``): its raw input
``θ(0)`` is the ``S`` token ids and block ``l``'s output activation ``θ(l)`` is ``S`` hidden
vectors. Per token, then:

* a token id is ``θ(0)/S`` bits (:func:`token_id_bits`): what the device uploads per prompt
  token in ``on-server`` mode and what comes back on the downlink per output token;
* a hidden vector at split ``l`` is ``θ(l)/S`` bits (:func:`hidden_bits_per_token`): what the
  device uploads per prompt token and per decode step in ``split`` mode.

:func:`solo_timeline` gives the time and energy of a request that is alone everywhere (no queue,
no other upload, a batch of one on the server, a constant link rate): the engine's bridge to
theory, and what the generative policies predict with. Both the engine and the policies call
the step-time model's :meth:`~coinfer.emulator.model.step_time.StepTimeModelBase.solo_step_times_s`.

Token accounting (as the batching schedulers'): the prefill of the ``P`` prompt tokens emits the
first output token; decode ``j`` (``j = 1 .. O−1``) processes output token ``j`` over
``P + j − 1`` cached tokens and emits token ``j + 1``; the last token is never processed, so
the KV cache peaks at ``P + O − 1`` tokens. SI units: seconds, bits, joules.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from coinfer.emulator.model.hardware_spec import HardwareSpec
from coinfer.emulator.model.profiles import ModelProfile
from coinfer.emulator.model.step_costs import SideCosts
from coinfer.emulator.model.step_time import StepTimeModelBase, clocked_phase_power_w


def token_id_bits(profile: ModelProfile) -> float:
    """Bits of one token id: the raw input ``θ(0)`` over the profile's tokens per pass."""
    return profile.input_bits / _tokens_per_pass(profile)


def hidden_bits_per_token(profile: ModelProfile, split: int) -> float:
    """Bits the device uploads per token at split ``split``: a token id at 0, block ``split``'s
    hidden vector in between, nothing fully on the device."""
    profile.check_split(split)
    if split == 0:
        return token_id_bits(profile)
    return float(profile.payload_bits[split]) / _tokens_per_pass(profile)


def _tokens_per_pass(profile: ModelProfile) -> int:
    if not profile.sequence_length:
        raise ValueError(
            f"model {profile.name!r} has no sequence length; expected a text model whose "
            "activations are per token"
        )
    return profile.sequence_length


def solo_step_inputs(
    prompt_tokens: int, output_tokens: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(new_tokens, cached_tokens, is_prefill)`` of the ``output_tokens`` steps of a request
    alone: its prefill, then ``output_tokens − 1`` decodes."""
    if prompt_tokens < 1 or output_tokens < 1:
        raise ValueError(
            f"prompt_tokens, output_tokens: got {prompt_tokens}, {output_tokens}; expected >= 1"
        )
    new = np.ones(output_tokens, dtype=np.int64)
    new[0] = prompt_tokens
    cached = np.arange(prompt_tokens - 1, prompt_tokens + output_tokens - 1, dtype=np.int64)
    cached[0] = 0
    prefill = np.zeros(output_tokens, dtype=bool)
    prefill[0] = True
    return new, cached, prefill


@dataclass(frozen=True)
class SoloTimeline:
    """A generative request served alone (see :func:`solo_timeline`): token times from its
    arrival and its energy."""

    token_times_s: np.ndarray  #: when each output token reaches the device, from the arrival, s
    device_energy_j: float  #: device compute and upload energy, J
    server_energy_j: float  #: server energy, J

    @property
    def ttft_s(self) -> float:
        """Time to the first token, s."""
        return float(self.token_times_s[0])

    @property
    def e2e_s(self) -> float:
        """Time to the last token, s."""
        return float(self.token_times_s[-1])


def solo_timeline(
    profile: ModelProfile,
    split: int,
    prompt_tokens: int,
    output_tokens: int,
    *,
    device: HardwareSpec,
    server: HardwareSpec,
    device_model: StepTimeModelBase,
    server_model: StepTimeModelBase,
    uplink_rate_bps: float,
    tx_power_w: float,
    downlink_rate_bps: float | None,
    sides: tuple[SideCosts, SideCosts] | None = None,
    rho_device: float = 1.0,
    rho_server: float = 1.0,
    device_clock_fraction: float = 1.0,
) -> SoloTimeline:
    """The timeline of one request with nothing else in the system, in the engine's order.

    Every token's chain: device steps (its layers ``1..split``), the upload at
    ``uplink_rate_bps`` (then the device draws ``tx_power_w``), the server's steps (layers
    ``split+1..L``, a batch of one), the token id back at ``downlink_rate_bps`` (None: no
    downlink, instant). Fully on the device (the last split) the steps follow one another
    there; on the server (split 0) the prompt's ids go up once and every token comes back on
    its own. Energies are phase power × step time (``docs/generative.md``). ``sides``: the
    split's ``(device, server)`` :class:`SideCosts`, if already made (else made here), unpruned.

    ``rho_device``, ``rho_server``: the kept fractions of each side's parameters
    (:meth:`SideCosts.pruned`; alone on the server, a request is the widest member of its
    batch); ``device_clock_fraction``: the device's clock over its top, ``f/f_max``, which
    slows its compute term and scales the dynamic part of its phase powers by ``(f/f_max)³``
    (:func:`~coinfer.emulator.model.step_time.clocked_phase_power_w`). The server runs at its
    top clock.
    """
    last = profile.last_split
    new, cached, prefill = solo_step_inputs(prompt_tokens, output_tokens)
    down_s = 0.0 if downlink_rate_bps is None else token_id_bits(profile) / downlink_rate_bps
    up_bits = hidden_bits_per_token(profile, split) if split < last else 0.0
    if sides is None:
        sides = (
            SideCosts.for_split(profile, split, "device"),
            SideCosts.for_split(profile, split, "server"),
        )
    device_side, server_side = sides[0].pruned(rho_device), sides[1].pruned(rho_server)
    clock = device_clock_fraction
    if split > 0:
        device_steps = device_model.solo_step_times_s(
            new, cached, prefill, device_side, device, clock
        )
    else:
        device_steps = np.zeros(output_tokens)
    if split < last:
        server_steps = server_model.solo_step_times_s(new, cached, prefill, server_side, server)
    else:
        server_steps = np.zeros(output_tokens)
    device_j = float(
        device.pue
        * (
            clocked_phase_power_w(device, "prefill", clock) * device_steps[0]
            + clocked_phase_power_w(device, "decode", clock) * device_steps[1:].sum()
        )
    )
    server_j = float(
        server.pue
        * (
            server.phase_power_w("prefill") * server_steps[0]
            + server.phase_power_w("decode") * server_steps[1:].sum()
        )
    )
    times = np.empty(output_tokens)
    if split >= last:  # on the device: its steps back to back
        t = 0.0
        for k in range(output_tokens):
            t = t + device_steps[k]
            times[k] = t
        return SoloTimeline(times, device_j, 0.0)
    t = 0.0
    if split == 0:
        up_s = prompt_tokens * up_bits / uplink_rate_bps
        t = t + up_s
        device_j += tx_power_w * up_s
        for k in range(output_tokens):
            t = t + server_steps[k]
            times[k] = t + down_s
        return SoloTimeline(times, device_j, server_j)
    for k in range(output_tokens):  # split: every token crosses device, uplink and server
        bits = prompt_tokens * up_bits if k == 0 else up_bits
        up_s = bits / uplink_rate_bps
        device_j += tx_power_w * up_s
        t = t + device_steps[k]
        t = t + up_s
        t = t + server_steps[k]
        times[k] = t + down_s
        t = times[k]
    return SoloTimeline(times, device_j, server_j)
