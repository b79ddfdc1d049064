"""Small synthetic trace files for the replay tests, written by the tests themselves.

The repository ships no trace data: each test writes the few rows it needs into a temporary
directory with these helpers (generic CSV formats of :mod:`traces.readers.generic`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def write_capacity(path: Path, times_s: Sequence[float], rates_bps: Sequence[float]) -> str:
    """A ``time,rate`` file (s, bit/s); the last row lasts as long as the one before it."""
    rows = "".join(f"{t!r},{r!r}\n" for t, r in zip(times_s, rates_bps, strict=True))
    path.write_text("time,rate\n" + rows, encoding="utf-8")
    return str(path)


def write_snr(path: Path, times_s: Sequence[float], snr_db: Sequence[float]) -> str:
    """A ``time,snr_db`` file (s, dB); the last row lasts as long as the one before it."""
    rows = "".join(f"{t!r},{s!r}\n" for t, s in zip(times_s, snr_db, strict=True))
    path.write_text("time,snr_db\n" + rows, encoding="utf-8")
    return str(path)


def write_arrivals(
    path: Path,
    times_s: Sequence[float],
    input_tokens: Sequence[int] | None = None,
    output_tokens: Sequence[int] | None = None,
) -> str:
    """A ``time[,input_tokens,output_tokens]`` file (s, tokens)."""
    if input_tokens is None or output_tokens is None:
        body = "time\n" + "".join(f"{t!r}\n" for t in times_s)
    else:
        body = "time,input_tokens,output_tokens\n" + "".join(
            f"{t!r},{i},{o}\n" for t, i, o in zip(times_s, input_tokens, output_tokens, strict=True)
        )
    path.write_text(body, encoding="utf-8")
    return str(path)


def upload_profile(path: Path, payload_bits: float) -> str:
    """A one-block model cut at split 0: the device uploads ``payload_bits``, computes nothing,
    and the server does 1 FLOP."""
    path.write_text(
        f"""\
name: upload-{payload_bits:g}
input_bits: {payload_bits!r}
blocks:
  - {{name: all, params: 1000, flops: 1.0, activation_bits: 1.0}}
""",
        encoding="utf-8",
    )
    return str(path)
