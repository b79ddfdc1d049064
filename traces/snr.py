"""Signal-to-noise ratio over time: piecewise constant in dB, looping at its end."""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field, replace
from typing import cast

import numpy as np
from numpy.typing import ArrayLike

from coinfer.emulator.errors import InputError
from coinfer.emulator.units import db_to_linear
from coinfer.traces.piecewise import (
    PeriodicGrid,
    as_sequence,
    check_edges,
    edges_from_starts,
    frozen_array,
    intervals_at,
    locate,
    wrap_array,
)
from coinfer.traces.provenance import Provenance

_ANONYMOUS = Provenance(source="(in memory)")


@dataclass(frozen=True, eq=False)
class SnrTrace(PeriodicGrid):
    """SNR in dB, piecewise constant on a time grid in seconds, looping at its end.

    ``edges_s``: ``n + 1`` grid edges in s (``0`` first, the period ``duration_s`` last);
    ``snr_db``: the SNR of each of the ``n`` intervals, in dB (finite); ``cqi``: optional
    channel quality indicator per interval (3GPP CQI index, NaN where the source has none).
    Build one from sample times with :meth:`from_samples`.
    """

    edges_s: np.ndarray
    snr_db: np.ndarray
    provenance: Provenance = _ANONYMOUS
    cqi: np.ndarray | None = None
    _linear: np.ndarray = field(init=False, repr=False)
    _scalar: tuple[array, array, array] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        what = f"SNR trace {self.provenance.source}"
        edges = check_edges(self.edges_s, what)
        snr = frozen_array(self.snr_db)
        if snr.size != edges.size - 1:
            raise InputError(
                f"{what}: got {snr.size} SNR values for {edges.size - 1} intervals, expected "
                "one per interval"
            )
        if not np.all(np.isfinite(snr)):
            bad = int(np.argmax(~np.isfinite(snr)))
            raise InputError(
                f"{what}: interval {bad} has SNR {float(snr[bad])!r} dB, expected finite"
            )
        if self.cqi is not None:
            cqi = frozen_array(self.cqi)
            if cqi.size != snr.size:
                raise InputError(
                    f"{what}: got {cqi.size} CQI values for {snr.size} intervals, expected one "
                    "per interval"
                )
            object.__setattr__(self, "cqi", cqi)
        object.__setattr__(self, "edges_s", edges)
        object.__setattr__(self, "snr_db", snr)
        linear = frozen_array(db_to_linear(snr))
        object.__setattr__(self, "_linear", linear)
        # Plain float sequences for the scalar lookups (several times faster than numpy).
        object.__setattr__(self, "_scalar", tuple(as_sequence(a) for a in (edges, snr, linear)))

    @classmethod
    def from_samples(
        cls,
        times_s: ArrayLike,
        snr_db: ArrayLike,
        duration_s: float,
        provenance: Provenance = _ANONYMOUS,
        cqi: ArrayLike | None = None,
    ) -> SnrTrace:
        """A trace from sample times (s, the first 0; each value holds until the next), SNRs
        in dB and the period in s."""
        edges = edges_from_starts(times_s, duration_s, f"SNR trace {provenance.source}")
        # __post_init__ makes a read-only array of the CQIs
        return cls(
            edges, np.asarray(snr_db, dtype=float), provenance, cast("np.ndarray | None", cqi)
        )

    @property
    def snr_linear(self) -> np.ndarray:
        """The SNR of each interval as a linear power ratio."""
        return self._linear

    @property
    def mean_db(self) -> float:
        """Time-average SNR in dB (the average of the dB values, weighted by time)."""
        return float(np.average(self.snr_db, weights=self.widths_s))

    @property
    def mean_linear(self) -> float:
        """Time-average linear SNR."""
        return float(np.average(self._linear, weights=self.widths_s))

    def snr_db_at(self, t: float) -> float:
        """SNR at time ``t`` (s, any real; the trace loops), in dB."""
        edges, snr_db, _ = self._scalar
        return snr_db[locate(edges, edges[-1], t)[2]]

    def snr_linear_at(self, t: float) -> float:
        """SNR at time ``t`` (s, any real; the trace loops), as a linear power ratio."""
        edges, _, linear = self._scalar
        return linear[locate(edges, edges[-1], t)[2]]

    def snr_linear_at_array(self, t: ArrayLike) -> np.ndarray:
        """Vectorised :meth:`snr_linear_at`."""
        _, r = wrap_array(np.asarray(t, dtype=float), self.duration_s)
        return self._linear[intervals_at(self.edges_s, r)]

    def interval_end_s(self, t: float) -> float:
        """End of the constant-SNR interval that holds ``t`` (s): the next change."""
        edges = self._scalar[0]
        period = edges[-1]
        k, _, i = locate(edges, period, t)
        return k * period + edges[i + 1]

    def scaled(self, offset_db: float = 0.0, time: float = 1.0) -> SnrTrace:
        """A copy with every SNR shifted by ``offset_db`` dB (the linear ratio × 10^(dB/10)) and
        the time axis stretched × ``time``."""
        if not math.isfinite(offset_db):
            raise InputError(f"SNR offset: got {offset_db!r} dB, expected a finite number")
        if not (time > 0.0 and math.isfinite(time)):
            raise InputError(f"time scale: got {time!r}, expected a finite positive number")
        notes = f"scaled: SNR {offset_db:+g} dB, time x{time:g}"
        return replace(
            self,
            edges_s=self.edges_s * time,
            snr_db=self.snr_db + offset_db,
            provenance=self.provenance.with_notes(notes),
        )
