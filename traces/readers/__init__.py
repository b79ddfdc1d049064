"""Readers that turn trace files into typed trace objects (SI units, with provenance).

One module per format: :mod:`~traces.readers.mahimahi`, :mod:`~traces.readers.fivegophers`,
:mod:`~traces.readers.ucc5g`, :mod:`~traces.readers.azure`, :mod:`~traces.readers.mooncake` and
:mod:`~traces.readers.generic` (``time,rate``, ``time,snr_db`` and arrival-time CSV files). A
malformed file is refused with an :class:`~emulator.errors.InputError` naming the file, the line
and the value.
"""
