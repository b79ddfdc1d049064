"""Replaying the real traces of ``../shared/traces`` in the engine (skipped when absent).

* Every upload over the Mahimahi Verizon LTE uplink (per-millisecond packet opportunities, idle
  68 % of the time) carries exactly the bits the trace delivers between its start and its end.
* The Azure conversation trace replayed from its start gives its own arrival times and the work
  scale of its context tokens.
* The example ``lte-azure`` (shortened) keeps conservation and decomposition and offers the
  load its rate scale says.
* The example ``llm-chat-cell`` (shortened): each phone's generative requests carry the
  conversation trace's context and generated tokens, every one of its output tokens arrives, and
  the latency parts add up.
* The Mooncake conversation trace's input and output lengths become prompt and output tokens.
"""

from __future__ import annotations

import numpy as np
import pytest

from coinfer.emulator.api.run import simulate
from coinfer.emulator.scenario.schema import load_scenario, scenario_from_dict
from coinfer.traces.readers.azure import read_azure_llm
from coinfer.traces.readers.mahimahi import read_mahimahi
from coinfer.traces.readers.mooncake import read_mooncake
from tests.decomposition import (
    LATENCY_COMPONENTS,
    assert_generative_parts_add_up,
    assert_parts_add_up,
)
from tests.emulator.replay_fixtures import upload_profile
from tests.traces.conftest import ROOT, shared_file

VERIZON_UP = "mahimahi/Verizon-LTE-short.up"
AZURE_CONV = "azure-llm-2023/AzureLLMInferenceTrace_conv.csv"
MOONCAKE = "mooncake/conversation_trace.jsonl"


def test_uploads_over_a_mahimahi_link_carry_what_the_trace_delivers(shared_dir, tmp_path):
    """300 uploads of 200 kbit, one every 0.47 s, from the start of the recording (no offset),
    alone on the link: for each, the trace's bits between the upload's start and end equal the
    payload (relative 1e-9), and the end is the earliest such time (a hair earlier carries
    less)."""
    link = read_mahimahi(shared_file(VERIZON_UP))
    payload = 200e3
    scenario = scenario_from_dict(
        {
            "name": "verizon",
            "requests": 300,
            "devices": [
                {
                    "name": "d",
                    "model": upload_profile(tmp_path / "upload.yaml", payload),
                    "arrivals": {
                        "process": "deterministic",
                        "interval_s": 0.47,
                        "random_phase": False,
                    },
                    "link_trace": {
                        "kind": "capacity",
                        "trace": "mahimahi/Verizon-LTE-short.up",
                        "random_offset": False,
                    },
                }
            ],
            "cells": [{"id": "c0", "sharing": "fifo"}],
            "policy": {"name": "fixed", "params": {"split": 0}},
        }
    )
    trace = simulate(scenario, seed=1, trace_dir=shared_dir).trace.sort_values("request_id")
    start = trace["t_arrival"].to_numpy()
    end = start + trace["latency_uplink_s"].to_numpy()
    assert (end[:-1] <= start[1:]).mean() > 0.9  # mostly alone on the link
    alone = np.r_[True, end[:-1] <= start[1:]]
    carried = np.array([link.bits_between(a, b) for a, b in zip(start, end, strict=True)])
    np.testing.assert_allclose(carried[alone], payload, rtol=1e-9)
    earlier = np.array([link.bits_between(a, b - 1e-6) for a, b in zip(start, end, strict=True)])
    assert (earlier[alone] < payload).all()
    assert trace["latency_uplink_s"].max() > 10 * trace["latency_uplink_s"].min()


def test_azure_arrivals_replayed_from_the_start_are_the_trace(shared_dir):
    """One device, no offset, the trace's own rate: the first minute of arrivals are the
    trace's first arrival times, each with the work scale of its context tokens / 512."""
    azure = read_azure_llm(shared_file(AZURE_CONV))
    scenario = scenario_from_dict(
        {
            "name": "azure",
            "duration_s": 60.0,
            "devices": [
                {
                    "name": "d",
                    "model": "gpt2",
                    "arrivals": {
                        "process": "trace",
                        "trace": "azure-2023/conv",
                        "random_offset": False,
                    },
                }
            ],
            "policy": {"name": "fixed", "params": {}},
        }
    )
    trace = simulate(scenario, seed=1, trace_dir=shared_dir).trace.sort_values("request_id")
    n = int((azure.times_s <= 60.0).sum())
    assert len(trace) == n > 150
    np.testing.assert_allclose(trace["t_arrival"], azure.times_s[:n], rtol=1e-12, atol=1e-12)
    expected = np.maximum(azure.input_tokens[:n], 1) / 512
    np.testing.assert_allclose(trace["work_scale"], expected, rtol=1e-12)


def test_the_lte_azure_example_keeps_the_invariants(shared_dir):
    """The example, shortened to 60 s: one row per arrival, every latency part non-negative and
    adding up; about 200 × 0.005 × 5.53 requests/s arrive (within 20 %); work scales are
    context tokens / 512."""
    scenario = load_scenario(
        ROOT / "examples" / "scenarios" / "lte-azure.yaml",
        ["duration_s=60", "warmup_s=0"],
    )
    result = simulate(scenario, seed=2, trace_dir=shared_dir)
    trace = result.trace
    assert len(trace) == result.stats.requests
    assert len(trace) == pytest.approx(200 * 0.005 * 19366 / 3501.7 * 60, rel=0.2)
    assert (trace[LATENCY_COMPONENTS] >= 0).all().all()
    assert_parts_add_up(trace)
    tokens = trace["work_scale"].to_numpy() * 512
    np.testing.assert_allclose(tokens, np.round(tokens), atol=1e-9)


def test_the_llm_chat_cell_example_generates_the_traces_tokens(shared_dir):
    azure = read_azure_llm(shared_file(AZURE_CONV))
    scenario = load_scenario(
        ROOT / "examples" / "scenarios" / "llm-chat-cell.yaml",
        ["duration_s=40", "warmup_s=0"],
    )
    result = simulate(scenario, seed=2, trace_dir=shared_dir, token_trace=True)
    trace = result.trace
    assert len(trace) == pytest.approx(100 * 0.005 * 19366 / 3501.7 * 40, rel=0.25)
    assert (trace["status"] == "completed").all() and (trace["mode"] == "on-server").all()
    pairs = set(
        zip(np.maximum(azure.input_tokens, 1), np.maximum(azure.output_tokens, 1), strict=True)
    )
    assert set(zip(trace["prompt_tokens"], trace["output_tokens"], strict=True)) <= pairs
    tokens = result.read_tokens()
    assert len(tokens) == trace["output_tokens"].sum() == result.stats.tokens_delivered
    assert (trace[LATENCY_COMPONENTS] >= 0).all().all()
    assert_generative_parts_add_up(trace, tokens)


def test_mooncake_requests_generate_their_input_and_output_lengths(shared_dir):
    """A phone replaying the Mooncake conversation trace from its start: its requests carry
    the trace's input and output lengths, in order, as prompt and output tokens."""
    mooncake = read_mooncake(shared_file(MOONCAKE))
    scenario = scenario_from_dict(
        {
            "name": "mooncake",
            "requests": 12,
            "devices": [
                {
                    "name": "phone",
                    "hardware": "jetson-agx-orin",
                    "model": "llama-3-8b",
                    "arrivals": {
                        "process": "trace",
                        "trace": "mooncake/conversation",
                        "random_offset": False,
                        "rate_scale": 0.05,
                    },
                    "tokens": "trace",
                }
            ],
            "servers": [
                {
                    "id": "edge",
                    "hardware": "h100",
                    "discipline": "continuous-batching",
                    "scheduler": "sarathi",
                }
            ],
            "policy": {"name": "on-server"},
        }
    )
    trace = simulate(scenario, trace_dir=shared_dir).trace.sort_values("request_id")
    assert trace["prompt_tokens"].tolist() == np.maximum(mooncake.input_tokens[:12], 1).tolist()
    assert trace["output_tokens"].tolist() == np.maximum(mooncake.output_tokens[:12], 1).tolist()
    done = trace[trace["status"] == "completed"]
    assert len(done) > 0 and (done["ttft_s"] > 0).all()
