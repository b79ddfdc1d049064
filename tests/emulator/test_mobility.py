"""Moving devices and the A3 handover (docs/mobility.md), against their closed forms.

* A device driving along the line between two access points hands over exactly once, at the
  step where ``10·α·log10(d_serving / d_neighbour)`` first exceeds the hysteresis plus the
  time to trigger; an upload caught by it pauses for the interruption and continues (or
  restarts) at the new cell's Shannon rate.
* Mobility at speed 0 gives today's trace, row for row.
* Gauss–Markov velocities have the stationary mean ``mu``, variance ``sigma²`` and lag-one
  correlation ``a``; random waypoint's time-average speed is ``1 / E[1/V]``.
* A track updated only when asked gives the positions, gains and handovers of one updated at
  every step.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest
import yaml

from coinfer.emulator.api.run import simulate
from coinfer.emulator.deployment.pathloss import pathloss_model
from coinfer.emulator.deployment.spec import MobileDevice
from coinfer.emulator.engine.handover import RadioTrack
from coinfer.emulator.engine.mobility import (
    GaussMarkovModel,
    MobilitySetting,
    RandomWaypointModel,
)
from coinfer.emulator.errors import InputError
from coinfer.emulator.model.reference import log_distance_gain, shannon_rate_bps
from coinfer.emulator.scenario.mobility import (
    Area,
    GaussMarkovMobility,
    RandomWaypointMobility,
)
from coinfer.emulator.scenario.schema import (
    Cell,
    LogDistancePathLoss,
    load_scenario,
    scenario_from_dict,
)
from coinfer.topologies.io import save_topology

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "scenarios"

#: The line: access points 1 km apart, the device starting 100 m east of the first.
ISD_M, START_M, SPEED_M_PER_S, STEP_S = 1000.0, 100.0, 10.0, 0.1
HYSTERESIS_DB, TTT_S, EXPONENT = 3.0, 0.3, 3.0


def line_scenario(
    folder: Path, bandwidth_hz: float = 1e6, sharing: str = "ps", **changes: Any
) -> Any:
    """Two cells on a line, each with its own server; one device driving east from near the
    first. No shadowing, no fading: the gains are the log-distance path loss."""
    graph = nx.Graph()
    for k in range(2):
        graph.add_node(
            f"ap-{k}",
            kind="access_point",
            x_m=k * ISD_M,
            y_m=0.0,
            bandwidth_hz=bandwidth_hz,
            sharing=sharing,
        )
        graph.add_node(f"edge-{k}", kind="server", hardware="paper-server")
        graph.add_edge(f"ap-{k}", f"edge-{k}", kind="wired")
    graph.add_node("car-0", kind="device", x_m=START_M, y_m=0.0)
    graph.add_edge("car-0", "ap-0")
    path = save_topology(graph, folder / "line.json")
    data: dict[str, Any] = {
        "duration_s": 120.0,
        "devices": [
            {
                "name": "car",
                "arrivals": {"process": "deterministic", "interval_s": 1.0},
                "mobility": {"model": "linear", "speed_m_per_s": SPEED_M_PER_S},
            }
        ],
        "topology": {"file": str(path), "association": "nearest"},
        "channel": {
            "pathloss": {"model": "log-distance", "exponent": EXPONENT},
            "shadowing_std_db": 0.0,
            "fading": {"law": "none"},
        },
        "policy": {"name": "fixed", "params": {"split": 0, "tx_power_w": 0.1}},
        "handover": {
            "step_s": STEP_S,
            "hysteresis_db": HYSTERESIS_DB,
            "time_to_trigger_s": TTT_S,
            "interruption_s": 0.05,
        },
    }
    for key, value in changes.items():
        data[key] = value
    return scenario_from_dict(data)


def a3_step() -> int:
    """The closed form: the A3 event holds once ``x/(D − x) > 10^(H/(10α))``, i.e. past
    ``x* = D·r/(1 + r)``; it first holds at the first step past x*, and the handover comes
    ``ceil(TTT/step)`` steps later."""
    ratio = 10.0 ** (HYSTERESIS_DB / (10.0 * EXPONENT))
    crossing_m = ISD_M * ratio / (1.0 + ratio)
    first = math.floor((crossing_m - START_M) / (SPEED_M_PER_S * STEP_S)) + 1
    return first + math.ceil(TTT_S / STEP_S)


def test_a_device_crossing_two_cells_hands_over_once_at_the_a3_point(tmp_path: Path) -> None:
    result = simulate(line_scenario(tmp_path), seed=1)
    table = result.read_handovers()
    assert len(table) == 1  # past the second site it stays there: no ping-pong
    assert table["time_s"].tolist() == [a3_step() * STEP_S]
    assert (table["from_cell"].tolist(), table["to_cell"].tolist()) == (["ap-0"], ["ap-1"])
    # the hysteresis holds it back past the midpoint (x* = 557 m, not 500 m)
    assert a3_step() * STEP_S * SPEED_M_PER_S + START_M > ISD_M / 2 + 50.0
    trace = result.trace
    after = trace["t_arrival"] > a3_step() * STEP_S + 0.05
    # requests arriving after the handover go to the new cell's own server
    assert set(trace.loc[after, "server_id"].astype(str)) == {"edge-1"}
    assert set(trace.loc[~after, "server_id"].astype(str)) == {"edge-0"}


def test_without_time_to_trigger_or_hysteresis_it_hands_over_at_the_midpoint(
    tmp_path: Path,
) -> None:
    scenario = line_scenario(
        tmp_path, handover={"step_s": STEP_S, "hysteresis_db": 0.0, "time_to_trigger_s": 0.0}
    )
    table = simulate(scenario, seed=1).read_handovers()
    midpoint_step = math.floor((ISD_M / 2 - START_M) / (SPEED_M_PER_S * STEP_S)) + 1
    assert table["time_s"].tolist() == [midpoint_step * STEP_S]


def _gain(x_m: float, cell: int) -> float:
    return float(log_distance_gain(abs(x_m - cell * ISD_M), -30.0, 1.0, EXPONENT))


@pytest.mark.parametrize(
    ("in_flight", "sharing"),
    [("continue", "ps"), ("restart", "ps"), ("continue", "fifo"), ("continue", "fdma")],
)
def test_an_upload_caught_by_a_handover_pauses_then_goes_on_at_the_new_cell(
    tmp_path: Path, in_flight: str, sharing: str
) -> None:
    """A request arrives 0.25 s before the handover on a 300 Hz band (its 4096 bits take
    about 0.7 s): its upload runs at the first cell's rate until the handover, pauses 50 ms,
    then sends the bits left (or all) at the second cell's rate at the resumption step; alike
    whichever sharing discipline takes it off the first cell's band."""
    ho_s = a3_step() * STEP_S
    arrival_s = ho_s - 0.25
    band_hz = 300.0
    scenario = line_scenario(
        tmp_path,
        band_hz,
        sharing,
        duration_s=None,
        requests=2,  # the first arrives at 0, the second at the interval
        devices=[
            {
                "name": "car",
                "arrivals": {
                    "process": "deterministic",
                    "interval_s": arrival_s,
                    "random_phase": False,
                },
                "mobility": {"model": "linear", "speed_m_per_s": SPEED_M_PER_S},
            }
        ],
        handover={
            "step_s": STEP_S,
            "hysteresis_db": HYSTERESIS_DB,
            "time_to_trigger_s": TTT_S,
            "interruption_s": 0.05,
            "in_flight": in_flight,
        },
    )
    result = simulate(scenario, seed=1)
    row = result.trace.set_index("t_arrival").loc[arrival_s]
    n0 = Cell(id="ap", bandwidth_hz=band_hz).noise_w_per_hz  # the access points' default
    x_start = START_M + SPEED_M_PER_S * STEP_S * math.floor(arrival_s / STEP_S + 1e-9)
    resume_s = ho_s + 0.05
    x_resume = START_M + SPEED_M_PER_S * STEP_S * math.floor(resume_s / STEP_S + 1e-9)
    rate_a = shannon_rate_bps(0.1, _gain(x_start, 0), band_hz, n0)
    rate_b = shannon_rate_bps(0.1, _gain(x_resume, 1), band_hz, n0)
    bits = row["payload_bits"]
    sent_before = rate_a * (ho_s - arrival_s)
    left = bits - sent_before if in_flight == "continue" else bits
    assert bits > sent_before  # the handover does catch it
    expected = (ho_s - arrival_s) + 0.05 + left / rate_b
    assert row["latency_uplink_s"] == pytest.approx(expected, rel=1e-9)
    assert row["handovers"] == 1
    assert row["server_id"] == "edge-1"  # the new cell routes it to its own server
    # energy counts the time on the air, not the interruption
    on_air = expected - 0.05
    assert row["energy_uplink_j"] == pytest.approx(0.1 * on_air, rel=1e-9)


def test_mobility_at_speed_zero_gives_todays_trace_row_for_row() -> None:
    data = yaml.safe_load((EXAMPLES / "hex-city.yaml").read_text())
    data["duration_s"] = 4.0
    data["warmup_s"] = 0.0
    today = simulate(scenario_from_dict(data), seed=3).trace
    still = [
        {"model": "linear", "speed_m_per_s": 0.0},
        {"model": "random-waypoint", "speed_min_m_per_s": 0.0, "speed_max_m_per_s": 0.0},
    ]
    for group, mobility in zip(data["devices"], still, strict=True):
        group["mobility"] = mobility
    moving = simulate(scenario_from_dict(data), seed=3)
    assert len(moving.read_handovers()) == 0
    assert moving.trace.equals(today)


def _setting(seed: int, step_s: float = 0.1, start: tuple[float, float] = (0.0, 0.0)) -> Any:
    return MobilitySetting(
        start_m=start,
        area=Area(x_min_m=0, y_min_m=0, x_max_m=100, y_max_m=100),
        step_s=step_s,
        rng=lambda: np.random.default_rng(seed),
    )


def test_gauss_markov_velocity_has_its_stationary_mean_variance_and_memory() -> None:
    a, mu, sigma, step, n = 0.9, 2.0, 1.0, 0.1, 40_000
    params = GaussMarkovMobility(
        memory=a, mean_speed_m_per_s=mu, mean_direction_deg=0.0, speed_std_m_per_s=sigma
    )
    positions = GaussMarkovModel(params, _setting(7, step)).positions(n)
    velocity = np.diff(positions, axis=0) / step
    # standard errors of an AR(1) sample of n: the mean's, and the variance's
    se_mean = sigma * math.sqrt((1 + a) / (1 - a) / n)
    se_var = sigma**2 * math.sqrt(2 * (1 + a * a) / (1 - a * a) / n)
    assert velocity[:, 0].mean() == pytest.approx(mu, abs=4 * se_mean)
    assert velocity[:, 1].mean() == pytest.approx(0.0, abs=4 * se_mean)
    assert velocity[:, 0].var() == pytest.approx(sigma**2, abs=4 * se_var)
    assert velocity[:, 1].var() == pytest.approx(sigma**2, abs=4 * se_var)
    lag_one = np.corrcoef(velocity[:-1, 1], velocity[1:, 1])[0, 1]
    assert lag_one == pytest.approx(a, abs=0.01)


def test_random_waypoint_time_average_speed_is_the_harmonic_mean_of_the_speeds() -> None:
    """Yoon, Liu and Noble (2003): time spent on a leg grows as 1/V, so the speed seen over
    time is 1 / E[1/V] = (v_max − v_min) / ln(v_max / v_min), not the mean (v_min + v_max)/2."""
    low, high, step, n = 1.0, 5.0, 0.2, 100_000
    params = RandomWaypointMobility(speed_min_m_per_s=low, speed_max_m_per_s=high)
    positions = RandomWaypointModel(params, _setting(11, step, (50.0, 50.0))).positions(n)
    covered = np.hypot(*np.diff(positions, axis=0).T).sum()
    average = covered / ((n - 1) * step)
    harmonic = (high - low) / math.log(high / low)
    # about 1000 legs: a standard error near 2 % (seen over seeds); 4 of them
    assert average == pytest.approx(harmonic, rel=0.08)
    assert abs(average - (low + high) / 2) > 0.15 * harmonic  # not the plain mean


def _track(seed: int) -> RadioTrack:
    cells = np.array([[0.0, 0.0], [300.0, 0.0], [150.0, 260.0]])
    params = RandomWaypointMobility(
        speed_min_m_per_s=5.0,
        speed_max_m_per_s=15.0,
        area=Area(x_min_m=-50, y_min_m=-50, x_max_m=350, y_max_m=310),
    )
    pathloss = pathloss_model(LogDistancePathLoss())
    start = (20.0, 10.0)
    distances = np.hypot(*(cells - np.array(start)).T)
    gains = tuple(float(g) for g in pathloss.gains(distances, lambda: None))  # type: ignore[arg-type,return-value]
    plan = MobileDevice(0, params, start, gains, (0.0, 0.0, 0.0))
    setting = _setting(seed, 0.1, start)
    return RadioTrack(
        RandomWaypointModel(params, setting),
        plan,
        cells,
        pathloss,
        6.0,
        30.0,
        2.0,
        2,
        0,
        lambda: np.random.default_rng(seed + 1),
        lambda: np.random.default_rng(seed + 2),
    )


def test_a_track_updated_when_asked_equals_one_updated_every_step() -> None:
    every, lazy = _track(5), _track(5)
    asked = [3, 4, 40, 41, 97, 250, 251, 600, 1500, 3000]
    positions = {}
    for k in range(1, asked[-1] + 1):
        every.advance(k)
        if k in asked:
            positions[k] = every.position_m.copy()
    for k in asked:
        lazy.advance(k)
        np.testing.assert_array_equal(lazy.position_m, positions[k])
    assert lazy.cells == every.cells
    assert lazy.serving_gains == every.serving_gains
    assert lazy.handover_steps == every.handover_steps
    assert len(lazy.handover_steps) > 2  # it did move between the cells


def test_mobility_without_a_topology_is_refused_naming_the_field() -> None:
    with pytest.raises(InputError, match=r"devices\[0\]\.mobility.*needs a topology"):
        scenario_from_dict(
            {
                "requests": 1,
                "devices": [
                    {
                        "name": "walker",
                        "arrivals": {"process": "poisson", "rate_per_s": 1.0},
                        "mobility": {"model": "random-waypoint"},
                    }
                ],
            }
        )


def test_a_trace_path_missing_a_column_is_refused_naming_the_file_field(tmp_path: Path) -> None:
    (tmp_path / "walk.csv").write_text("t,x_m,y_m\n0,0,0\n1,1,0\n")
    scenario = line_scenario(
        tmp_path,
        devices=[
            {
                "name": "car",
                "arrivals": {"process": "deterministic", "interval_s": 1.0},
                "mobility": {"model": "trace", "file": str(tmp_path / "walk.csv")},
            }
        ],
    )
    with pytest.raises(InputError, match=r"devices\[0\]\.mobility\.file.*no column 'time_s'"):
        simulate(scenario, seed=1)


def test_a_replayed_gps_path_moves_the_device_by_its_metres(tmp_path: Path) -> None:
    """0.009° of latitude is 1000.8 m north on a 6371 km sphere; replayed from the device's
    own position, linearly interpolated on the grid."""
    (tmp_path / "gps.csv").write_text("time_s,lon,lat\n0,-93.2,44.97\n100,-93.2,44.979\n")
    from coinfer.emulator.engine.mobility import TraceModel
    from coinfer.emulator.scenario.mobility import TraceMobility

    params = TraceMobility(file=str(tmp_path / "gps.csv"), x_column="lon", y_column="lat", gps=True)
    path = params.read_data("devices[0].mobility")
    setting = MobilitySetting((5.0, 7.0), _setting(0).area, 10.0, lambda: None, path)  # type: ignore[arg-type,return-value]
    positions = TraceModel(params, setting).positions(10)
    north = 6_371_000.0 * math.radians(0.009)
    np.testing.assert_allclose(positions[:, 0], 5.0, atol=1e-9)
    np.testing.assert_allclose(positions[:, 1], 7.0 + north * np.arange(1, 11) / 10, rtol=1e-12)


def test_the_timeline_of_a_moving_run_shows_the_serving_cell_over_time(tmp_path: Path) -> None:
    """A fourth panel: the car's serving cell, ap-0 until the handover, then ap-1."""
    from coinfer.emulator.sweeps.plots import PlotOptions
    from coinfer.emulator.sweeps.timeline import plot_run

    scenario = line_scenario(tmp_path, duration_s=60.0)
    simulate(scenario, seed=1, out_dir=tmp_path / "run")
    assert (tmp_path / "run" / "handovers.parquet").is_file()
    figure = plot_run("timeline", tmp_path / "run", PlotOptions())
    serving = figure.axes[3]
    assert serving.get_ylabel() == "serving cell"
    assert [t.get_text() for t in serving.get_yticklabels()] == ["ap-0", "ap-1"]
    (line,) = serving.get_lines()
    times, cells = line.get_data()
    assert list(times[:2]) == [0.0, a3_step() * STEP_S] and list(cells[:2]) == [0, 1]


def test_the_speed_sweep_varies_the_vehicles_mean_speed_under_three_policies() -> None:
    """examples/sweeps/mobility-speed.yaml (docs/mobility.md): its base is the mobile city,
    whose pedestrians and vehicles both move."""
    from coinfer.emulator.sweeps.plan import load_plan

    plan = load_plan(EXAMPLES.parent / "sweeps" / "mobility-speed.yaml", [], validate=False)
    speeds: dict[str, list[float]] = {}
    for config in plan.configurations:
        speeds.setdefault(config.policy, []).append(
            config.point["devices.1.mobility.mean_speed_m_per_s"]
        )
    assert speeds == {
        policy: [0, 5, 10, 20, 30] for policy in ("on-server", "min-latency", "joint")
    }
    assert plan.seeds == (1, 2, 3, 4)
    city = yaml.safe_load((EXAMPLES / "hex-city-mobile.yaml").read_text())
    assert [g["mobility"]["model"] for g in city["devices"]] == ["random-waypoint", "gauss-markov"]


def test_a_handover_during_the_harq_tail_of_an_nr_upload_leaves_it_to_end_in_its_cell():
    """On NR cells an upload's last block is followed by its HARQ re-sends (docs/radio.md): its
    bits are then all on air, off the band, and a handover falling due leaves it to end in its
    old cell (it was taken off a band it no longer held: a crash, found by the mobility sweep)."""
    scenario = load_scenario(
        "examples/scenarios/hex-city-mobile.yaml",
        ["devices.1.mobility.mean_speed_m_per_s=20", "policy={name: min-latency}"],
    )
    trace = simulate(scenario, seed=3).trace
    assert trace["request_id"].is_unique
    assert (trace["status"] == "completed").all()
    assert trace["handovers"].sum() > 0
    assert (trace["latency_uplink_s"] >= 0.0).all()


def test_the_timeline_lists_numbered_cells_in_numeric_order() -> None:
    """Cells ap-0 … ap-11 on the serving-cell axis go ap-2 before ap-10, not as text sorts them."""
    from coinfer.emulator.sweeps.timeline import natural_order

    names = [f"ap-{i}" for i in (10, 2, 0, 11, 1)]
    assert sorted(names, key=natural_order) == ["ap-0", "ap-1", "ap-2", "ap-10", "ap-11"]
    assert sorted(["edge-b", "edge-a", "7"], key=natural_order) == ["7", "edge-a", "edge-b"]
