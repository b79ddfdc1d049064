"""``coinfer goodput`` on the command line: the answer and its probe table, the same answer on
any executor, and bad input refused with one line and exit status 2."""

from __future__ import annotations

import json

import pytest
import yaml

from coinfer.emulator.cli.main import main

#: Four phones on one A100, on-server; the TPOT SLO is missed from about twice the load.
CHAT = {
    "name": "chat",
    "requests": 60,
    "slo": {"ttft_s": 0.025, "tpot_s": 0.015},
    "devices": [
        {
            "name": "phone",
            "count": 4,
            "hardware": "jetson-agx-orin",
            "model": "llama-3-8b",
            "arrivals": {"process": "poisson", "rate_per_s": 2.0},
            "tokens": {
                "prompt": {"distribution": "constant", "value": 100},
                "output": {"distribution": "constant", "value": 20},
            },
        }
    ],
    "servers": [{"id": "edge", "hardware": "a100", "discipline": "continuous-batching"}],
    "policy": {"name": "on-server"},
}


@pytest.fixture(autouse=True)
def repository_root(monkeypatch, request):
    monkeypatch.chdir(request.config.rootpath)


@pytest.fixture
def chat(tmp_path):
    path = tmp_path / "chat.yaml"
    path.write_text(yaml.safe_dump(CHAT), encoding="utf-8")
    return path


def run_cli(capsys, *argv):
    status = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return status, out, err


def search(capsys, chat, out, *flags):
    status, text, err = run_cli(
        capsys, "goodput", chat, "--seeds", "2", "--tolerance", "0.2", "--out", out, *flags
    )
    assert status == 0, err
    return text


def test_the_answer_the_bracket_and_the_probe_table_are_printed(capsys, chat, tmp_path):
    text = search(capsys, chat, tmp_path / "g", "--serial")
    head, table = text.split("\n\n")
    assert head.startswith(
        "chat (policy on-server): TTFT ≤ 25 ms and TPOT ≤ 15 ms for 90% of the generative "
        "requests (seeds 0..1, pooled)"
    )
    assert "\ngoodput: x = " in head and " req/s, " in head and " output tokens/s" in head
    assert "\nbracket: met at x = " in head and ", missed at x = " in head
    assert " rounds of up to 1; " in head and "runs on this process (serial), 0 reused" in head
    assert table.splitlines()[0].split() == [
        "x", "req/s", "tokens/s", "attainment", "worst", "seed", "TTFT", "p99", "(ms)",
        "TPOT", "p99", "(ms)", "round", "meets",
    ]  # fmt: skip
    assert sum("<- goodput" in line for line in table.splitlines()) == 1

    status, again, _ = run_cli(
        capsys, "goodput", chat, "--seeds", "2", "--tolerance", "0.2", "--out", tmp_path / "g",
        "--serial", "--json",
    )  # fmt: skip
    answer = json.loads(again)
    assert status == 0 and answer["ran"] == 0 and answer["status"] == "found"
    assert f"goodput: x = {answer['load_factor']:.4g}, " in head
    assert answer["slo"] == {"ttft_s": 0.025, "tpot_s": 0.015} and answer["seeds"] == [0, 1]
    assert len(answer["probes"]) == len(table.splitlines()) - 2  # the header and its rule


def test_flags_override_the_scenarios_slo_and_policy(capsys, tmp_path):
    path = tmp_path / "split.yaml"
    path.write_text(yaml.safe_dump({**CHAT, "policy": {"name": "split", "params": {"layer": 4}}}))
    text = search(
        capsys, path, tmp_path / "g", "--serial", "--ttft", "0.5", "--tpot", "0.02",
        "--attainment", "0.5", "--policy", "on-server", "--set", "requests=40", "--json",
    )  # fmt: skip
    answer = json.loads(text)
    assert answer["slo"] == {"ttft_s": 0.5, "tpot_s": 0.02} and answer["target"] == 0.5
    assert all(probe["requests"] == 2 * 40 for probe in answer["probes"])
    record = json.loads((tmp_path / "g" / "goodput.json").read_text())
    assert record["question"]["scenario"]["policy"]["name"] == "on-server"  # its defaults


def test_two_worker_processes_find_what_one_process_finds(capsys, chat, tmp_path):
    serial = json.loads(search(capsys, chat, tmp_path / "serial", "--serial", "--json"))
    parallel = json.loads(search(capsys, chat, tmp_path / "two", "--workers", "2", "--json"))
    assert parallel["executor"] == "2 local processes"
    assert parallel["per_round"] == 2 and serial["per_round"] == 1
    assert parallel["load_factor"] == serial["load_factor"]
    assert parallel["bracket"] == serial["bracket"]
    seen = {p["load_factor"]: p for p in serial["probes"]}
    common = [p for p in parallel["probes"] if p["load_factor"] in seen]
    assert common, "no load factor probed by both"
    for probe in common:  # the runs are the same runs: identical figures
        assert {k: v for k, v in probe.items() if k != "round"} == {
            k: v for k, v in seen[probe["load_factor"]].items() if k != "round"
        }


@pytest.mark.slow
def test_a_local_dask_cluster_finds_what_one_process_finds(capsys, chat, tmp_path):
    serial = json.loads(
        search(capsys, chat, tmp_path / "serial", "--serial", "--per-round", "2", "--json")
    )
    dask = json.loads(search(capsys, chat, tmp_path / "dask", "--dask-local", "2", "--json"))
    assert dask["executor"] == "a local Dask cluster of 2 worker processes"
    assert dask["probes"] == serial["probes"] and dask["bracket"] == serial["bracket"]


@pytest.mark.parametrize(
    ("change", "flags", "message"),
    [
        ({"slo": None}, [], "scenario 'chat' has no slo and no objective was given; expected "
         "--ttft or --tpot"),
        ({}, ["--attainment", "1.5"], "argument --attainment: got '1.5', expected a number in "
         "(0, 1]"),
        ({}, ["--ttft", "0"], "argument --ttft: got '0', expected a number > 0"),
        ({}, ["--lo", "2", "--hi", "1"], "--hi: got 1.0 with lo 2.0, expected hi above lo"),
        ({"devices": [{**CHAT["devices"][0], "arrivals": {
            "process": "tests.emulator.sweeps.plugins:BurstArrivals"}}]}, [],
         "devices[0].arrivals.process: got 'tests.emulator.sweeps.plugins:BurstArrivals' "
         "(group 'phone'), which cannot be scaled"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_with_one_line(capsys, tmp_path, change, flags, message):
    data = {**CHAT, **change}
    data = {k: v for k, v in data.items() if v is not None}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    try:
        status, _, err = run_cli(capsys, "goodput", path, "--out", tmp_path / "g", *flags)
    except SystemExit as stop:  # argparse refuses a bad flag value itself
        status, err = stop.code, capsys.readouterr().err.splitlines()[-1] + "\n"
    assert status == 2 and message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "g").exists()


def test_a_scenario_without_generative_requests_exits_2(capsys, tmp_path):
    scenario = "examples/scenarios/paper-single.yaml"
    status, _, err = run_cli(capsys, "goodput", scenario, "--ttft", "1", "--out", tmp_path / "g")
    assert status == 2 and "no device group sends generative requests" in err
    assert err.count("\n") == 1


def test_a_directory_of_another_search_is_not_overwritten(capsys, chat, tmp_path):
    search(capsys, chat, tmp_path / "g", "--serial")
    before = (tmp_path / "g" / "goodput.json").read_text()
    status, _, err = run_cli(
        capsys, "goodput", chat, "--seeds", "2", "--tolerance", "0.2", "--out", tmp_path / "g",
        "--serial", "--attainment", "0.5",
    )  # fmt: skip
    assert status == 2 and err.startswith(f"coinfer: error: --out: '{tmp_path / 'g'}' holds")
    assert (tmp_path / "g" / "goodput.json").read_text() == before
