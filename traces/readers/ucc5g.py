"""The UCC 5G production dataset (Raca et al., MMSys 2020): per-second SNR, CQI and bitrates.

The dataset is one zip of G-NetTrack Pro logs (``5G-production-dataset/<app>/<mobility>/...
/B_<date>.csv``). Columns used: ``Timestamp`` (``2019.12.16_13.40.04``, local time, 1 s
resolution), ``SNR`` (dB), ``CQI``, ``DL_bitrate`` and ``UL_bitrate`` (kbit/s, the measured
traffic of the download or streaming session, not the cell's capacity). ``-`` marks a missing
value. Members are read from the zip directly (never extracted); ``__MACOSX/`` entries are
ignored.

Rows that share a second are averaged (SNR as the mean of the dB values). Each series is put on
a grid of whole seconds from the file's first timestamp: a second without a value holds the
previous one, seconds before the first value take the first value, and the trace lasts until
one second after the last row.

The ``positions`` series (``Longitude``, ``Latitude`` in degrees, ``Speed`` in km/h) is a
:class:`~coinfer.traces.positions.PositionTrace` of GPS fixes. The logger writes a new fix only
when the phone has moved about 100 m (over the 59 driving logs successive distinct fixes are 100
to 122 m apart, 1st to 99th percentile) and repeats the last one in between, so a repeated
position is not a stop: per second the last row counts, and only the seconds whose position
differs from the previous second's are waypoints (times from the first of them), projected to
metres around the first (:func:`~coinfer.traces.positions.project_equirectangular`).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field

from coinfer.emulator.errors import InputError
from coinfer.traces.capacity import LinkCapacityTrace
from coinfer.traces.positions import PositionTrace, project_equirectangular
from coinfer.traces.provenance import Provenance
from coinfer.traces.readers._parse import (
    check_at_least,
    existing_file,
    file_error,
    numeric_column,
    read_csv_strings,
    require_columns,
)
from coinfer.traces.readers.base import FunctionReader, ReaderParams
from coinfer.traces.snr import SnrTrace

ROOT = "5G-production-dataset/"
TIMESTAMP_FORMAT = "%Y.%m.%d_%H.%M.%S"
MISSING = "-"
KBPS = 1e3
KMH = 1.0 / 3.6  #: one km/h in m/s
Series = Literal["snr", "dl", "ul", "positions"]
_COLUMNS = {"snr": "SNR", "cqi": "CQI", "dl": "DL_bitrate", "ul": "UL_bitrate"}


@dataclass(frozen=True, eq=False)
class UccSeconds:
    """One UCC 5G log aggregated per second.

    ``seconds``: whole seconds since the first row (sorted, unique); ``snr_db``, ``cqi``,
    ``dl_bps``, ``ul_bps``: per-second means (NaN where the log has none); ``duration_s``: one
    second past the last row.
    """

    seconds: np.ndarray
    snr_db: np.ndarray
    cqi: np.ndarray
    dl_bps: np.ndarray
    ul_bps: np.ndarray
    duration_s: float


def list_members(path: str | Path) -> list[str]:
    """The CSV logs inside the dataset zip, without ``__MACOSX/`` entries."""
    with _open_zip(existing_file(path)) as archive:
        return [
            name
            for name in archive.namelist()
            if name.endswith(".csv") and not name.startswith("__MACOSX/")
        ]


def read_ucc5g_seconds(path: str | Path, member: str) -> UccSeconds:
    """Read one log from the zip and aggregate it per second."""
    file = existing_file(path)
    name = _member_name(member)
    source = f"{file}:{name}"
    frame = _read_member(file, name, source)
    require_columns(frame, ["Timestamp", *_COLUMNS.values()], source)
    second = _seconds(frame, source)
    values = {
        key: numeric_column(frame, column, source, 2, f"a number or {MISSING!r}", MISSING)
        for key, column in _COLUMNS.items()
    }
    for key in ("dl", "ul"):
        check_at_least(values[key], 0.0, source, 2, "a bitrate >= 0 kbit/s")
    table = pd.DataFrame(values).groupby(second, sort=True).mean()
    return UccSeconds(
        seconds=table.index.to_numpy(dtype=np.int64),
        snr_db=table["snr"].to_numpy(),
        cqi=table["cqi"].to_numpy(),
        dl_bps=table["dl"].to_numpy() * KBPS,
        ul_bps=table["ul"].to_numpy() * KBPS,
        duration_s=float(second.max() + 1),
    )


def read_ucc5g_positions(
    path: str | Path, member: str, provenance: Provenance | None = None
) -> PositionTrace:
    """The GPS fixes of one log as waypoints in metres, with the reported speed (m/s) at each
    (see the module's docstring)."""
    file = existing_file(path)
    name = _member_name(member)
    source = f"{file}:{name}"
    frame = _read_member(file, name, source)
    require_columns(frame, ["Timestamp", "Longitude", "Latitude", "Speed"], source)
    second = _seconds(frame, source)
    lon = numeric_column(frame, "Longitude", source, 2, f"a longitude or {MISSING!r}", MISSING)
    lat = numeric_column(frame, "Latitude", source, 2, f"a latitude or {MISSING!r}", MISSING)
    speed = numeric_column(frame, "Speed", source, 2, f"a speed in km/h or {MISSING!r}", MISSING)
    for values, limit, what in ((lon, 180.0, "longitude"), (lat, 90.0, "latitude")):
        outside = np.abs(values) > limit
        if outside.any():
            row = int(np.argmax(outside))
            expected = f"a {what} within [-{limit:g}, {limit:g}] degrees"
            raise file_error(source, row + 2, float(values[row]), expected)
    check_at_least(speed, 0.0, source, 2, "a speed >= 0 km/h")
    fixed = np.isfinite(lon) & np.isfinite(lat)
    if not fixed.any():
        raise InputError(f"{source}: no GPS position (all {MISSING!r}), expected a driving log")
    rows = pd.DataFrame({"lon": lon, "lat": lat, "speed": speed})[fixed]
    last = rows.groupby(second[fixed], sort=True).last()  # the position held at each second's end
    moved = np.r_[True, (np.diff(last["lon"]) != 0) | (np.diff(last["lat"]) != 0)]
    fixes = last[moved]
    x_m, y_m = project_equirectangular(fixes["lon"], fixes["lat"])
    start = int(fixes.index[0])
    notes = (
        f"UCC 5G {name} GPS: {len(fixes)} distinct fixes (the last row of each second), "
        f"times from the first fix, {start} s after the log's first row; projected "
        f"equirectangular around longitude {fixes['lon'].iloc[0]:.6f}, latitude "
        f"{fixes['lat'].iloc[0]:.6f}"
    )
    return PositionTrace(
        times_s=fixes.index.to_numpy(dtype=float) - start,
        x_m=x_m,
        y_m=y_m,
        provenance=(provenance or Provenance.user_file(file)).with_notes(notes),
        speed_m_per_s=fixes["speed"].to_numpy() * KMH,
    )


def read_ucc5g(
    path: str | Path,
    member: str,
    series: Series = "snr",
    provenance: Provenance | None = None,
) -> SnrTrace | LinkCapacityTrace | PositionTrace:
    """One series of a UCC 5G log: ``snr`` (an :class:`SnrTrace`, with CQI), ``dl`` or ``ul``
    (a :class:`LinkCapacityTrace` of the measured bitrate in bit/s), or ``positions`` (a
    :class:`PositionTrace`, :func:`read_ucc5g_positions`)."""
    if series not in ("snr", "dl", "ul", "positions"):
        raise InputError(f"UCC 5G series: got {series!r}, expected one of snr, dl, ul, positions")
    if series == "positions":
        return read_ucc5g_positions(path, member, provenance)
    file = existing_file(path)
    log = read_ucc5g_seconds(file, member)
    column = {"snr": log.snr_db, "dl": log.dl_bps, "ul": log.ul_bps}[series]
    valid = np.isfinite(column)
    source = f"{file}:{_member_name(member)}"
    if not valid.any():
        raise InputError(f"{source}: no {_COLUMNS[series]} values (all {MISSING!r})")
    times = log.seconds[valid].astype(float)
    times[0] = 0.0  # seconds before the first value take the first value
    notes = (
        f"UCC 5G {_member_name(member)} {_COLUMNS[series]}: per-second means, "
        f"{int(valid.sum())} of {int(log.duration_s)} s with a value, others held"
    )
    origin = (provenance or Provenance.user_file(file)).with_notes(notes)
    if series == "snr":
        return SnrTrace.from_samples(times, column[valid], log.duration_s, origin, log.cqi[valid])
    return LinkCapacityTrace.from_rates(times, column[valid], log.duration_s, origin)


def _read_member(file: Path, name: str, source: str) -> pd.DataFrame:
    """The log ``name`` of the zip ``file``, every cell a string."""
    with _open_zip(file) as archive:
        if name not in archive.namelist():
            raise InputError(
                f"{file}: no member {name!r}, expected a CSV log such as "
                f"{ROOT}Download/Static/B_2020.02.13_13.57.29.csv"
            )
        with archive.open(name) as handle:
            return read_csv_strings(handle, source)


def _seconds(frame: pd.DataFrame, source: str) -> np.ndarray:
    """Each row's whole second since the log's first timestamp (a log without rows or with a
    malformed time is refused)."""
    if frame.empty:
        raise InputError(f"{source}: no rows, expected per-second measurements")
    stamps = pd.to_datetime(frame["Timestamp"], format=TIMESTAMP_FORMAT, errors="coerce")
    if stamps.isna().any():
        row = int(np.argmax(stamps.isna().to_numpy()))
        raise file_error(
            source, row + 2, frame["Timestamp"].iloc[row], "a time like 2019.12.16_13.40.04"
        )
    return ((stamps - stamps.min()).dt.total_seconds()).to_numpy().astype(np.int64)


def _member_name(member: str) -> str:
    name = member.replace("\\", "/").lstrip("/")
    return name if name.startswith(ROOT) else ROOT + name


def _open_zip(file: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(file)
    except zipfile.BadZipFile as err:
        raise InputError(f"{file}: not a zip file, expected the UCC 5G dataset zip") from err


class Ucc5gReader(FunctionReader):
    """The ``ucc-5g`` reader (:func:`read_ucc5g`)."""

    class Params(ReaderParams):
        member: str = Field(description="the log's path inside the dataset zip")
        series: Series = Field(default="snr", description="snr, dl, ul or positions")

    function = staticmethod(read_ucc5g)
