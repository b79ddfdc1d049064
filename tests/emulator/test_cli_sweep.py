"""``coinfer sweep``, ``summarize`` and ``plot`` on the command line."""

import json

import pandas as pd
import pytest

from coinfer.emulator.cli.main import main
from coinfer.emulator.cli.sweep import GENERATIVE_METRICS, metric_header
from tests.emulator.sweeps.helpers import GENERATIVE_SWEEP, sweep_data, write_sweep


@pytest.fixture(autouse=True)
def repository_root(monkeypatch, request):
    monkeypatch.chdir(request.config.rootpath)


def run_cli(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def sweep_file(tmp_path):
    return write_sweep(tmp_path, sweep_data(seeds=[1, 2]))


def test_dry_run_lists_configurations_and_runs_nothing(capsys, sweep_file, tmp_path):
    status, out, _ = run_cli(capsys, "sweep", sweep_file, "--dry-run", "--out", tmp_path / "o")
    assert status == 0
    assert "sweep tiny: 4 configurations x 2 seeds (1, 2) = 8 runs; 0 finished" in out
    assert "min-latency" in out and "devices.0.arrivals.rate_per_s" in out
    assert not (tmp_path / "o").exists()


def test_sweep_then_resume_then_summarize_then_plot(capsys, sweep_file, tmp_path):
    out_dir = tmp_path / "out"
    status, out, err = run_cli(capsys, "sweep", sweep_file, "--serial", "--out", out_dir)
    assert status == 0, err
    assert "8 run now on this process (serial), 0 already finished, 0 failed" in out
    assert "latency_p99 (ms)" in out and " ± " in out
    assert "generative" not in out  # one-pass runs: no token figures
    assert err == ""  # no progress bar when stderr is not a terminal

    status, out, _ = run_cli(capsys, "sweep", sweep_file, "--out", out_dir, "--json")
    payload = json.loads(out)
    assert (payload["ran"], payload["skipped"], payload["failed"]) == (0, 8, [])
    assert len(payload["aggregate"]) == 4 and payload["aggregate"][0]["runs"] == 2

    (out_dir / "aggregate.csv").unlink()
    status, out, _ = run_cli(capsys, "summarize", out_dir, "--metric", "throughput_per_s")
    assert status == 0 and "8 of 8 runs finished, 0 failed, 0 not run yet" in out
    assert "throughput_per_s" in out and (out_dir / "aggregate.csv").is_file()
    status, out, _ = run_cli(capsys, "summarize", out_dir, "--json")
    rows = json.loads(out)
    frame = pd.read_parquet(out_dir / "aggregate.parquet")
    assert [row["config_id"] for row in rows] == list(frame["config_id"])
    assert [row["latency_p99_s_mean"] for row in rows] == list(frame["latency_p99_s_mean"])

    status, out, _ = run_cli(capsys, "plot", out_dir, "--kind", "pareto")
    assert status == 0 and (out_dir / "plots" / "pareto.png").stat().st_size > 0
    assert (out_dir / "plots" / "pareto.pdf").stat().st_size > 0
    stem = tmp_path / "figs" / "cdf-fixed"
    status, out, _ = run_cli(
        capsys, "plot", out_dir, "--kind", "cdf", "--where", "policy=fixed", "--out", stem
    )
    assert status == 0 and out.strip() == f"wrote {stem}.png and {stem}.pdf"


def test_failed_runs_are_reported(capsys, tmp_path):
    data = sweep_data(policies=[{"name": "tests.emulator.sweeps.plugins:BrokenPolicy"}], seeds=[1])
    path = write_sweep(tmp_path, data)
    status, out, _ = run_cli(capsys, "sweep", path, "--serial", "--out", tmp_path / "out")
    assert status == 3  # the sweep did its work, but not all of it succeeded
    assert "2 runs failed" in out and "ValueError: broken policy: no decision today" in out
    assert "re-run the same command to retry them" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sweep", "missing.yaml"], "sweep file: 'missing.yaml' does not exist"),
        (["summarize", "examples"], "'examples': not a sweep directory (no readable sweep.json)"),
        (["plot", "examples", "--kind", "cdf"], "not a sweep directory"),
    ],
)
def test_bad_input_exits_2_with_one_message(capsys, argv, message):
    status, _, err = run_cli(capsys, *argv)
    assert status == 2 and message in err and "Traceback" not in err


def test_a_bad_sweep_field_exits_2_naming_it(capsys, tmp_path):
    path = write_sweep(tmp_path, sweep_data(axes={"devices.0.count": [0, 1]}))
    status, _, err = run_cli(capsys, "sweep", str(path), "--dry-run")
    assert status == 2 and "devices[0].count: got 0, expected" in err


def test_bad_flags_exit_2(capsys, sweep_file):
    with pytest.raises(SystemExit) as caught:
        main(["sweep", str(sweep_file), "--workers", "0"])
    assert caught.value.code == 2
    with pytest.raises(SystemExit):
        main(["sweep", str(sweep_file), "--serial", "--dask-local", "2"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_bad_where_and_metric_exit_2(capsys, sweep_file, tmp_path):
    run_cli(capsys, "sweep", sweep_file, "--serial", "--out", tmp_path / "o")
    status, _, err = run_cli(capsys, "plot", tmp_path / "o", "--kind", "cdf", "--where", "x")
    assert status == 2 and "--where: got 'x', expected PATH=VALUE" in err
    status, _, err = run_cli(capsys, "summarize", tmp_path / "o", "--metric", "speed")
    assert status == 2 and "--metric speed: no such metric" in err


@pytest.mark.slow
def test_dask_local_cluster_from_the_command_line(capsys, sweep_file, tmp_path):
    status, out, err = run_cli(
        capsys, "sweep", sweep_file, "--dask-local", "2", "--out", tmp_path / "dask", "--json"
    )
    assert status == 0, err
    assert json.loads(out)["ran"] == 8
    run_cli(capsys, "sweep", sweep_file, "--serial", "--out", tmp_path / "serial")
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "dask" / "aggregate.parquet"),
        pd.read_parquet(tmp_path / "serial" / "aggregate.parquet"),
    )


def test_a_sweep_of_generative_runs_summarizes_their_token_figures(capsys, tmp_path):
    """Modes × load: the aggregate shows TTFT and TPOT p99, tokens/s and SLO attainment."""
    data = sweep_data(GENERATIVE_SWEEP)
    out_dir = tmp_path / "out"
    status, out, err = run_cli(
        capsys, "sweep", write_sweep(tmp_path, data), "--serial", "--out", out_dir
    )
    assert status == 0, err
    header = out.split("\n\n", 1)[1].splitlines()[0]
    for metric, _, unit in GENERATIVE_METRICS:
        assert metric_header(metric, unit) in header
    assert "distortion_mean" not in header  # one-pass figures are not shown for token runs
    status, out, _ = run_cli(capsys, "summarize", out_dir, "--json")
    rows = json.loads(out)
    assert len(rows) == 4 and all(row["generative.slo_attainment_mean"] >= 0 for row in rows)
    for statistic in ("ttft", "tpot", "itl_p99"):
        for level in ("p50", "p90", "p99"):
            assert all(row[f"generative.{statistic}_{level}_s_mean"] > 0 for row in rows)
    results = pd.read_parquet(out_dir / "results.parquet")
    first = results[results["config_id"] == rows[0]["config_id"]]
    assert rows[0]["generative.energy_per_token_j_mean"] == pytest.approx(
        first["generative.energy_per_token_j"].mean()
    )
    assert rows[0]["generative.preemptions_mean"] == first["generative.preemptions"].mean()


def test_a_sweep_reads_the_traces_its_scenarios_replay_from_the_trace_dir(
    capsys, tmp_path, monkeypatch
):
    """``--trace-dir`` reaches the validation and every run (here a synthetic Azure trace whose
    every request has 64 prompt and 4 output tokens); without it the sweep is refused, exit 2."""
    monkeypatch.delenv("COINFER_TRACE_DIR", raising=False)
    monkeypatch.setenv("COINFER_CACHE_DIR", str(tmp_path / "cache"))
    traces = tmp_path / "traces" / "azure-llm-2023"
    traces.mkdir(parents=True)
    rows = [f"2023-11-16 18:00:{second:02d}.0000000,64,4" for second in range(0, 60, 2)]
    (traces / "AzureLLMInferenceTrace_conv.csv").write_text(
        "TIMESTAMP,ContextTokens,GeneratedTokens\n" + "\n".join(rows) + "\n", encoding="utf-8"
    )
    scenario = sweep_data(GENERATIVE_SWEEP)["scenario"]
    scenario["devices"][0]["arrivals"] = {"process": "trace", "trace": "azure-2023/conv"}
    scenario["devices"][0]["tokens"] = "trace"
    data = sweep_data(
        GENERATIVE_SWEEP,
        scenario=scenario,
        axes={"devices.0.arrivals.rate_scale": [1.0, 2.0]},
        policies=["on-server"],
        seeds=[1],
    )
    sweep_file = write_sweep(tmp_path, data)
    out_dir = tmp_path / "out"
    status, _, err = run_cli(capsys, "sweep", sweep_file, "--serial", "--out", out_dir)
    assert status == 2 and "trace 'azure-2023/conv'" in err and "Traceback" not in err
    assert not out_dir.exists()
    status, _, err = run_cli(
        capsys,
        "sweep",
        sweep_file,
        "--serial",
        "--out",
        out_dir,
        "--trace-dir",
        tmp_path / "traces",
    )
    assert status == 0, err
    for trace in out_dir.glob("runs/*/trace.parquet"):
        tokens = pd.read_parquet(trace, columns=["prompt_tokens", "output_tokens"])
        assert (tokens["prompt_tokens"] == 64).all() and (tokens["output_tokens"] == 4).all()
    assert len(list(out_dir.glob("runs/*/summary.json"))) == 2
