"""Readers that turn trace files into typed trace objects (SI units, with provenance).

One module per format: :mod:`~coinfer.traces.readers.mahimahi`,
:mod:`~coinfer.traces.readers.fivegophers`, :mod:`~coinfer.traces.readers.ucc5g`,
:mod:`~coinfer.traces.readers.azure`, :mod:`~coinfer.traces.readers.mooncake` and
:mod:`~coinfer.traces.readers.generic` (``time,rate``, ``time,snr_db`` and arrival-time CSV
files). A malformed file is refused with an :class:`~coinfer.emulator.errors.InputError` naming
the file, the line and the value.
"""
