"""Real GPS paths from the UCC 5G driving logs (docs/mobility.md, "A real drive").

The logger (G-NetTrack Pro) writes a new GPS fix only after the phone has moved about 100 m and
repeats the last one in between; its timestamps have a resolution of one second. So each
segment between two successive fixes is ~100 m long, lasts 5-10 s at city speeds, and its
duration is known only to within about a second: a segment's mean speed is off by up to
10-20 % on its own, but without bias. The tests therefore compare the *median* disagreement
with the log's own ``Speed`` column (km/h, the speed the phone's GPS reported at each fix;
the mean of a segment's two ends is its reference) and the path's *total* length with the
distance that column integrates to. Segments longer than 20 s are left out: there the car
stopped or the fix was lost, and the reported speed is stale.
"""

from __future__ import annotations

import io
import json
import math
import zipfile

import numpy as np
import pytest

from coinfer.emulator.api.run import simulate
from coinfer.emulator.errors import InputError
from coinfer.emulator.scenario.mobility import TraceMobility
from coinfer.emulator.scenario.schema import load_scenario
from coinfer.traces.positions import EARTH_RADIUS_M, PositionTrace
from coinfer.traces.readers.ucc5g import read_ucc5g_positions
from coinfer.traces.registry import TraceRegistry
from tests.traces.conftest import ROOT, shared_file

CITY = "ucc-5g/netflix-driving/2019.11.26_09.53.40/positions"
ROAD = "ucc-5g/netflix-driving/2019.11.23_12.27.34/positions"
KMH = 3.6
MAX_SEGMENT_S = 20.0


def registered(name: str) -> PositionTrace:
    entry = TraceRegistry.builtin().get(name)
    trace = entry.load(shared_file(entry.file.path))
    assert isinstance(trace, PositionTrace)
    return trace


def moving_segments(path: PositionTrace) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per segment of at most 20 s: the speed between the fixes, the log's mean reported
    speed at its two ends (both km/h) and its duration (s)."""
    assert path.speed_m_per_s is not None
    durations = np.diff(path.times_s)
    kept = durations <= MAX_SEGMENT_S
    reported = 0.5 * (path.speed_m_per_s[1:] + path.speed_m_per_s[:-1])
    return (path.segment_speeds_m_per_s()[kept] * KMH, reported[kept] * KMH, durations[kept])


@pytest.mark.parametrize("name", [CITY, ROAD])
def test_the_speed_between_fixes_matches_the_logged_speed(name):
    """Median disagreement under 2 km/h and no bias beyond 1 km/h (one-second timestamps on
    5-10 s segments: single segments may be 10-20 % off, the median is not)."""
    gps_kmh, reported_kmh, _ = moving_segments(registered(name))
    assert gps_kmh.size > 100
    error = gps_kmh - reported_kmh
    assert abs(float(np.median(error))) < 1.0
    assert float(np.median(np.abs(error))) < 2.0


@pytest.mark.parametrize(
    ("name", "km", "minutes", "mean_kmh"), [(CITY, 28.1, 52.5, 32.1), (ROAD, 17.55, 19.2, 54.9)]
)
def test_the_path_length_is_the_distance_the_logged_speed_covers(name, km, minutes, mean_kmh):
    """Straight chords between fixes 100 m apart cut the bends a little: the path is at most
    3 % shorter than the integral of the reported speed, never longer by more than 1 %; and
    the drive is a plausible one: its length, duration and mean speed, and no segment of 5 s or
    more (one-second timestamps: at most 20 % off) faster than 130 km/h, Ireland's 120 km/h
    motorway limit plus that error."""
    path = registered(name)
    gps_kmh, reported_kmh, durations = moving_segments(path)
    ratio = float(np.sum(gps_kmh * durations) / np.sum(reported_kmh * durations))
    assert 0.97 < ratio < 1.01
    assert path.length_m() / 1000 == pytest.approx(km, abs=0.05)
    assert path.duration_s / 60 == pytest.approx(minutes, abs=0.05)
    assert path.length_m() / path.duration_s * KMH == pytest.approx(mean_kmh, abs=0.05)
    timed = np.diff(path.times_s) >= 5.0
    assert float(path.segment_speeds_m_per_s()[timed].max()) * KMH < 130.0
    assert 100.0 < float(np.median(path.segment_lengths_m())) < 120.0  # the logger's ~100 m


def _log(rows: list[tuple[str, str, str, str]]) -> bytes:
    """A UCC 5G zip holding one driving log with these (time, longitude, latitude, speed)."""
    lines = ["Timestamp,Longitude,Latitude,Speed,SNR"]
    lines += [f"2019.11.26_09.53.{t},{lon},{lat},{speed},-" for t, lon, lat, speed in rows]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("5G-production-dataset/Netflix/Driving/x/B_1.csv", "\n".join(lines))
    return buffer.getvalue()


def test_held_fixes_are_dropped_and_each_second_keeps_its_last_row(tmp_path):
    """Rows: a fix at 0 s held for 2 s, two fixes in second 3 (the last counts), one position
    missing. 0.001 degree of latitude is R·pi/180·0.001 = 111.19 m north."""
    path = tmp_path / "ucc.zip"
    path.write_bytes(
        _log(
            [
                ("00", "-8.5", "51.900", "30"),
                ("01", "-8.5", "51.900", "30"),
                ("02", "-", "-", "-"),
                ("03", "-8.5", "51.9005", "35"),
                ("03", "-8.5", "51.901", "36"),
                ("04", "-8.5", "51.901", "36"),
                ("08", "-8.499", "51.901", "40"),
            ]
        )
    )
    trace = read_ucc5g_positions(path, "Netflix/Driving/x/B_1.csv")
    north = EARTH_RADIUS_M * math.radians(0.001)
    east = EARTH_RADIUS_M * math.cos(math.radians(51.9)) * math.radians(0.001)
    np.testing.assert_array_equal(trace.times_s, [0.0, 3.0, 8.0])
    # 51.901 − 51.900 is 0.001 only to ~1e-11 in binary floating point
    np.testing.assert_allclose(trace.x_m, [0.0, 0.0, east], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(trace.y_m, [0.0, north, north], rtol=1e-9)
    np.testing.assert_allclose(trace.speed_m_per_s, np.array([30, 36, 40]) / KMH)
    assert "3 distinct fixes" in trace.provenance.notes


def test_a_path_needs_exactly_one_of_file_and_trace():
    for fields in ({}, {"file": "walk.csv", "trace": CITY}):
        with pytest.raises(ValueError, match="expected exactly one of file"):
            TraceMobility(**fields)
    assert TraceMobility(trace=CITY).reference == CITY


def _drive(*overrides: str):
    return load_scenario(ROOT / "examples" / "scenarios" / "ucc-drive.yaml", list(overrides))


def test_a_wrong_trace_name_or_kind_is_refused_naming_the_field(shared_dir):
    unknown = _drive("devices.0.mobility.trace=ucc-5g/nope")
    with pytest.raises(InputError, match=r"devices\[0\]\.mobility\.trace.*unknown trace"):
        simulate(unknown, trace_dir=shared_dir)
    snr = _drive("devices.0.mobility.trace=ucc-5g/netflix-driving/2019.11.26_09.53.40/snr")
    with pytest.raises(InputError, match=r"devices\[0\]\.mobility\.trace.*expected kind"):
        simulate(snr, trace_dir=shared_dir)


def test_a_car_replaying_the_drive_moves_and_hands_over_along_the_road(shared_dir, tmp_path):
    """The first 600 s of examples/scenarios/ucc-drive.yaml: the car drives west past ap-1,
    ap-2 and ap-3 and back. It hands over several times, each time to a cell within 1.5 cell
    spacings (1.8 km) of where the replayed path puts it, and the run records where its path
    came from."""
    scenario = _drive("duration_s=600", "devices.0.arrivals.interval_s=2")
    result = simulate(scenario, trace_dir=shared_dir, out_dir=tmp_path / "run")
    handovers = result.read_handovers()
    assert len(handovers) >= 6
    assert {"ap-0", "ap-1", "ap-2", "ap-3"} <= set(handovers["to_cell"].astype(str))
    path = registered(ROAD)
    cells = json.loads((ROOT / "examples" / "scenarios" / "ucc-drive-cells.json").read_text())
    sites = {n["id"]: (n["x_m"], n["y_m"]) for n in cells["nodes"] if n["kind"] == "access_point"}
    for time_s, cell in zip(handovers["time_s"], handovers["to_cell"].astype(str), strict=True):
        x = np.interp(time_s, path.times_s, path.x_m)  # the car starts at (0, 0), as the path
        y = np.interp(time_s, path.times_s, path.y_m)
        assert math.hypot(sites[cell][0] - x, sites[cell][1] - y) < 1800.0
    sidecar = json.loads((tmp_path / "run" / "run.json").read_text())
    (replayed,) = [t for t in sidecar["input_traces"] if t["field"] == "devices[0].mobility"]
    assert replayed["provenance"]["source"] == ROAD
    assert replayed["provenance"]["license"] == "GPL-3.0"


def test_the_example_cells_are_the_ones_the_script_places(shared_dir, tmp_path):
    """examples/scenarios/ucc-drive-cells.json is what examples/radio/ucc_drive_cells.py
    writes from the trace (so the example stays tied to the data it was made from)."""
    import runpy
    import sys

    out = tmp_path / "cells.json"
    argv = ["ucc_drive_cells.py", "--trace-dir", str(shared_dir), "--out", str(out)]
    old, sys.argv = sys.argv, argv
    try:
        runpy.run_path(str(ROOT / "examples" / "radio" / "ucc_drive_cells.py"), run_name="__main__")
    finally:
        sys.argv = old
    committed = ROOT / "examples" / "scenarios" / "ucc-drive-cells.json"
    assert json.loads(out.read_text()) == json.loads(committed.read_text())
