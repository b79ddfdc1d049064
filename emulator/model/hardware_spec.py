"""One hardware class (a device or a server): clocks, compute density, energy coefficient, memory.

Kept apart from :mod:`coinfer.emulator.model.hardware` (the catalog) so that the built-in
classes of :mod:`coinfer.emulator.model.hardware_catalog` can be declared without an import cycle.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class HardwareSpec(BaseModel):
    """One device or server class, in SI units."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, description="unique class name, e.g. 'jetson-orin-nano'")
    kind: Literal["device", "server"] = Field(description="which side of the split it runs")
    description: str = Field(default="", description="what the class stands for, one line")
    f_min_hz: float = Field(ge=0, description="lowest selectable clock, Hz")
    f_max_hz: float = Field(gt=0, description="highest selectable clock, Hz")
    flops_per_cycle: float = Field(gt=0, description="FLOPs per clock cycle at full occupancy")
    power_coeff_w_per_hz3: float = Field(
        gt=0, description="chip power coefficient φ: power φ·f³ W at clock f Hz"
    )
    pue: float = Field(default=1.0, ge=1.0, description="power-usage effectiveness η, ≥ 1")
    memory_bandwidth_bytes_per_s: float = Field(gt=0, description="memory bandwidth, bytes/s")
    memory_bytes: float = Field(gt=0, description="memory that can hold weights, bytes")
    max_tx_power_w: float | None = Field(
        default=None, gt=0, description="devices only: maximum uplink transmit power, W"
    )

    @model_validator(mode="after")
    def _check_consistency(self) -> Self:
        if self.f_min_hz > self.f_max_hz:
            raise ValueError(f"f_min_hz ({self.f_min_hz:g}) not above f_max_hz ({self.f_max_hz:g})")
        if self.kind == "device" and self.max_tx_power_w is None:
            raise ValueError("max_tx_power_w is required for a device")
        if self.kind == "server" and self.max_tx_power_w is not None:
            raise ValueError("max_tx_power_w is for devices only; leave it out for a server")
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
