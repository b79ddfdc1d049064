"""Trace replay in the engine, against the channel model it replaces and against hand figures.

* A constant capacity trace equal to the Shannon rate of a link without fading gives, row by
  row, the run of that link (one upload at a time on the whole band: ``fifo``), and under
  processor sharing the cell carries exactly that capacity whenever it is busy.
* A constant SNR trace equal to the SNR of a link without fading gives, row by row, the run of
  that link at any power and under sharing.
* A transfer across the seam of a looping trace takes the time the two stretches give by hand.
* Arrivals replay the trace's gaps from each device's own offset, looping, scaled by
  ``time_scale / rate_scale``, with the work scale of each request's tokens.
* Same seed, same bytes; two policies on one seed replay the same arrivals and work.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coinfer.emulator.api.run import TRACE_FILE, prepare, simulate
from coinfer.emulator.errors import InputError
from coinfer.emulator.model.reference import log_distance_gain, shannon_rate_bps
from coinfer.emulator.scenario.schema import scenario_from_dict
from tests.emulator.replay_fixtures import (
    upload_profile,
    write_arrivals,
    write_capacity,
    write_snr,
)

BAND_HZ = 5e6
NOISE = 2e-19
P_MAX = 0.5  # the paper device's maximum power
GAIN = float(log_distance_gain(500.0))
SHANNON_BPS = shannon_rate_bps(P_MAX, GAIN, BAND_HZ, NOISE)
#: Columns that must agree row by row between a replayed and a modelled link.
COMPARED = [
    "request_id",
    "device_id",
    "split",
    "tx_power_w",
    "payload_bits",
    "t_arrival",
    "t_done",
    "status",
    "latency_s",
    "latency_device_queue_s",
    "latency_uplink_s",
    "latency_server_queue_s",
    "energy_uplink_j",
    "energy_total_j",
    "work_scale",
    "gain",
    "bandwidth_hz",
]


def busy_cell(sharing: str, policy: dict, **group) -> dict:
    """Eight paper devices at 500 m sending BERT requests into one cell without fading."""
    return {
        "name": f"replay-{sharing}",
        "requests": 1500,
        "devices": [
            {
                "name": "d",
                "count": 8,
                "arrivals": {"process": "poisson", "rate_per_s": 2.0},
                "work": {"distribution": "exponential", "mean": 1.0},
                "deadline_s": 0.3,
                **group,
            }
        ],
        "cells": [{"id": "c0", "bandwidth_hz": BAND_HZ, "sharing": sharing}],
        "servers": [{"id": "s0", "workers": 2}],
        "policy": policy,
    }


def rows(result) -> pd.DataFrame:
    return result.trace.sort_values("request_id").reset_index(drop=True)[COMPARED]


def assert_same_rows(replayed: pd.DataFrame, modelled: pd.DataFrame) -> None:
    for column in COMPARED:
        left, right = replayed[column].to_numpy(), modelled[column].to_numpy()
        if left.dtype.kind == "f":
            np.testing.assert_allclose(left, right, rtol=1e-9, atol=1e-12, err_msg=column)
        else:
            np.testing.assert_array_equal(left.astype(str), right.astype(str), err_msg=column)


def test_constant_capacity_equals_the_fixed_rate_link(tmp_path):
    """One upload at a time on the whole band (fifo, queues forming): replaying a constant
    capacity equal to the link's Shannon rate at full power reproduces the modelled run row by
    row, the gain the policy saw included (the effective gain of that capacity is the link's
    gain)."""
    link = write_capacity(tmp_path / "flat.csv", [0.0, 1.0], [SHANNON_BPS, SHANNON_BPS])
    policy = {"name": "fixed", "params": {"split": 4}}
    modelled = simulate(scenario_from_dict(busy_cell("fifo", policy)), seed=3)
    replayed_scenario = busy_cell("fifo", policy, link_trace={"kind": "capacity", "file": link})
    replayed = simulate(scenario_from_dict(replayed_scenario), seed=3)
    on_air = modelled.trace["payload_bits"] / SHANNON_BPS
    assert (modelled.trace["latency_uplink_s"] > on_air * 1.01).any(), "uploads should queue"
    assert_same_rows(rows(replayed), rows(modelled))
    assert replayed.stats.cell_busy_s == pytest.approx(modelled.stats.cell_busy_s, rel=1e-9)


def test_shared_capacity_is_divided_among_active_uploads(tmp_path):
    """Processor sharing divides the capacity as it divides the band: n active uploads get
    ``C/n`` each, so the cell carries ``C`` whenever it is busy: Σ payload = C × busy time."""
    capacity = 4e6
    link = write_capacity(tmp_path / "flat.csv", [0.0, 1.0], [capacity, capacity])
    policy = {"name": "fixed", "params": {"split": 4}}
    scenario = busy_cell("ps", policy, link_trace={"kind": "capacity", "file": link})
    result = simulate(scenario_from_dict(scenario), seed=5)
    shared = result.trace["bandwidth_hz"] < BAND_HZ
    assert shared.any(), "uploads should overlap"
    carried = result.trace["payload_bits"].sum()
    assert carried == pytest.approx(capacity * result.stats.cell_busy_s["c0"], rel=1e-9)


@pytest.mark.parametrize("sharing", ["ps", "fdma"])
def test_constant_snr_equals_the_no_fading_link(tmp_path, sharing):
    """An SNR trace equal to the link's SNR at a reference power gives the link's gain, so the
    run equals the modelled one at another power and under sharing, row by row."""
    reference_w = 0.4
    snr_db = 10.0 * math.log10(reference_w * GAIN / (BAND_HZ * NOISE))
    snr = write_snr(tmp_path / "flat-snr.csv", [0.0, 1.0], [snr_db, snr_db])
    policy = {"name": "fixed", "params": {"split": 4, "tx_power_w": 0.2}}
    modelled = simulate(scenario_from_dict(busy_cell(sharing, policy)), seed=4)
    link = {"kind": "snr", "file": snr, "reference_power_w": reference_w}
    replayed = simulate(scenario_from_dict(busy_cell(sharing, policy, link_trace=link)), seed=4)
    assert_same_rows(rows(replayed), rows(modelled))


# ---- a looped trace is continuous --------------------------------------------------------


def by_hand_upload_s(start_s: float, bits: float) -> float:
    """Upload time of ``bits`` from ``start_s`` on 10 Mbit/s for 1 s, 2 Mbit/s for 1 s, looping."""
    t, left = start_s, bits
    while True:
        phase = t % 2.0
        rate, end = (10e6, t - phase + 1.0) if phase < 1.0 else (2e6, t - phase + 2.0)
        if rate * (end - t) >= left:
            return t + left / rate - start_s
        left -= rate * (end - t)
        t = end


def test_a_transfer_across_the_loop_seam_takes_the_right_time(tmp_path):
    """1.2 Mbit uploads every 1.9 s on a trace of period 2 s (no offset): they start ever
    earlier before the seam, in the 2 Mbit/s second, and finish after it at 10 Mbit/s. Each
    upload time equals the hand integration (0.12 s at 0 s, 0.2 s at 1.9 s, 0.28 s at 3.8 s,
    ..., exactly 0.6 s when the slow stretch carries the whole payload)."""
    link = write_capacity(tmp_path / "steps.csv", [0.0, 1.0], [10e6, 2e6])
    profile = upload_profile(tmp_path / "upload.yaml", 1.2e6)
    scenario = scenario_from_dict(
        {
            "name": "seam",
            "requests": 30,
            "devices": [
                {
                    "name": "d",
                    "model": profile,
                    "arrivals": {
                        "process": "deterministic",
                        "interval_s": 1.9,
                        "random_phase": False,
                    },
                    "link_trace": {"kind": "capacity", "file": link, "random_offset": False},
                }
            ],
            "cells": [{"id": "c0", "sharing": "fifo"}],
            "policy": {"name": "fixed", "params": {"split": 0}},
        }
    )
    trace = simulate(scenario, seed=1).trace.sort_values("request_id")
    starts = trace["t_arrival"].to_numpy()
    np.testing.assert_allclose(starts, 1.9 * np.arange(30), rtol=1e-12)
    measured = trace["latency_uplink_s"].to_numpy()
    expected = [by_hand_upload_s(float(t), 1.2e6) for t in starts]
    np.testing.assert_allclose(measured, expected, rtol=1e-9)
    np.testing.assert_allclose(measured[:7], [0.12, 0.2, 0.28, 0.36, 0.44, 0.52, 0.6], rtol=1e-9)
    # 15 loops later the same phases come back (1.9 × 20 = 38 s = 19 periods).
    np.testing.assert_allclose(measured[20:27], measured[:7], rtol=1e-9)


# ---- arrivals --------------------------------------------------------------------------------

TIMES = [0.0, 0.3, 0.35, 1.2, 2.0, 2.05, 3.1]
INPUT_TOKENS = [100, 0, 260, 64, 1000, 128, 31]
OUTPUT_TOKENS = [10, 5, 0, 64, 7, 1, 900]
PERIOD = 3.1 + 3.1 / 6  # the last arrival plus the mean gap
SEQUENCE = 128  # bert-paper's tokens per pass


def arrivals_scenario(path: str, count: int = 5, **arrivals) -> dict:
    return {
        "name": "arrivals",
        "duration_s": 40.0,
        "devices": [
            {
                "name": "d",
                "count": count,
                "arrivals": {"process": "trace", "file": path, **arrivals},
            }
        ],
        "policy": {"name": "fixed", "params": {}},  # everything on the device: cheap
    }


@pytest.fixture
def arrivals_file(tmp_path) -> str:
    return write_arrivals(tmp_path / "arrivals.csv", TIMES, INPUT_TOKENS, OUTPUT_TOKENS)


@pytest.mark.parametrize(("time_scale", "rate_scale"), [(1.0, 1.0), (3.0, 2.0)])
@pytest.mark.parametrize("tokens", ["input", "total"])
def test_arrivals_replay_the_trace_gaps_from_each_devices_offset(
    arrivals_file, time_scale, rate_scale, tokens
):
    """Each device's arrivals are the trace's, looping with period ``last + mean gap``, from its
    own offset, times scaled by ``time_scale / rate_scale``: its work scales are the trace's
    ``max(tokens, 1)/128`` from some request ``j`` on, cyclically; its gaps are the trace's
    from ``j`` on; its first arrival comes before one gap ending at request ``j`` has passed.
    Devices start at different points."""
    scenario = scenario_from_dict(
        arrivals_scenario(
            arrivals_file, time_scale=time_scale, rate_scale=rate_scale, tokens=tokens
        )
    )
    trace = simulate(scenario, seed=12).trace.sort_values("request_id")
    factor = time_scale / rate_scale
    gaps = np.diff(np.append(TIMES, PERIOD)) * factor
    counts = np.array(INPUT_TOKENS) + (np.array(OUTPUT_TOKENS) if tokens == "total" else 0)
    work = np.maximum(counts, 1) / SEQUENCE
    firsts = []
    for _, rows in trace.groupby("device_id", observed=True):
        times = rows["t_arrival"].to_numpy()
        scales = rows["work_scale"].to_numpy()
        assert len(times) > 2 * len(TIMES)  # several loops
        j = int(np.flatnonzero(np.isclose(work, scales[0]))[0])
        order = (j + np.arange(len(times))) % len(TIMES)
        np.testing.assert_allclose(scales, work[order], rtol=1e-12)
        np.testing.assert_allclose(np.diff(times), gaps[order[:-1]], rtol=1e-9, atol=1e-12)
        assert 0.0 <= times[0] < gaps[(j - 1) % len(TIMES)] + 1e-12
        firsts.append(times[0])
    assert len(set(np.round(firsts, 9))) > 1


def test_arrivals_without_offset_start_at_the_trace_start(arrivals_file):
    scenario = scenario_from_dict(arrivals_scenario(arrivals_file, random_offset=False))
    trace = simulate(scenario, seed=2).trace
    for _, rows in trace.groupby("device_id", observed=True):
        times = np.sort(rows["t_arrival"].to_numpy())
        np.testing.assert_allclose(times[: len(TIMES)], TIMES, atol=1e-12)
        np.testing.assert_allclose(times[len(TIMES)], PERIOD, rtol=1e-12)


def test_arrivals_without_tokens_use_the_groups_work_law(tmp_path):
    path = write_arrivals(tmp_path / "times.csv", TIMES)
    data = arrivals_scenario(path, tokens="none")
    data["devices"][0]["work"] = {"distribution": "uniform", "low": 2.0, "high": 3.0}
    trace = simulate(scenario_from_dict(data), seed=2).trace
    assert trace["work_scale"].between(2.0, 3.0).all() and trace["work_scale"].nunique() > 10


# ---- determinism and common random numbers ---------------------------------------------------


def mixed_scenario(directory, split: int = 4) -> dict:
    """Arrivals from a trace, one group on a capacity trace, one on an SNR trace, a PS cell."""
    arrivals = write_arrivals(directory / "a.csv", TIMES, INPUT_TOKENS, OUTPUT_TOKENS)
    capacity = write_capacity(directory / "c.csv", [0.0, 0.5, 0.75], [8e6, 0.0, 20e6])
    snr = write_snr(directory / "s.csv", [0.0, 0.2, 0.9], [12.0, -3.0, 20.0])
    trace_arrivals = {"process": "trace", "file": arrivals, "rate_scale": 0.5}
    return {
        "name": "mixed",
        "duration_s": 30.0,
        "devices": [
            {
                "name": "cap",
                "count": 4,
                "arrivals": trace_arrivals,
                "link_trace": {"kind": "capacity", "file": capacity, "time_scale": 2.0},
            },
            {
                "name": "snr",
                "count": 4,
                "arrivals": trace_arrivals,
                "link_trace": {"kind": "snr", "file": snr, "snr_offset_db": -3.0},
            },
            {"name": "plain", "count": 2, "arrivals": {"process": "poisson", "rate_per_s": 1.0}},
        ],
        "cells": [{"id": "c0", "bandwidth_hz": BAND_HZ, "sharing": "ps"}],
        "channel": {"fading": {"law": "rayleigh", "coherence_time_s": 0.01}},
        "policy": {"name": "fixed", "params": {"split": split}},
    }


def test_same_seed_gives_byte_identical_traces_with_replay(tmp_path):
    scenario = scenario_from_dict(mixed_scenario(tmp_path))
    simulate(scenario, seed=8, out_dir=tmp_path / "a")
    simulate(scenario, seed=8, out_dir=tmp_path / "b")
    first = (tmp_path / "a" / TRACE_FILE).read_bytes()
    assert first == (tmp_path / "b" / TRACE_FILE).read_bytes()
    other = simulate(scenario, seed=9).trace.sort_values("request_id")
    same = simulate(scenario, seed=8).trace.sort_values("request_id")
    assert not np.array_equal(other["t_arrival"].to_numpy(), same["t_arrival"].to_numpy())


def test_policies_on_one_seed_replay_the_same_stretches(tmp_path):
    """Split 4 and split 0 on one seed: the same requests (device, time, work) and, on the SNR
    group, the same gain seen; what they measure differs."""
    split4 = simulate(scenario_from_dict(mixed_scenario(tmp_path, 4)), seed=3).trace
    split0 = simulate(scenario_from_dict(mixed_scenario(tmp_path, 0)), seed=3).trace
    split4, split0 = split4.sort_values("request_id"), split0.sort_values("request_id")
    for column in ("device_id", "t_arrival", "work_scale"):
        np.testing.assert_array_equal(split4[column].to_numpy(), split0[column].to_numpy())
    snr = split4["device_id"].astype(str).str.startswith("snr").to_numpy()
    np.testing.assert_array_equal(split4["gain"].to_numpy()[snr], split0["gain"].to_numpy()[snr])
    assert not np.array_equal(split4["latency_s"].to_numpy(), split0["latency_s"].to_numpy())


def test_replaying_devices_do_not_fade_and_the_others_do(tmp_path):
    """The capacity group's gain is the effective gain of its window capacity; the SNR group's
    gain takes the trace's few values; the plain group fades (many distinct gains)."""
    trace = simulate(scenario_from_dict(mixed_scenario(tmp_path)), seed=3).trace
    group = trace["device_id"].astype(str).str.split("-").str[0]
    snr_gains = trace.loc[group == "snr", "gain"].to_numpy()
    scale = BAND_HZ * NOISE / P_MAX
    levels = 10 ** (np.array([12.0, -3.0, 20.0]) / 10 - 0.3) * scale
    assert np.isclose(snr_gains[:, None], levels[None, :], rtol=1e-12).any(axis=1).all()
    assert trace.loc[group == "plain", "gain"].nunique() > 10


def test_the_sidecar_records_the_replayed_traces(tmp_path):
    import json

    scenario = scenario_from_dict(mixed_scenario(tmp_path))
    simulate(scenario, seed=1, out_dir=tmp_path / "run")
    sidecar = json.loads((tmp_path / "run" / "run.json").read_text())
    fields = [item["field"] for item in sidecar["input_traces"]]
    assert fields == [
        "devices[0].arrivals",
        "devices[0].link_trace",
        "devices[1].arrivals",
        "devices[1].link_trace",
    ]
    link = sidecar["input_traces"][1]
    assert link["reference"] == str(tmp_path / "c.csv")
    assert link["provenance"]["source"] == "c.csv" and link["provenance"]["path"].endswith("c.csv")


# ---- refusals -------------------------------------------------------------------------------


def refused(data: dict, trace_dir=None) -> str:
    with pytest.raises(InputError) as caught:
        prepare(scenario_from_dict(data), trace_dir=trace_dir)
    return str(caught.value)


def test_an_unknown_trace_name_is_refused_naming_the_field():
    data = arrivals_scenario("unused")
    data["devices"][0]["arrivals"] = {"process": "trace", "trace": "azure-2023/nope"}
    message = refused(data)
    assert message.startswith("devices[0].arrivals.trace: unknown trace 'azure-2023/nope'")
    assert "azure-2023/conv" in message


def test_a_missing_registered_file_says_where_it_looked_and_how_to_fetch(tmp_path, monkeypatch):
    monkeypatch.delenv("COINFER_TRACE_DIR", raising=False)
    monkeypatch.setenv("COINFER_CACHE_DIR", str(tmp_path / "cache"))
    data = busy_cell(
        "ps",
        {"name": "fixed"},
        link_trace={"kind": "capacity", "trace": "mahimahi/ATT-LTE-driving.up"},
    )
    message = refused(data, trace_dir=tmp_path / "empty")
    assert message.startswith("devices[0].link_trace.trace: trace 'mahimahi/ATT-LTE-driving.up'")
    assert str(tmp_path / "empty" / "mahimahi" / "ATT-LTE-driving.up") in message
    assert str(tmp_path / "cache") in message
    assert "coinfer traces fetch mahimahi/ATT-LTE-driving.up" in message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"link_trace": {"kind": "capacity", "trace": "azure-2023/conv"}},
            "devices[0].link_trace.trace: trace 'azure-2023/conv' is of kind 'arrivals', "
            "expected kind 'capacity'",
        ),
        (
            {"link_trace": {"kind": "snr", "file": "/nowhere/snr.csv"}},
            "devices[0].link_trace.file: /nowhere/snr.csv: no such file",
        ),
    ],
)
def test_bad_link_traces_are_refused_naming_the_field(change, expected):
    assert refused(busy_cell("ps", {"name": "fixed"}, **change)).startswith(expected)


def test_arrival_traces_that_cannot_give_work_or_loop_are_refused(tmp_path):
    no_tokens = write_arrivals(tmp_path / "times.csv", TIMES)
    assert "devices[0].arrivals.tokens: trace times.csv has no token counts" in refused(
        arrivals_scenario(no_tokens)
    )
    tokens = write_arrivals(tmp_path / "tokens.csv", TIMES, INPUT_TOKENS, OUTPUT_TOKENS)
    vision = arrivals_scenario(tokens)
    vision["devices"][0]["model"] = "resnet-50"
    assert "devices[0].arrivals.tokens: the model has no sequence length" in refused(vision)
    single = write_arrivals(tmp_path / "one.csv", [5.0], [10], [1])
    assert "expected at least two arrivals at different times" in refused(arrivals_scenario(single))
    with pytest.raises(InputError, match="work: the work scale comes from the trace's tokens"):
        data = arrivals_scenario(tokens)
        data["devices"][0]["work"] = {"distribution": "constant"}
        scenario_from_dict(data)
    with pytest.raises(InputError, match="exactly one of trace"):
        scenario_from_dict(arrivals_scenario(tokens, trace="azure-2023/conv"))


def test_replay_works_with_a_topology(tmp_path):
    """In a networkx deployment (the hexagonal city), the phones replay a constant capacity on
    whichever cell they joined: each gets a link on its own cell's band, and the gain each phone
    request saw is the effective gain of that capacity on its share (Shannon at full power on the
    share gives the share of the capacity); the other devices keep their channel model."""
    from coinfer.emulator.deployment.replay_links import CapacityLink
    from coinfer.emulator.scenario.schema import load_scenario

    capacity = 3e6
    link = write_capacity(tmp_path / "flat.csv", [0.0, 1.0], [capacity, capacity])
    scenario = load_scenario(
        Path(__file__).resolve().parents[2] / "examples" / "scenarios" / "hex-city.yaml",
        [f"devices.0.link_trace={{kind: capacity, file: {link}}}", "duration_s=5"],
    )
    deployment, _ = prepare(scenario)
    phones = [d for d in deployment.devices if d.group == "phone"]
    assert phones and all(isinstance(d.link, CapacityLink) for d in phones)
    assert all(d.link.band_hz == deployment.cells[d.cell].bandwidth_hz for d in phones)
    assert all(d.link is None for d in deployment.devices if d.group != "phone")
    trace = simulate(scenario).trace
    phone = trace[trace["device_id"].astype(str).str.startswith("phone")]
    cells = {cell.id: cell for cell in deployment.cells}
    p_max = phones[0].hardware.max_tx_power_w
    for gain, share_hz, cell_id in zip(
        phone["gain"], phone["bandwidth_hz"], phone["cell_id"].astype(str), strict=True
    ):
        cell = cells[cell_id]
        seen = shannon_rate_bps(p_max, gain, share_hz, cell.noise_psd_w_per_hz)
        assert seen == pytest.approx(capacity * share_hz / cell.bandwidth_hz, rel=1e-9)
