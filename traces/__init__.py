"""Input traces replayed into a run: link capacity, SNR and request arrivals.

Each kind of trace is one typed, immutable object in SI units that carries its provenance
(source, license, citation, origin address):

* :class:`LinkCapacityTrace`: piecewise-constant capacity in bit/s on a time grid in seconds,
  looping at its end, with exact integration (``bits_between``) and its inverse
  (``time_to_send``) for re-rating transfers;
* :class:`SnrTrace`: piecewise-constant SNR in dB on a time grid in seconds, looping, with the
  linear ratio;
* :class:`ArrivalTrace`: request arrival times in seconds from 0, with optional input (context)
  and output (generated) token counts per request;
* :class:`PositionTrace`: waypoints of a recorded path (time s, metres east and north), replayed
  by the mobility model ``trace``.

Readers for the public traces and for generic CSV files live in :mod:`traces.readers`; the
registry of known public traces (name, download address, sha256, license, citation) in
:mod:`traces.registry`. Per-request *output* traces are written by :mod:`emulator.trace`.
"""

from coinfer.traces.arrivals import ArrivalTrace
from coinfer.traces.capacity import LinkCapacityTrace
from coinfer.traces.positions import PositionTrace
from coinfer.traces.provenance import Provenance
from coinfer.traces.snr import SnrTrace

__all__ = ["ArrivalTrace", "LinkCapacityTrace", "PositionTrace", "Provenance", "SnrTrace"]
