"""Link models: how fast an upload goes on its band at a given SINR (the ``coinfer.links`` family).

A cell names its link model as ``link: {model: NAME, ...parameters}`` (default ``shannon``); the
model is a plug-in (:mod:`coinfer.emulator.plugins`): a class implementing :class:`LinkModel`
with a ``Params`` model extending :class:`LinkParams`. The built-ins:

* ``shannon``: ``r = b·log2(1 + SINR)`` on the band ``b`` the upload gets (today's uplink; the
  engine then runs exactly the code it always ran).
* ``nr``: a 5G NR link abstraction (see ``docs/radio.md``). With the SINR
  ``γ = p·g / (b·N0')`` (``N0'``: noise plus interference PSD), the reported CQI is the highest
  whose threshold ``γ_i = 2^(SE_i/α) − 1`` is at most ``γ`` (an attenuated Shannon bound,
  3GPP TR 36.942 Annex A, with attenuation ``α``; the default 0.6 is that annex's downlink
  value, assumed for the uplink, see ``docs/radio.md``); the MCS is the highest of the MCS table
  whose spectral efficiency does not exceed the CQI's (MCS 0 below CQI 2 of the 64QAM table);
  its block error rate is a logistic curve in dB through 10 % at the MCS's own threshold
  ``BLER(γ) = 1 / (1 + 9·exp(s·(γ_dB − γ_m,dB)))``; and the rate is the TS 38.306 §4.1.2
  formula on the upload's share of the PRBs, times the share of blocks decoded::

      r = PRBs·12·14·SE_m·layers·(1 − OH) / T_slot · (1 − BLER)
        = b·SE_m·layers·(1 − OH)·14/15 · (1 − BLER)      (b = PRBs·12·SCS, T_slot·SCS = 15)

  A power-limited upload (SINR on its whole share below ``u*``, the SINR at which the bits
  per hertz per unit of SINR ``φ(u)/u`` are largest) is given only the PRBs that keep its SINR at
  ``u*``: ``r = (p·g/N0')·φ(u*)/u*`` (its power concentrated on fewer PRBs, the rest of its share
  unused), as a scheduler does for a cell-edge device instead of spreading it below MCS 0.

  A failed block is re-sent after the HARQ round trip: the re-sends take the ``1 − BLER`` of
  air time above, and the upload's last block adds ``HARQ RTT · BLER/(1 − BLER)`` (its expected
  retransmissions) after its bits are on air (:meth:`NrLink.harq_delay_s`).

The tables are :mod:`coinfer.emulator.model.nr_tables` (TS 38.214). Presets
(:data:`NR_PRESETS`): ``nr-fr1-100mhz``, ``nr-fr1-20mhz``, ``lte-20mhz``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal, NamedTuple, Protocol

import numpy as np
from pydantic import ConfigDict, Field, model_validator

from coinfer.emulator.inputs import InputModel
from coinfer.emulator.model.nr_tables import SUBCARRIERS_PER_PRB, SYMBOLS_PER_SLOT, TABLES
from coinfer.emulator.model.reference import shannon_rate_bps, uplink_rate_bps

#: Subcarrier spacing of numerology 0, kHz: slot length is 1 ms · 15 kHz / SCS.
_BASE_SCS_KHZ = 15


class LinkParams(InputModel):
    """The parameters of a link model; a plug-in's ``Params`` extends this model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(
        default="shannon",
        description="link model: shannon (B·log2(1 + SINR)), nr (5G NR MCS tables, BLER and "
        "HARQ), or a registered plug-in",
    )


class ShannonLinkParams(LinkParams):
    """The Shannon link has no parameters."""


#: The presets a ``nr`` link may start from (its own fields override them). Sources:
#: TS 38.101-1 Table 5.3.2-1 (PRBs of a channel bandwidth at a subcarrier spacing), TS 38.306
#: §4.1.2 (overhead 0.08 for FR1 uplink); LTE: TS 36.101 (100 PRBs in 20 MHz at 15 kHz), its
#: overhead (DM-RS 2 of 14 symbols and PUCCH at the band edges) an assumption, and the NR
#: 64QAM tables standing in for LTE's (LTE's CQI table is NR's CQI table 1).
NR_PRESETS: dict[str, dict[str, Any]] = {
    "nr-fr1-100mhz": {
        "scs_khz": 30,
        "prbs": 273,
        "mcs_table": "qam256",
        "overhead": 0.08,
    },
    "nr-fr1-20mhz": {
        "scs_khz": 15,
        "prbs": 106,
        "mcs_table": "qam256",
        "overhead": 0.08,
    },
    "lte-20mhz": {
        "scs_khz": 15,
        "prbs": 100,
        "mcs_table": "qam64",
        "overhead": 0.2,
    },
}


class NrLinkParams(LinkParams):
    """A 5G NR carrier: numerology, PRBs, MCS table, layers, overhead, BLER and HARQ."""

    preset: Literal["nr-fr1-100mhz", "nr-fr1-20mhz", "lte-20mhz"] | None = Field(
        default=None,
        description="start from a preset (its fields, overridden by the ones given here)",
    )
    scs_khz: Literal[15, 30, 60, 120] = Field(
        default=30, description="subcarrier spacing, kHz (numerology 0..3)"
    )
    prbs: int = Field(default=273, ge=1, le=275, description="physical resource blocks (1..275)")
    mcs_table: Literal["qam64", "qam256"] = Field(
        default="qam256",
        description="qam64: TS 38.214 MCS table 5.1.3.1-1 with CQI table 5.2.2.1-2; qam256: "
        "MCS table 5.1.3.1-2 with CQI table 5.2.2.1-3",
    )
    layers: int = Field(default=1, ge=1, le=4, description="MIMO layers (1..4, uplink)")
    overhead: float = Field(
        default=0.08,
        ge=0.0,
        lt=1.0,
        description="fraction of resource elements for control and reference signals "
        "(TS 38.306: 0.08 for FR1 uplink)",
    )
    alpha: float = Field(
        default=0.6,
        gt=0.0,
        le=1.0,
        description="attenuation of the Shannon bound giving the SINR threshold of each CQI at "
        "10 % BLER: 2^(SE/alpha) - 1 (0.6: TR 36.942 Annex A's downlink value, assumed for "
        "the uplink)",
    )
    bler_slope_per_db: float = Field(
        default=2.0,
        gt=0.0,
        le=100.0,
        description="steepness of the BLER curve of an MCS around its 10 % point, 1/dB",
    )
    harq_rtt_slots: int = Field(
        default=8, ge=0, le=1000, description="HARQ round trip: delay of one re-send, slots"
    )

    @model_validator(mode="before")
    @classmethod
    def _from_preset(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("preset") in NR_PRESETS:
            return {**NR_PRESETS[data["preset"]], **data}
        return data

    @property
    def band_hz(self) -> float:
        """The carrier's occupied band ``PRBs·12·SCS``, Hz."""
        return self.prbs * SUBCARRIERS_PER_PRB * self.scs_khz * 1e3

    @property
    def slot_s(self) -> float:
        """Slot length ``1 ms · 15 kHz / SCS``, s."""
        return 1e-3 * _BASE_SCS_KHZ / self.scs_khz


class LinkModel(Protocol):
    """A link model: made once per cell from its ``Params`` (a :class:`LinkParams` model).

    ``rate_bps(p, g, b, n0)``: the rate of an upload sending with power ``p`` (W) over a link of
    power gain ``g`` on the band ``b`` (Hz) it gets, with noise (plus interference) PSD ``n0``
    (W/Hz); ``rates_bps`` the same for an array of gains, equal element by element (to
    rounding).
    ``harq_delay_s``: the delay an upload at that rate waits after its last bit is on air.
    ``band_hz``: the cell band the model fixes (``None``: the cell's ``bandwidth_hz``).
    """

    Params: ClassVar[type[LinkParams]]
    band_hz: float | None  #: the band the model occupies, Hz (None: the cell's)

    def __init__(self, params: LinkParams) -> None: ...

    def rate_bps(self, p: float, g: float, b: float, n0: float) -> float:
        """Rate on the band ``b``, bit/s."""
        ...

    def rates_bps(self, p: float, g: np.ndarray, b: float, n0: float) -> np.ndarray:
        """:meth:`rate_bps` for each gain of ``g``, bit/s."""
        ...

    def harq_delay_s(self, p: float, g: float, b: float, n0: float) -> float:
        """Delay after the last bit is on air, s."""
        ...


class ShannonLink:
    """``r = b·log2(1 + p·g/(b·N0))``, as :func:`.reference.shannon_rate_bps`."""

    Params = ShannonLinkParams
    band_hz: float | None = None

    def __init__(self, params: LinkParams) -> None:
        self.params = params

    def rate_bps(self, p: float, g: float, b: float, n0: float) -> float:
        return shannon_rate_bps(p, g, b, n0)

    def rates_bps(self, p: float, g: np.ndarray, b: float, n0: float) -> np.ndarray:
        rates: np.ndarray = uplink_rate_bps(p, g, b, n0)
        return rates

    def harq_delay_s(self, p: float, g: float, b: float, n0: float) -> float:
        return 0.0


class NrLink:
    """The 5G NR link abstraction (see the module docstring)."""

    Params = NrLinkParams

    def __init__(self, params: LinkParams) -> None:
        assert isinstance(params, NrLinkParams)
        self.params = params
        mcs, cqi = TABLES[params.mcs_table]
        alpha = params.alpha
        self.cqi_se = np.array([row[2] for row in cqi])
        #: SINR (linear) at which CQI 1..15 is reported: 10 % BLER on the attenuated bound
        self.cqi_sinr = 2.0 ** (self.cqi_se / alpha) - 1.0
        self.mcs_se = np.array([row[2] for row in mcs])
        #: SINR (dB) at which each MCS has 10 % BLER
        self.mcs_sinr_db = 10.0 * np.log10(2.0 ** (self.mcs_se / alpha) - 1.0)
        # the MCS used at each CQI 0..15: the highest whose SE is at most the CQI's (else 0)
        by_cqi = [0]
        for se in self.cqi_se:
            fitting = np.flatnonzero(self.mcs_se <= se + 1e-12)
            by_cqi.append(int(fitting[-1]) if fitting.size else 0)
        self.mcs_of_cqi = np.array(by_cqi)
        #: spectral efficiency × layers × (1 − overhead) × 14/15 (data REs per Hz·s)
        # 14 symbols per slot on each subcarrier of SCS Hz: 14/(SCS·T_slot) = 14/15 per Hz
        symbols_per_hz_s = SYMBOLS_PER_SLOT / (params.scs_khz * 1e3 * params.slot_s)
        self.scale = params.layers * (1.0 - params.overhead) * symbols_per_hz_s
        self.band_hz = params.band_hz
        self.harq_rtt_s = params.harq_rtt_slots * params.slot_s
        self._slope = params.bler_slope_per_db
        #: the SINR below which an upload is power-limited (see :meth:`_best_sinr`)
        self.best_sinr, self._best_ratio = self._best_sinr()

    # ---- the chain SINR → CQI → MCS → BLER -------------------------------------------------

    def cqi(self, sinr: float) -> int:
        """The CQI (0..15) reported at the linear SINR ``sinr``."""
        return int(np.searchsorted(self.cqi_sinr, sinr, side="right"))

    def mcs(self, sinr: float) -> int:
        """The MCS index used at the linear SINR ``sinr``."""
        return int(self.mcs_of_cqi[self.cqi(sinr)])

    def success(self, mcs: int, sinr: float) -> float:
        """``1 − BLER`` of ``mcs`` at the linear SINR ``sinr``."""
        if sinr <= 0.0:
            return 0.0
        x = self._slope * (10.0 * math.log10(sinr) - float(self.mcs_sinr_db[mcs]))
        if x > 700.0:
            return 1.0
        e = math.exp(x)
        return 9.0 * e / (1.0 + 9.0 * e)

    def spectral_bps_per_hz(self, sinr: float) -> float:
        """Rate per Hz of band at the linear SINR ``sinr``, bit/s/Hz (BLER included)."""
        m = self.mcs(sinr)
        return float(self.mcs_se[m]) * self.scale * self.success(m, sinr)

    def _spectral(self, sinr: np.ndarray) -> np.ndarray:
        """:meth:`spectral_bps_per_hz` of each SINR of ``sinr`` (equal to rounding)."""
        m = self.mcs_of_cqi[np.searchsorted(self.cqi_sinr, sinr, side="right")]
        with np.errstate(divide="ignore", over="ignore"):
            x = self._slope * (10.0 * np.log10(sinr) - self.mcs_sinr_db[m])
            e = np.exp(np.minimum(x, 700.0))
        ok = np.where(sinr > 0.0, 9.0 * e / (1.0 + 9.0 * e), 0.0)
        ok = np.where(x > 700.0, 1.0, ok)
        spectral: np.ndarray = self.mcs_se[m] * self.scale * ok
        return spectral

    def _best_sinr(self) -> tuple[float, float]:
        """``(u*, φ(u*)/u*)``: the SINR at which the bits per hertz per unit of SINR,
        ``φ(u)/u``, are largest (on a 0.001 dB grid from −20 to +10 dB), and that largest
        value. A power-limited upload is given no more PRBs than keep its SINR at ``u*``."""
        grid = 10.0 ** (np.arange(-20000, 10001) / 10000.0)
        ratio = self._spectral(grid) / grid
        best = int(np.argmax(ratio))
        return float(grid[best]), float(ratio[best])

    # ---- the LinkModel interface -----------------------------------------------------------

    def rate_bps(self, p: float, g: float, b: float, n0: float) -> float:
        received = g * p / n0  # SINR × Hz
        sinr = received / b
        if sinr < self.best_sinr:  # power-limited: fewer PRBs, each at the SINR u*
            return received * self._best_ratio
        return b * self.spectral_bps_per_hz(sinr)

    def rates_bps(self, p: float, g: np.ndarray, b: float, n0: float) -> np.ndarray:
        received = np.asarray(g, dtype=float) * p / n0
        sinr = received / b
        rates: np.ndarray = np.where(
            sinr < self.best_sinr, received * self._best_ratio, b * self._spectral(sinr)
        )
        return rates

    def harq_delay_s(self, p: float, g: float, b: float, n0: float) -> float:
        sinr = max(g * p / (b * n0), self.best_sinr)
        ok = self.success(self.mcs(sinr), sinr)
        if ok <= 0.0:
            return math.inf
        return self.harq_rtt_s * (1.0 - ok) / ok


class ShannonEnvelope(NamedTuple):
    """A link model's rate bounded in Shannon's shape, for optimisers whose closed forms need
    it: ``r(p) ≤ rate_scale·b·log2(1 + min(SINR, max_sinr))``, ``SINR = p·g/(b·N0)``."""

    rate_scale: float  #: κ: the factor on b·log2(1 + SINR)
    max_sinr: float  #: the SINR (linear) above which the rate no longer grows (inf: never)


def shannon_envelope(model: LinkModel | None) -> ShannonEnvelope | None:
    """The envelope of ``model`` (None for Shannon itself, or for a link model without one).

    NR (:class:`NrLink`): the attenuated Shannon bound its CQI thresholds are built on, times
    its data resource elements: ``κ = α·layers·(1 − OH)·14/15`` and ``max_sinr`` the 10 %-BLER
    threshold of the top MCS, ``2^(SE_max/α) − 1`` (above it the rate is capped at the top
    MCS). The real NR rate is below it by the CQI step (the MCS of the CQI below the SINR: up
    to a whole step of spectral efficiency), the block errors (up to 10 % at an MCS's
    threshold) and, below ``u*``, the power-limited allocation; see ``docs/radio.md``."""
    if not isinstance(model, NrLink):
        return None
    return ShannonEnvelope(
        model.params.alpha * model.scale,
        float(2.0 ** (model.mcs_se[-1] / model.params.alpha) - 1.0),
    )


def check_link_band(link: LinkParams, bandwidth_hz: float, given: bool) -> None:
    """Refuse a cell's ``bandwidth_hz`` given beside a link model that fixes the band (an NR
    carrier occupies ``PRBs·12·SCS``) when the two differ (ValueError naming both)."""
    band = getattr(link, "band_hz", None)
    if given and band is not None and not math.isclose(bandwidth_hz, band, rel_tol=1e-9):
        raise ValueError(
            f"bandwidth_hz: got {bandwidth_hz:g}, but link model {link.model!r} occupies "
            f"{band:g} Hz (PRBs x 12 x SCS); expected {band:g} or no bandwidth_hz"
        )


def uplink_band_hz(link: LinkParams, bandwidth_hz: float) -> float:
    """The band a cell's uploads share: the link model's (an NR carrier's) or ``bandwidth_hz``."""
    band = getattr(link, "band_hz", None)
    return bandwidth_hz if band is None else float(band)
