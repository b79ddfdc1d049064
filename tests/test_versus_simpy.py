"""The bare SimPy script of ``benchmarks/`` and coinfer's scenario run the same workload.

``benchmarks/versus_simpy.py`` compares coinfer's rate with a bare SimPy script's
(``benchmarks/bare_simpy.py``): the ratio means something only if both emulate the same system.
The link budget is checked exactly, the served load against the M/D/1 closed form, and the mean
latencies of both against each other.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from coinfer.emulator.api.run import simulate
from coinfer.emulator.deployment.build import build_deployment
from coinfer.emulator.scenario.schema import scenario_from_dict

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load(name: str) -> ModuleType:
    """The benchmark script ``name`` as a module (the scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bare_simpy, versus_simpy = load("bare_simpy"), load("versus_simpy")


def test_coinfers_devices_see_the_scripts_mean_snr_payload_and_service():
    """Mean SNR p·g/(B·N0) = 10 dB at the devices' distance; 800,000 bits uploaded at split 0;
    0.1 s of server compute (load 0.8 at 8 requests/s per server)."""
    case = scenario_from_dict(versus_simpy.scenario(100, 10))
    deployment = build_deployment(case, seed=1)
    cell = deployment.cells[0]
    for device in deployment.devices:
        snr = 0.5 * device.mean_gain / (cell.bandwidth_hz * cell.noise_psd_w_per_hz)
        assert snr == pytest.approx(bare_simpy.MEAN_SNR, rel=1e-12)
    table = deployment.devices[0].model.split_table
    assert table.payload_bits[0] == bare_simpy.PAYLOAD_BITS
    server = deployment.servers[0].hardware
    service_s = table.server_flops[0] / (server.f_max_hz * server.flops_per_cycle)
    assert service_s == pytest.approx(bare_simpy.SERVICE_S, rel=1e-12)
    assert len(deployment.devices) == 100 and len(deployment.servers) == bare_simpy.CELLS


def test_both_give_the_same_mean_latency():
    """4,000 requests of 100 devices: M/D/1 at load 0.8 waits ρ·S/(2(1−ρ)) = 0.2 s, served in
    0.1 s, after an upload of about 15 ms; the script's and coinfer's means agree within 12 %
    (one run each: the queue's variance dominates)."""
    bare = bare_simpy.run(100, 4000, seed=1)["mean_latency_s"]
    case = scenario_from_dict(versus_simpy.scenario(100, 4000))
    trace = simulate(case, seed=1).trace
    coinfer = float(trace["latency_s"].mean())
    assert coinfer == pytest.approx(bare, rel=0.12)
    assert float(trace["latency_server_compute_s"].mean()) == pytest.approx(0.1, rel=1e-9)


def test_coinfer_schedules_under_a_third_of_the_scripts_events():
    """The script spends about 10 SimPy events on a request (its process and its start, the
    upload's wake-ups at every start, end and fading block, the server's request, grant,
    service and release); coinfer about 2 (the arrival, and about one uplink wake-up: the FCFS
    server's start and finish are computed on arrival, fading blocks integrated without
    events). Both count what SimPy's own event counter gives after the run."""
    bare = bare_simpy.run(100, 2000, seed=1)
    coinfer = versus_simpy.run_coinfer(100, 2000, seed=1)
    bare_per_request = bare["events"] / bare["requests"]
    coinfer_per_request = coinfer["events"] / coinfer["requests"]
    assert 8.0 < bare_per_request < 12.0
    assert 2.0 < coinfer_per_request < bare_per_request / 3
