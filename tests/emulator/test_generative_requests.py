"""Generative requests from the scenario to the trace: where their tokens come from, what is
refused and why, how the rows of one-pass requests change, and what a run costs in events.

A device group of a decoder model with ``tokens`` sends generative requests; every other group
keeps working as before (its rows only gain the generative columns, 0 or NaN, when the run has
generative requests at all).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import simpy

from coinfer.emulator.api.run import simulate
from coinfer.emulator.engine.token_log import TokenArena
from coinfer.emulator.errors import InputError
from coinfer.emulator.scenario.schema import scenario_from_dict
from coinfer.emulator.trace.columns import GENERATIVE_TRACE, TRACE
from coinfer.policies.base import Decision, PolicyError, check_decision
from tests.decomposition import assert_generative_parts_add_up
from tests.policies.contexts import context as policy_context


def generative_group(tokens=None, **changes):
    return {
        "name": "phone",
        "count": 5,
        "hardware": "jetson-agx-orin",
        "model": "llama-3-8b",
        "arrivals": {"process": "poisson", "rate_per_s": 0.5},
        "tokens": tokens
        or {
            "prompt": {"distribution": "uniform", "low": 20, "high": 300},
            "output": {"distribution": "lognormal", "mean": 20, "sigma": 0.5},
        },
        **changes,
    }


def scenario(devices, policy=None, requests=60, **changes):
    return scenario_from_dict(
        {
            "name": "gen",
            "seed": 4,
            "requests": requests,
            "devices": devices,
            "cells": [{"id": "c", "bandwidth_hz": 50e6, "sharing": "ps"}],
            "servers": [{"id": "s", "hardware": "a100", "discipline": "continuous-batching"}],
            "downlink": {"rate_bps": 20e6},
            "policy": policy or {"name": "on-server"},
            **changes,
        }
    )


# ---- tokens ------------------------------------------------------------------------------------


def test_token_counts_are_whole_numbers_from_their_laws(tmp_path):
    law = tmp_path / "prompts.csv"
    law.write_text("# prompts seen in a chat log\nprompt\n40\n120\n900\n", encoding="utf-8")
    tokens = {
        "prompt": {"distribution": "empirical", "file": str(law)},
        "output": {"distribution": "uniform", "low": 0.5, "high": 8.5},
    }
    trace = simulate(scenario([generative_group(tokens)], requests=300)).trace
    assert set(trace["prompt_tokens"]) == {40, 120, 900}
    assert set(trace["output_tokens"]) == set(range(1, 9))
    assert trace["output_tokens"].dtype == np.int64
    assert (trace["work_scale"] == 1.0).all()


def test_a_constant_law_rounds_its_value_and_never_goes_below_one_token():
    tokens = {
        "prompt": {"distribution": "constant", "value": 99.6},
        "output": {"distribution": "constant", "value": 0.2},
    }
    trace = simulate(scenario([generative_group(tokens)], requests=10)).trace
    assert (trace["prompt_tokens"] == 100).all() and (trace["output_tokens"] == 1).all()
    assert trace["tpot_s"].isna().all() and trace["itl_p99_s"].isna().all()


def test_two_policies_see_the_same_tokens_on_the_same_seed():
    """Common random numbers: each device draws its counts from its own streams."""
    runs = [
        simulate(scenario([generative_group()], policy=policy)).trace.sort_values("request_id")
        for policy in ({"name": "on-server"}, {"name": "split", "params": {"layer": 5}})
    ]
    for column in ("t_arrival", "prompt_tokens", "output_tokens"):
        assert runs[0][column].tolist() == runs[1][column].tolist()


def test_tokens_may_come_from_an_arrival_trace(tmp_path):
    path = tmp_path / "chat.csv"
    rows = [(0.0, 120, 30), (0.7, 2000, 5), (1.1, 0, 0), (2.5, 64, 300)]
    path.write_text(
        "time,input_tokens,output_tokens\n" + "\n".join(",".join(map(str, r)) for r in rows),
        encoding="utf-8",
    )
    group = generative_group(
        "trace",
        count=1,
        arrivals={"process": "trace", "file": str(path), "random_offset": False},
    )
    trace = simulate(scenario([group], requests=8)).trace.sort_values("request_id")
    expected = [(max(p, 1), max(o, 1)) for _, p, o in rows] * 2
    assert list(zip(trace["prompt_tokens"], trace["output_tokens"], strict=True)) == expected


# ---- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model": "bert-paper"}, "devices[0].tokens: model 'bert-paper'"),
        ({"tokens": "trace"}, "tokens: 'trace' takes the tokens of a replayed arrival trace"),
        ({"work": {"distribution": "exponential"}}, "work: generative requests"),
        (
            {
                "tokens": {
                    "prompt": {"distribution": "empirical", "file": "nowhere.csv"},
                    "output": {"distribution": "constant", "value": 3},
                }
            },
            "devices[0].tokens.prompt.file",
        ),
    ],
)
def test_a_group_that_cannot_generate_is_refused_naming_the_field(change, message):
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        simulate(scenario([generative_group(**change)]))


def test_one_pass_requests_cannot_go_to_a_continuous_batching_server():
    one_pass = {
        "name": "bert",
        "arrivals": {"process": "poisson", "rate_per_s": 1.0},
        "deadline_s": 1.0,  # on-server optimises a one-pass request's power within T0
    }
    with pytest.raises(InputError, match="serves generative requests only"):
        simulate(scenario([one_pass, generative_group()]))


def test_a_mode_that_contradicts_the_split_is_refused():
    context = policy_context()
    last = context.model.last_split
    base = Decision(last, 1.0, 1.0, 0.1, 1e9, 1e9, 0.0, 0.0, 0.0)
    check_decision("p", base._replace(mode="on-device"), context)
    check_decision("p", base._replace(split=0, mode="on-server"), context)
    check_decision("p", base._replace(split=3, mode="split"), context)
    with pytest.raises(PolicyError, match="mode='split' with split=0"):
        check_decision("p", base._replace(split=0, mode="split"), context)
    with pytest.raises(PolicyError, match="mode='sideways'"):
        check_decision("p", base._replace(mode="sideways"), context)


def test_a_device_side_that_does_not_fit_the_device_is_infeasible_for_memory():
    """Llama-3-8B in FP16 (16 GB of weights) does not fit a 12.9 GB phone: on-device is refused
    with reason memory; split after 8 layers, its 4 GB do."""
    phone = generative_group(hardware="phone-soc")
    on_device = simulate(scenario([phone], policy={"name": "on-device"}, requests=5)).trace
    assert (on_device["status"] == "infeasible").all()
    assert (on_device["reason"] == "memory").all()
    assert (on_device["t_done"] == on_device["t_arrival"]).all()
    assert (on_device[["energy_total_j", "kv_peak_bytes_device"]] == 0).all().all()
    split = simulate(scenario([phone], policy={"name": "split", "params": {"layer": 9}})).trace
    assert (split["status"] == "completed").all() and (split["reason"] == "").all()


def test_a_request_the_server_could_never_hold_is_infeasible_for_server_capacity():
    long = generative_group(
        tokens={
            "prompt": {"distribution": "constant", "value": 5000},
            "output": {"distribution": "constant", "value": 10},
        }
    )
    trace = simulate(scenario([long], requests=3)).trace  # vLLM: 2,048 batched tokens at most
    assert (trace["status"] == "infeasible").all()
    assert (trace["reason"] == "server-capacity").all()


# ---- the trace --------------------------------------------------------------------------------


def test_one_pass_rows_keep_their_columns_and_gain_zeros_in_a_generative_run():
    one_pass = {
        "name": "bert",
        "count": 3,
        "arrivals": {"process": "poisson", "rate_per_s": 1.0},
        "cell": "c",
    }
    data = scenario([generative_group()]).model_dump(mode="json")
    data["devices"].append(one_pass)
    data["cells"].append({"id": "c2", "server": "s2"})
    data["devices"][1]["cell"] = "c2"
    data["servers"].append({"id": "s2"})
    data["policy"] = {"name": "split", "params": {"layer": 4}}
    result = simulate(scenario_from_dict(data))
    trace = result.trace
    assert list(trace.columns) == list(GENERATIVE_TRACE.field_names)
    bert = trace[trace["model"] == "bert-paper"]
    assert len(bert) > 0 and (bert["mode"] == "split").all()
    assert (bert[["prompt_tokens", "output_tokens", "preemptions"]] == 0).all().all()
    assert bert[["ttft_s", "tpot_s", "itl_p99_s", "e2e_s", "energy_per_token_j"]].isna().all().all()
    generative = trace[trace["model"] == "llama-3-8b"]
    assert (generative["e2e_s"] == generative["latency_s"]).all()
    assert_generative_parts_add_up(trace)


def test_a_run_without_generative_requests_writes_the_trace_of_before(tmp_path):
    one_pass = {"name": "bert", "arrivals": {"process": "poisson", "rate_per_s": 1.0}}
    data = {"requests": 20, "devices": [one_pass], "policy": {"name": "fixed"}}
    simulate(scenario_from_dict(data), out_dir=tmp_path)
    assert pq.read_schema(tmp_path / "trace.parquet") == TRACE.schema


def test_the_same_seed_gives_the_same_generative_trace_byte_for_byte(tmp_path):
    runs = []
    for name in ("a", "b"):
        simulate(
            scenario([generative_group()], policy={"name": "split", "params": {"layer": 6}}),
            out_dir=tmp_path / name,
            token_trace=True,
        )
        runs.append(
            [(tmp_path / name / file).read_bytes() for file in ("trace.parquet", "tokens.parquet")]
        )
    assert runs[0] == runs[1]


def test_the_summary_reports_the_generative_figures_from_the_trace():
    result = simulate(scenario([generative_group()], slo={"ttft_s": 0.05, "tpot_s": 0.0105}))
    trace, summary = result.trace, result.summary.generative
    done = trace[trace["status"] == "completed"]
    assert summary["requests"] == len(trace) and summary["completed"] == len(done)
    assert summary["ttft_p99_s"] == pytest.approx(np.quantile(done["ttft_s"], 0.99))
    assert summary["tpot_p50_s"] == pytest.approx(np.nanquantile(done["tpot_s"], 0.5))
    window = result.stats.arrivals_end_s
    assert summary["tokens_per_s"] == pytest.approx(done["output_tokens"].sum() / window)
    device_per_token = done["energy_device_j"] / done["output_tokens"]
    assert summary["device_energy_per_token_j"] == pytest.approx(device_per_token.mean())
    assert 0 < summary["device_energy_per_token_j"] < summary["energy_per_token_j"]
    met = (done["ttft_s"] <= 0.05) & ((done["tpot_s"] <= 0.0105) | done["tpot_s"].isna())
    assert 0 < met.sum() < len(done)  # the objectives split the requests
    assert summary["slo_attainment"] == pytest.approx(met.sum() / len(trace))
    assert "TTFT p50 / p90 / p99" in result.summary.format()


def test_each_row_of_percentiles_in_the_printed_summary_names_every_value_it_shows():
    """A row labelled ``pA / pB / pC`` shows exactly those percentiles, in that order (in ms)."""
    summary = simulate(scenario([generative_group()])).summary
    rows = {}
    for line in summary.format().splitlines()[2:]:
        label, value = re.split(r"\s{2,}", line.strip(), maxsplit=1)
        rows[label] = value
    shown = {label: value for label, value in rows.items() if re.search(r"p\d+ / p\d+", label)}
    itl = "ITL p99 of a request: p50 / p90 / p99"
    for label, value in shown.items():
        levels = re.findall(r"p(\d+)", label.split(":")[-1])
        numbers = [float(v) for v in value.removesuffix(" ms").split(" / ")]
        assert len(numbers) == len(levels), label
        if label == itl:
            g = summary.generative
            expected = [g[f"itl_p99_p{level}_s"] * 1e3 for level in levels]
            assert numbers == pytest.approx(expected, rel=1e-3)
    assert {"TTFT p50 / p90 / p99", "TPOT p50 / p90 / p99", itl} <= set(shown)


# ---- the event economy ------------------------------------------------------------------------


@pytest.fixture
def event_count(monkeypatch):
    """The SimPy events scheduled while the test runs."""
    counter = {"events": 0}
    schedule = simpy.Environment.schedule

    def counting(self, event, priority=1, delay=0):
        counter["events"] += 1
        return schedule(self, event, priority, delay)

    monkeypatch.setattr(simpy.Environment, "schedule", counting)
    return counter


def test_on_server_generation_costs_one_event_per_server_step_not_per_token(event_count):
    result = simulate(scenario([generative_group()], requests=100))
    steps = result.stats.batching["s"]["steps"]
    tokens = result.stats.tokens_delivered
    requests = result.stats.requests
    assert steps < tokens  # batches: a step advances several sequences
    assert event_count["events"] <= steps + 6 * requests


def test_split_generation_costs_a_small_constant_number_of_events_per_token(event_count):
    policy = {"name": "split", "params": {"layer": 6}}
    result = simulate(scenario([generative_group()], policy=policy, requests=100))
    steps = result.stats.batching["s"]["steps"]
    tokens = result.stats.tokens_delivered
    # per token: the device's step, the upload's start and its end; per step one timeout
    assert event_count["events"] <= steps + 4 * tokens + 6 * result.stats.requests


def test_on_device_generation_costs_no_event_beyond_the_arrival(event_count):
    result = simulate(scenario([generative_group()], policy={"name": "on-device"}))
    assert event_count["events"] <= 2 * result.stats.requests + 10


# ---- the token arena --------------------------------------------------------------------------


def test_the_token_arena_keeps_open_segments_when_it_compacts():
    arena = TokenArena(fields=2, capacity=8, slots=2)
    arena.open(0, 3)
    arena.segment(0, 0)[:] = [1.0, 2.0, 3.0]
    arena.open(1, 4)
    arena.segment(1, 1)[:] = [5.0, 6.0, 7.0, 8.0]
    arena.close(0)
    arena.open(2, 6)  # no room at the top: slot 1 moves to the front of a larger arena
    assert arena.segment(1, 1).tolist() == [5.0, 6.0, 7.0, 8.0]
    assert arena.live == 10 and arena.capacity >= 20
    assert pd.Series(arena.start[[1, 2]]).tolist() == [0, 4]
