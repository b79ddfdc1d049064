"""One run split into shards, one per group of independent cells: the same rows and the same
summary as the unsharded run on the same seed; deployments whose cells share a server or a
link, and runs bounded by a number of requests, are refused before any work.

``examples/scenarios/multi-cell.yaml`` falls apart into two parts: cells north and south share
the server l4-a, cell east has l4-b to itself.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from coinfer.emulator.api.run import prepare, simulate
from coinfer.emulator.cli.main import main
from coinfer.emulator.errors import InputError
from coinfer.emulator.scenario.schema import load_scenario
from coinfer.emulator.sweeps.executors import DaskExecutor, SerialExecutor
from coinfer.emulator.sweeps.shards import (
    deal,
    independent_parts,
    renumber_parts,
    simulate_sharded,
)

MULTI_CELL = "examples/scenarios/multi-cell.yaml"
EDGE_CLOUD = "examples/scenarios/edge-cloud.yaml"
SHORT = ["duration_s=8", "warmup_s=2"]


def rows_by_request_id(result) -> pd.DataFrame:
    trace = result.trace.sort_values("request_id").reset_index(drop=True)
    for column in trace.columns:
        if isinstance(trace[column].dtype, pd.CategoricalDtype):
            trace[column] = trace[column].astype(str)
    return trace


def same_summary(a, b) -> bool:
    def equal(x, y):
        if isinstance(x, dict):
            return x.keys() == y.keys() and all(equal(x[k], y[k]) for k in x)
        if isinstance(x, float) and math.isnan(x):
            return math.isnan(y)
        return x == y

    return equal(a.to_dict(), b.to_dict())


@pytest.fixture(scope="module")
def unsharded(tmp_path_factory):
    scenario = load_scenario(MULTI_CELL, SHORT)
    return simulate(scenario, 5, tmp_path_factory.mktemp("plain"), progress=False)


# ---- the parts of a deployment ------------------------------------------------------------------


def test_cells_sharing_a_server_are_one_part_and_a_cell_with_its_own_server_another():
    deployment, _ = prepare(load_scenario(MULTI_CELL))
    cells = [c.id for c in deployment.cells]
    parts = independent_parts(deployment)
    assert [[cells[i] for i in part.cells] for part in parts] == [["north", "south"], ["east"]]
    assert [len(part.devices) for part in parts] == [50, 15]
    assert deal(parts, 2) == [parts[0].devices, parts[1].devices]
    assert deal(parts, 1) == [tuple(range(65))]


def test_cells_tied_by_a_shared_cloud_are_refused_naming_it():
    scenario = load_scenario(EDGE_CLOUD, ["topology.routing=least-loaded"])
    deployment, _ = prepare(scenario)
    with pytest.raises(InputError, match=r"only 1 independent part \(server 'cloud'") as caught:
        simulate_sharded(scenario, 1, "unused", 2, SerialExecutor())
    assert caught.value.argument == "shards"
    # with each cell sent to its own edge server the cloud is out of reach: three parts
    assert len(independent_parts(prepare(load_scenario(EDGE_CLOUD))[0])) == 3
    assert len(independent_parts(deployment)) == 1


def test_moving_devices_tie_the_cells_they_may_hand_over_between():
    scenario = load_scenario("examples/scenarios/hex-city-mobile.yaml")
    deployment, _ = prepare(scenario)
    assert len(independent_parts(deployment)) == 1
    with pytest.raises(InputError, match=r"only 1 independent part \(mobility 'moving devices'"):
        simulate_sharded(scenario, 1, "unused", 2, SerialExecutor())
    # the same city without moving devices falls apart into one part per cell
    static = load_scenario(
        "examples/scenarios/hex-city-mobile.yaml",
        ["devices.0.mobility=null", "devices.1.mobility=null"],
    )
    assert len(independent_parts(prepare(static)[0])) == len(deployment.cells)


def test_cells_that_interfere_are_one_part_per_sub_band():
    own = "topology.routing=own"  # each cell sends to its own site's server
    scenario = load_scenario("examples/scenarios/hex-city-nr.yaml", [own])
    assert scenario.channel.interference is not None
    with pytest.raises(InputError, match=r"only 1 independent part \(band 'sub-band 0'"):
        simulate_sharded(scenario, 1, "unused", 2, SerialExecutor())
    reuse_3 = load_scenario(
        "examples/scenarios/hex-city-nr.yaml", [own, "channel.interference.reuse_factor=3"]
    )
    assert len(independent_parts(prepare(reuse_3)[0])) == 3
    silent = load_scenario(
        "examples/scenarios/hex-city-nr.yaml", [own, "channel.interference=null"]
    )
    assert len(independent_parts(prepare(silent)[0])) == 7


def test_merged_arrivals_are_refused(tmp_path):
    scenario = load_scenario(MULTI_CELL, [*SHORT, "devices.0.arrivals.merged=true"])
    with pytest.raises(InputError, match="expected per-device arrivals when the run is sharded"):
        simulate_sharded(scenario, 1, tmp_path, 2, SerialExecutor())
    assert not any(tmp_path.iterdir())


def test_a_run_bounded_by_a_number_of_requests_is_refused(tmp_path):
    scenario = load_scenario(MULTI_CELL, ["duration_s=null", "requests=100"])
    with pytest.raises(InputError, match="expected a run bounded by duration_s"):
        simulate_sharded(scenario, 1, tmp_path, 2, SerialExecutor())
    assert not any(tmp_path.iterdir())  # refused before any file


# ---- the same run, sharded ----------------------------------------------------------------------


def test_a_sharded_run_has_the_rows_and_the_summary_of_the_unsharded_run(unsharded, tmp_path):
    sharded = simulate_sharded(unsharded.scenario, 5, tmp_path, 2, SerialExecutor())
    assert sorted(p.name for p in (tmp_path / "trace.parquet").iterdir()) == [
        "part-000.parquet",
        "part-001.parquet",
    ]
    assert sharded.devices_per_shard == (50, 15) and sharded.tied_arrivals == 0
    pd.testing.assert_frame_equal(
        rows_by_request_id(sharded.result), rows_by_request_id(unsharded), check_exact=True
    )
    assert same_summary(sharded.result.summary, unsharded.summary)
    sidecar = json.loads((tmp_path / "run.json").read_text())
    assert sidecar["sharding"]["shards"] == 2 and sidecar["requests"] == unsharded.stats.requests


def test_on_a_local_dask_cluster_too(unsharded, tmp_path):
    executor = DaskExecutor(local_workers=2, processes=False)  # threads: starts in a second
    sharded = simulate_sharded(unsharded.scenario, 5, tmp_path, 2, executor)
    pd.testing.assert_frame_equal(
        rows_by_request_id(sharded.result), rows_by_request_id(unsharded), check_exact=True
    )
    assert same_summary(sharded.result.summary, unsharded.summary)


@pytest.mark.slow  # starts a local Dask cluster of two processes from the command line
def test_coinfer_run_shards_on_a_local_dask_cluster_of_processes(unsharded, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["run", MULTI_CELL, "--seed", "5", "--out", str(out), "--json"]
    argv += ["--set", SHORT[0], "--set", SHORT[1], "--shards", "2", "--dask-local", "2"]
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["shards"] == 2 and printed["completed"] == unsharded.summary.completed
    trace = pq.read_table(out / "trace.parquet").to_pandas().sort_values("request_id")
    assert trace["request_id"].tolist() == list(range(len(unsharded.trace)))
    assert np.array_equal(trace["t_done"], unsharded.trace.sort_values("request_id")["t_done"])


def test_a_policy_that_draws_random_numbers_is_refused_after_the_run(tmp_path):
    scenario = load_scenario(MULTI_CELL, [*SHORT, "policy.name=random", "policy.params={}"])
    with pytest.raises(InputError, match="'random' draws random numbers from one stream"):
        simulate_sharded(scenario, 5, tmp_path, 2, SerialExecutor())
    assert not (tmp_path / "trace.parquet").exists()


def test_request_ids_are_renumbered_in_arrival_order_over_the_parts(tmp_path):
    parts = []
    for k, (ids, times) in enumerate((([1, 0, 2], [0.5, 0.1, 0.9]), ([0, 1], [0.2, 0.9]))):
        path = tmp_path / f"part-{k}.parquet"
        table = pa.table({"request_id": pa.array(ids, pa.int64()), "t_arrival": times})
        pq.write_table(table, path)
        parts.append(path)
    tied = renumber_parts(parts)
    assert pq.read_table(parts[0])["request_id"].to_pylist() == [2, 0, 3]  # 0.5, 0.1, 0.9
    assert pq.read_table(parts[1])["request_id"].to_pylist() == [1, 4]  # 0.2, 0.9 (tied)
    assert tied == 1
