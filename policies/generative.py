"""Deciding generative requests: where they run, and what they cost alone.

A generative request (``context.generative``: a prompt of ``context.prompt_tokens`` tokens and
``context.output_tokens`` tokens to generate) has its steps timed by the step-time models
(``docs/step-time.md``), not by the clock model of one-pass requests; the engine honours the
decision's kept fractions and device clock (``docs/generative.md``). The policies here run it
unpruned at the top clocks, transmitting at the device's top power (``fixed`` at its own
values), and decide the mode, and for a split the layer; :class:`GenerativePlanner` makes the
decision for a given split. The optimiser that chooses all of them under TTFT, TPOT and energy
budgets is :mod:`coinfer.policies.generative_joint`. The policies that fix them:

* ``on-device`` and ``on-server`` (:mod:`coinfer.policies.baselines`, the paper's baselines of
  the same names, which still optimise one-pass requests) put a generative request wholly on
  the device (split at the last point) or on the server (split 0);
* ``split`` (:mod:`coinfer.policies.split`) cuts every request after block ``layer``;
* ``fixed`` (:mod:`coinfer.policies.fixed`) at its ``split``.

A decision predicts what the request would cost alone (no queue, no other upload, a batch of one
on the server, the rate of the band it would get now, no downlink):
:func:`~coinfer.emulator.model.generative.solo_timeline` with the roofline model on both sides.
"""

from __future__ import annotations

from coinfer.emulator.compiled import use_compiled
from coinfer.emulator.model.generative import solo_timeline
from coinfer.emulator.model.profiles import ModelProfile
from coinfer.emulator.model.reference import distortion_bound, shannon_rate_bps
from coinfer.emulator.model.step_costs import SideCosts
from coinfer.emulator.model.step_time import StepTimeModelBase, make_step_time_model
from coinfer.emulator.records import build, inline_builds
from coinfer.policies.base import Decision, PolicyContext

use_compiled(__name__, __file__)  # its compiled build, if built from this source


class SplitSides:
    """The device and server sides of each split of a model, made once (per model and split)."""

    def __init__(self) -> None:
        self._sides: dict[tuple[str, int], tuple[SideCosts, SideCosts]] = {}

    def get(self, model: ModelProfile, split: int) -> tuple[SideCosts, SideCosts]:
        """The device and server sides of ``split``."""
        key = (model.name, split)
        sides = self._sides.get(key)
        if sides is None:
            sides = self._sides[key] = (
                SideCosts.for_split(model, split, "device"),
                SideCosts.for_split(model, split, "server"),
            )
        return sides


class GenerativePlanner:
    """Decisions for generative requests at a given split, with their predicted cost alone."""

    def __init__(self) -> None:
        self._roofline: StepTimeModelBase = make_step_time_model("roofline")
        self._sides = SplitSides()

    @inline_builds  # the decision, built by name, compiled to a tuple
    def decide(
        self,
        context: PolicyContext,
        split: int,
        mode: str,
        rho_device: float = 1.0,
        rho_server: float = 1.0,
        tx_power_w: float | None = None,
        f_device_hz: float | None = None,
    ) -> Decision:
        """Run the generative request of ``context`` at ``split`` (``mode`` as the split says)
        with the kept fractions, power and device clock given (defaults: unpruned, the top
        power and clock; the server runs at its top clock); predict its latency (arrival to
        last token) and energy alone."""
        device, server, model = context.device, context.server, context.model
        p = device.max_tx_power_w if tx_power_w is None else tx_power_w
        assert p is not None
        f = device.f_max_hz if f_device_hz is None else f_device_hz
        last = model.last_split
        latency = energy = 0.0
        if 0 <= split <= last:
            rate = (
                shannon_rate_bps(p, context.gain, context.bandwidth_hz, context.noise_psd_w_per_hz)
                if context.link is None  # the cell's link model (None: Shannon)
                else context.link.rate_bps(
                    p, context.gain, context.bandwidth_hz, context.noise_psd_w_per_hz
                )
            )
            timeline = solo_timeline(
                model,
                split,
                context.prompt_tokens,
                context.output_tokens,
                device=device,
                server=server,
                device_model=self._roofline,
                server_model=self._roofline,
                uplink_rate_bps=rate,
                tx_power_w=p,
                downlink_rate_bps=None,
                sides=self._sides.get(model, split),
                rho_device=rho_device,
                rho_server=rho_server,
                device_clock_fraction=min(f / device.f_max_hz, 1.0),
            )
            latency = timeline.e2e_s + (context.device_backlog_s if split > 0 else 0.0)
            energy = timeline.device_energy_j + timeline.server_energy_j
        kept = model.total_params
        if 0 <= split <= last and (rho_device, rho_server) != (1.0, 1.0):
            table = model.split_table
            kept = float(
                rho_device * table.device_params[split] + rho_server * table.server_params[split]
            )
        distortion = float(
            distortion_bound(
                kept,
                model.total_params,
                float(model.weight_bits),
                model.entropy_bits_per_param,
            )
        )
        feasible = latency <= context.deadline_s and energy <= context.energy_budget_j
        decision: Decision = build(
            Decision,
            split=split,
            rho_device=rho_device,
            rho_server=rho_server,
            tx_power_w=p,
            f_device_hz=f,
            f_server_hz=server.f_max_hz,
            predicted_latency_s=latency,
            predicted_energy_j=energy,
            predicted_distortion=distortion,
            feasible=bool(feasible),
            admit=True,
            mode=mode,
            weight_bits_device=0,
            weight_bits_server=0,
            payload_bits_per_value=0,
            kv_cache_bits=0,
            model="",
        )
        return decision
