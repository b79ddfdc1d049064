"""The warm-up, counted the same way everywhere (issue 16, point 7): the run header, the summary
and ``read_trace(warmup=False)`` / ``measured_trace`` leave out the same requests; ``trace``
keeps them, marked by its ``warmup`` column."""

from pathlib import Path

from coinfer.emulator.api.run import simulate
from coinfer.emulator.cli.main import main
from coinfer.emulator.scenario.schema import load_scenario

BUSY = Path(__file__).resolve().parents[2] / "examples" / "scenarios" / "busy-cell.yaml"
SHORT = ["duration_s=4", "warmup_s=1"]


def test_the_measured_rows_are_the_summarys_requests(tmp_path):
    result = simulate(load_scenario(BUSY, SHORT), out_dir=tmp_path)
    trace, measured = result.trace, result.measured_trace
    assert trace["warmup"].any() and not measured["warmup"].any()
    assert len(measured) == result.summary.requests == (~trace["warmup"]).sum()
    assert len(trace) == result.stats.requests
    read = result.read_trace(["request_id", "latency_s"], warmup=False)
    assert list(read.columns) == ["request_id", "latency_s"]
    assert read["request_id"].tolist() == measured["request_id"].tolist()


def test_the_run_header_counts_what_the_summary_counts(capsys, tmp_path):
    argv = ["run", str(BUSY), "--out", str(tmp_path / "r")]
    assert main([*argv, *(x for pair in SHORT for x in ("--set", pair))]) == 0
    header, _, table = capsys.readouterr().out.partition("\n\n")
    requests = int(next(r for r in table.splitlines() if r.startswith("requests")).split()[-1])
    assert f"seed 7, {requests} requests after warm-up (" in header
    assert "requests (after warm-up)" in table
