"""One hardware class (a device or a server): clocks, compute density, energy coefficient, memory.

Kept apart from :mod:`coinfer.emulator.model.hardware` (the catalog) so that the built-in
classes of :mod:`coinfer.emulator.model.hardware_catalog` can be declared without an import cycle.

The serving fields (model FLOPs utilisation per phase, bandwidth efficiency, overheads, phase
powers) calibrate the step-time models of generative serving
(:mod:`coinfer.emulator.model.step_time`, ``docs/step-time.md``). Their defaults are the ideal
roofline: the chip delivers its peak ``f_max·c`` FLOP/s (the paper's compute model at the top
clock) and its data-sheet memory bandwidth, with no overhead. Catalog entries override them with
calibrated values, each with its source.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import ConfigDict, Field, model_validator

from coinfer.emulator.inputs import InputModel

ServingPhase = Literal["idle", "prefill", "decode"]


class HardwareSpec(InputModel):
    """One device or server class, in SI units."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, description="unique class name, e.g. 'jetson-orin-nano'")
    kind: Literal["device", "server"] = Field(description="which side of the split it runs")
    description: str = Field(default="", description="what the class stands for, one line")
    f_min_hz: float = Field(ge=0, le=1e12, description="lowest selectable clock, Hz")
    f_max_hz: float = Field(gt=0, le=1e12, description="highest selectable clock, Hz (≤ 1e12)")
    flops_per_cycle: float = Field(
        gt=0, le=1e9, description="FLOPs per clock cycle at full occupancy"
    )
    power_coeff_w_per_hz3: float = Field(
        gt=0, description="chip power coefficient φ: power φ·f³ W at clock f Hz"
    )
    pue: float = Field(
        default=1.0, ge=1.0, le=10.0, description="power-usage effectiveness η, 1..10"
    )
    memory_bandwidth_bytes_per_s: float = Field(
        gt=0, le=1e15, description="memory bandwidth, bytes/s"
    )
    memory_bytes: float = Field(gt=0, le=1e15, description="memory that can hold weights, bytes")
    max_tx_power_w: float | None = Field(
        default=None, gt=0, le=1e3, description="devices only: maximum uplink transmit power, W"
    )
    mfu_prefill: float = Field(
        default=1.0,
        gt=0,
        le=1,
        description="model FLOPs utilisation of prefill work: achieved / peak FLOP/s, in (0, 1] "
        "(default 1, the ideal roofline; published serving values 0.3-0.76)",
    )
    mfu_decode: float = Field(
        default=1.0,
        gt=0,
        le=1,
        description="model FLOPs utilisation of decode work (small-M matrix products), in (0, 1] "
        "(default 1, the ideal roofline)",
    )
    bandwidth_efficiency: float = Field(
        default=1.0,
        gt=0,
        le=1,
        description="achieved / data-sheet memory bandwidth when streaming weights and KV cache, "
        "in (0, 1] (default 1, the ideal roofline; measured 0.7-0.9)",
    )
    step_overhead_s: float = Field(
        default=0.0,
        ge=0,
        description="fixed time per serving step (scheduling, sampling, launches), s (default 0)",
    )
    layer_overhead_s: float = Field(
        default=0.0,
        ge=0,
        description="fixed time per block run in a step (kernel launches), s (default 0)",
    )
    idle_power_w: float | None = Field(
        default=None,
        ge=0,
        description="chip power with nothing to run, W (default: 0, the paper charges no idle "
        "energy)",
    )
    prefill_power_w: float | None = Field(
        default=None,
        gt=0,
        description="chip power during prefill steps, W (default: φ·f_max³, the power at the top "
        "clock)",
    )
    decode_power_w: float | None = Field(
        default=None,
        gt=0,
        description="chip power during decode-only steps, W (default: φ·f_max³, the power at the "
        "top clock)",
    )

    weight_bits_supported: tuple[int, ...] = Field(
        default=(32, 16, 8, 6, 4, 3, 2),
        description="weight bit widths the class has kernels for (issue 21, docs/compact-models.md"
        "); a decision storing this side's weights at another width is refused (default: every "
        "width, the ideal hardware)",
    )
    quantized_decode_efficiency: dict[int, float] = Field(
        default_factory=dict,
        description="per weight bit width, the fraction of the ideal weight-streaming speed-up a "
        "memory-bound step achieves (dequantisation and scales cost the rest), in (0, 1]; a "
        "width not listed: 1 (ideal)",
    )

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        if self.f_min_hz > self.f_max_hz:
            raise ValueError(f"f_min_hz ({self.f_min_hz:g}) not above f_max_hz ({self.f_max_hz:g})")
        if self.kind == "device" and self.max_tx_power_w is None:
            raise ValueError("max_tx_power_w is required for a device")
        if self.kind == "server" and self.max_tx_power_w is not None:
            raise ValueError("max_tx_power_w is for devices only; leave it out for a server")
        if not self.weight_bits_supported or not all(
            1 <= b <= 64 for b in self.weight_bits_supported
        ):
            raise ValueError(
                f"weight_bits_supported: got {list(self.weight_bits_supported)}, expected a "
                "non-empty list of bit widths in 1..64"
            )
        for bits, efficiency in self.quantized_decode_efficiency.items():
            if not 0.0 < efficiency <= 1.0:
                raise ValueError(
                    f"quantized_decode_efficiency[{bits}]: got {efficiency}, expected a "
                    "fraction in (0, 1]"
                )
        return self

    @property
    def peak_flops_per_s(self) -> float:
        """Throughput at the top clock, FLOP/s."""
        return self.f_max_hz * self.flops_per_cycle

    def power_w(self, f_hz: float) -> float:
        """Facility power at clock ``f_hz``: ``η·φ·f³`` W."""
        return self.pue * self.power_coeff_w_per_hz3 * f_hz**3

    def energy_per_flop_j(self, f_hz: float) -> float:
        """Energy per FLOP at clock ``f_hz``: ``η·φ·f²/c`` J."""
        return self.pue * self.power_coeff_w_per_hz3 * f_hz**2 / self.flops_per_cycle

    def phase_power_w(self, phase: ServingPhase) -> float:
        """Chip power in a serving phase, W (facility power is ``pue`` times this).

        The phase's field when given; otherwise 0 W when idle and ``φ·f_max³`` (the chip at its
        top clock, the TDP the catalog fits φ to) when running prefill or decode steps.
        """
        value = {
            "idle": self.idle_power_w,
            "prefill": self.prefill_power_w,
            "decode": self.decode_power_w,
        }[phase]
        if value is not None:
            return value
        if phase == "idle":
            return 0.0
        return self.power_coeff_w_per_hz3 * self.f_max_hz**3
