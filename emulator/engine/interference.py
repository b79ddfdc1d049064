"""Inter-cell interference: an upload's SINR counts the other cells' concurrent uploads.

With ``channel.interference`` set, the access point of cell ``c`` hears every upload ``j`` on
air in another cell of the same sub-band with power ``p_j·g_j,c`` (its transmit power times the
mean gain of its device to this access point, from the topology's radio links). Spread over
the band ``B_c`` (a scheduler places the interferer's PRBs anywhere in the band), this raises
the noise PSD of the cell to::

    N0'_c = N0_c + Σ_j p_j·g_j,c / B_c

so an upload of power ``p`` and gain ``g`` on the share ``b`` of the band has the SINR
``p·g / (b·N0'_c)``; with one upload per cell, each on its whole band,
``SINR_1 = p_1·g_11 / (B·N0 + p_2·g_21)``.

The interference changes only when an upload starts or leaves the air, so it costs no event of
its own: at each such change every other cell of the sub-band has its uploads brought up to
now at the old SINR and re-rated at the new one (:meth:`PsUplink.set_noise`; under
``pf-window``, from the next TTI boundary), as processor sharing does when its own uploads
come and go. Cells are given sub-bands ``index mod reuse_factor``; cells of different sub-bands
do not interfere.

What is left out: the interference links are not faded (their mean gain is used), devices hear
only the access points their topology links them to (``radio_range_m``), and a re-sent block
(HARQ) interferes only through the air time the link model already counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from coinfer.emulator.compiled import use_compiled
from coinfer.emulator.deployment.spec import DeviceSpec
from coinfer.emulator.engine.pf_window import PfWindowUplink
from coinfer.emulator.engine.uplink import PsUplink, Uplink
from coinfer.emulator.errors import InputError

use_compiled(__name__, __file__)  # its compiled build, if built from this source


class Interference:
    """Keeps each cell's noise-plus-interference PSD up to date (see the module docstring).

    ``uplinks``: the run's uplinks by cell index; ``devices``: the deployment's devices (their
    ``cross_gains`` to other cells' access points); ``reuse_factor``: number of sub-bands.
    Registers itself as the listener of every uplink.
    """

    def __init__(
        self, uplinks: Sequence[Any], devices: Sequence[DeviceSpec], reuse_factor: int
    ) -> None:
        for uplink in uplinks:
            if not isinstance(uplink, PsUplink | PfWindowUplink):
                raise InputError(
                    f"channel.interference: cell {uplink.cell.id!r} shares its band by "
                    f"{uplink.cell.sharing!r}; expected ps, pf, pf-window, pf-window-fd or "
                    "round-robin (uploads re-rated as the interference changes)",
                    path="channel.interference",
                )
        self._uplinks: list[PsUplink | PfWindowUplink] = list(uplinks)
        self._sub_band = [cell % reuse_factor for cell in range(len(uplinks))]
        self._noise: list[float] = [float(uplink.noise) for uplink in uplinks]
        #: per cell: the uploads it hears, by request, with their received power p·g, W
        self._heard: list[dict[int, float]] = [{} for _ in uplinks]
        #: per device: (cell, gain) for the other cells of its sub-band
        self._victims = [
            tuple(
                (cell, gain)
                for cell, gain in spec.cross_gains
                if cell != spec.cell and self._sub_band[cell] == self._sub_band[spec.cell]
            )
            for spec in devices
        ]
        for uplink in self._uplinks:
            uplink.listener = self

    def noise_w_per_hz(self, cell: int) -> float:
        """Cell ``cell``'s noise plus interference PSD now, W/Hz."""
        heard = self._heard[cell]
        received = sum(heard.values()) if heard else 0.0
        noise: float = self._noise[cell] + received / self._uplinks[cell].cell.bandwidth_hz
        return noise

    def started(self, uplink: Uplink, job: Any) -> None:
        """``job`` went on air: the cells it reaches hear it."""
        for cell, gain in self._victims[job.device.spec.index]:
            self._heard[cell][id(job)] = job.tx_power_w * gain
            self._update(cell)

    def ended(self, uplink: Uplink, job: Any) -> None:
        """``job``'s bits are on air: the cells it reached no longer hear it."""
        for cell, _gain in self._victims[job.device.spec.index]:
            if self._heard[cell].pop(id(job), None) is not None:
                self._update(cell)

    def _update(self, cell: int) -> None:
        self._uplinks[cell].set_noise(self.noise_w_per_hz(cell))
