"""The trace writer: the exact required columns, chunked Parquet, bounded buffers."""

import pyarrow.parquet as pq

from coinfer.emulator.api.run import simulate
from coinfer.emulator.scenario.schema import scenario_from_dict
from coinfer.emulator.trace.columns import COLUMN_NAMES, REQUIRED_COLUMNS, SCHEMA

REQUIRED = [
    "request_id",
    "device_id",
    "cell_id",
    "server_id",
    "policy",
    "model",
    "split",
    "rho_device",
    "rho_server",
    "tx_power_w",
    "f_device_hz",
    "f_server_hz",
    "payload_bits",
    "t_arrival",
    "t_done",
    "status",
    "latency_s",
    "latency_device_queue_s",
    "latency_device_compute_s",
    "latency_uplink_s",
    "latency_server_queue_s",
    "latency_server_compute_s",
    "latency_downlink_s",
    "energy_device_compute_j",
    "energy_uplink_j",
    "energy_server_j",
    "energy_device_j",
    "energy_total_j",
    "distortion_bound",
    "predicted_latency_s",
    "predicted_energy_j",
    "deadline_s",
    "deadline_met",
    "energy_budget_j",
]


def test_required_columns_have_exactly_the_specified_names():
    assert list(REQUIRED_COLUMNS) == REQUIRED
    assert list(SCHEMA.names) == list(COLUMN_NAMES)


def test_long_runs_are_written_in_row_groups(tmp_path, monkeypatch):
    import coinfer.emulator.api.run as run_module

    original = run_module.TraceWriter

    def small_chunks(labels, path):
        return original(labels, path, chunk_rows=100)

    monkeypatch.setattr(run_module, "TraceWriter", small_chunks)
    scenario = scenario_from_dict(
        {
            "requests": 1000,
            "devices": [
                {"name": "d", "count": 5, "arrivals": {"process": "poisson", "rate_per_s": 1}}
            ],
            "policy": {"name": "fixed", "params": {"split": 0}},
        }
    )
    result = simulate(scenario, seed=3, out_dir=tmp_path)
    metadata = pq.ParquetFile(tmp_path / "trace.parquet").metadata
    assert metadata.num_rows == 1000 and metadata.num_row_groups == 10
    assert result.trace["request_id"].sort_values().tolist() == list(range(1000))
    assert str(result.trace["device_id"].dtype) == "category"
