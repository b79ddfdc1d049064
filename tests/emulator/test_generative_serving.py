"""Generative serving in the engine, under load: queueing theory, conservation, memory, and the
schedulers' known behaviour.

* With a batch cap of one sequence and no preemption, the continuous-batching server is a FCFS
  queue whose service time is the request's prefill plus its decodes: its mean wait is the
  Pollaczek–Khinchine value of the M/G/1 queue (the law of the service time follows from the
  output-token law), within a 95 % confidence interval by batch means, and its waits follow
  Lindley's recursion exactly.
* Every generated token reaches its device exactly once, a preempted request's recomputation
  included; the KV pool is never overdrawn and is empty again at the end.
* On a mix of chat requests and long prompts, Sarathi's chunked prefills lower the 99th
  percentile inter-token gap against vLLM's prefill-first steps (the Sarathi-Serve paper's
  result); Orca, which reserves each request's KV on admission, never preempts where vLLM does.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import simpy
from scipy import stats

from coinfer.emulator.api.run import simulate
from coinfer.emulator.model.catalog import ModelCatalog
from coinfer.emulator.model.hardware import HardwareCatalog
from coinfer.emulator.model.step_costs import Batch, SideCosts
from coinfer.emulator.model.step_time import make_step_time_model
from coinfer.emulator.scenario.schema import scenario_from_dict
from tests.decomposition import assert_generative_parts_add_up

MODEL = "llama-3-8b"
SERVER = "a100"
PROMPT = 64
OUTPUTS = (1, 2, 2, 3, 5, 8, 13)  #: the empirical law of output tokens (each equally likely)
LOAD = 0.6


def batching_server(**params):
    return {"id": "s", "hardware": SERVER, "discipline": "continuous-batching", **params}


def service_s(output: int) -> float:
    """A request served alone on the server: its prefill and its ``output − 1`` decodes, s."""
    model = ModelCatalog.builtin().get(MODEL)
    side = SideCosts.for_split(model, 0, "server")
    a100 = HardwareCatalog.builtin().get(SERVER)
    roofline = make_step_time_model("roofline")
    steps = [Batch.prefill([PROMPT])] + [Batch.decode([PROMPT + j - 1]) for j in range(1, output)]
    return sum(roofline.step_time_s(step, side, a100) for step in steps)


def mg1_scenario(tmp_path, requests: int, seed: int = 5):
    """20 Poisson sources, on-server, constant prompt and empirical output, one sequence at a
    time: the uploads all take the same time, so requests reach the server as a Poisson
    process of rate λ = LOAD / E[S]."""
    law = tmp_path / "outputs.csv"
    law.write_text("output_tokens\n" + "\n".join(map(str, OUTPUTS)) + "\n", encoding="utf-8")
    mean_s = float(np.mean([service_s(o) for o in OUTPUTS]))
    rate = LOAD / mean_s
    return scenario_from_dict(
        {
            "name": "mg1",
            "seed": seed,
            "requests": requests,
            "warmup_s": 20 * mean_s,
            "devices": [
                {
                    "name": "d",
                    "count": 20,
                    "hardware": "phone-soc",
                    "model": MODEL,
                    "arrivals": {"process": "poisson", "rate_per_s": rate / 20},
                    "tokens": {
                        "prompt": {"distribution": "constant", "value": PROMPT},
                        "output": {"distribution": "empirical", "file": str(law)},
                    },
                }
            ],
            "cells": [{"id": "c", "bandwidth_hz": 20e6, "sharing": "fdma"}],
            "servers": [batching_server(max_sequences=1)],
            "policy": {"name": "on-server"},
        }
    ), rate


def batch_means(values: np.ndarray, batches: int = 25, level: float = 0.95):
    """(mean, half-width of the ``level`` confidence interval) by the method of batch means."""
    means = np.array([chunk.mean() for chunk in np.array_split(values, batches)])
    half = stats.t.ppf(0.5 + level / 2, batches - 1) * means.std(ddof=1) / math.sqrt(batches)
    return float(means.mean()), float(half)


def pollaczek_khinchine(rate: float) -> float:
    """M/G/1 mean wait in queue ``λ·E[S²] / (2·(1 − ρ))``, the service law from the outputs."""
    services = np.array([service_s(o) for o in OUTPUTS])
    rho = rate * services.mean()
    return rate * float((services**2).mean()) / (2 * (1 - rho))


def check_mg1(trace, rate: float, width: float) -> None:
    rows = trace[~trace["warmup"]].sort_values("t_arrival")
    waits = rows["latency_server_queue_s"].to_numpy()
    theory = pollaczek_khinchine(rate)
    mean, half = batch_means(waits)
    print(f"M/G/1 wait: simulated {mean:.5g} ± {half:.2g} s (95 % CI), theory {theory:.5g} s")
    assert half < width * theory, f"CI ±{half:.3g} too wide to test {theory:.4g}"
    assert abs(mean - theory) <= half, f"simulated {mean:.5g} ± {half:.3g}, theory {theory:.5g}"


def test_one_sequence_at_a_time_is_an_mg1_queue(tmp_path):
    scenario, rate = mg1_scenario(tmp_path, requests=5000)
    trace = simulate(scenario).trace
    assert (trace["status"] == "completed").all() and (trace["preemptions"] == 0).all()
    check_mg1(trace, rate, width=0.25)


@pytest.mark.slow
def test_one_sequence_at_a_time_is_an_mg1_queue_closely(tmp_path):
    scenario, rate = mg1_scenario(tmp_path, requests=60_000)
    check_mg1(simulate(scenario).trace, rate, width=0.06)


def test_with_one_sequence_the_waits_follow_lindleys_recursion_exactly(tmp_path):
    """Replayed from the trace's own arrivals at the server and service times, the recursion
    ``W(n+1) = max(0, W(n) + S(n) − A(n+1))`` gives the waits of the trace; every service time is
    the closed form of its output tokens."""
    scenario, _ = mg1_scenario(tmp_path, requests=600)
    trace = simulate(scenario).trace
    rows = trace.assign(at_server=trace["t_arrival"] + trace["latency_uplink_s"])
    rows = rows.sort_values("at_server")
    services = rows["latency_server_compute_s"].to_numpy()
    expected = {o: service_s(o) for o in OUTPUTS}
    np.testing.assert_allclose(services, [expected[o] for o in rows["output_tokens"]], rtol=1e-9)
    free = 0.0
    waits = []
    for arrival, service in zip(rows["at_server"], services, strict=True):
        start = max(arrival, free)
        waits.append(start - arrival)
        free = start + service
    np.testing.assert_allclose(rows["latency_server_queue_s"], waits, rtol=1e-9, atol=1e-9)


# ---- a busy cell: conservation, memory, schedulers ------------------------------------------


def busy_cell(
    scheduler: str,
    *,
    memory_utilisation: float = 0.9,
    long_prompts: bool = False,
    split: int = 0,
    requests: int = 400,
    **server,
):
    """Chat requests from 40 phones on one A100 (and, with ``long_prompts``, a few long
    documents), on-server or split at ``split``."""
    devices = [
        {
            "name": "chat",
            "count": 40,
            "hardware": "jetson-agx-orin",
            "model": MODEL,
            "arrivals": {"process": "poisson", "rate_per_s": 0.5},
            "tokens": {
                "prompt": {"distribution": "lognormal", "mean": 200, "sigma": 0.8},
                "output": {"distribution": "lognormal", "mean": 100, "sigma": 0.8},
            },
        }
    ]
    if long_prompts:
        devices.append(
            {
                "name": "docs",
                "count": 2,
                "hardware": "jetson-agx-orin",
                "model": MODEL,
                "arrivals": {"process": "poisson", "rate_per_s": 0.5},
                "tokens": {
                    "prompt": {"distribution": "uniform", "low": 3000, "high": 6000},
                    "output": {"distribution": "constant", "value": 20},
                },
            }
        )
    policy = {"name": "on-server"} if split == 0 else {"name": "split", "params": {"layer": split}}
    return scenario_from_dict(
        {
            "name": "busy-cell",
            "seed": 11,
            "requests": requests,
            "devices": devices,
            "cells": [{"id": "c", "bandwidth_hz": 100e6, "sharing": "ps"}],
            "servers": [
                batching_server(
                    scheduler=scheduler,
                    memory_utilisation=memory_utilisation,
                    max_batched_tokens=8192,
                    **server,
                )
            ],
            "downlink": {"rate_bps": 50e6},
            "policy": policy,
        }
    )


def tight_pool(scheduler: str, **changes):
    """A pool of about 2,000 blocks (32,000 tokens): 80 GB × 0.225 − 16 GB of weights."""
    return simulate(busy_cell(scheduler, memory_utilisation=0.225, **changes), token_trace=True)


@pytest.fixture(scope="module")
def vllm_tight():
    return tight_pool("vllm")


@pytest.fixture(scope="module")
def orca_tight():
    return tight_pool("orca")


def assert_every_token_arrives_once(result) -> None:
    trace = result.trace
    tokens = result.read_tokens()
    done = trace[trace["status"] == "completed"]
    counts = tokens.groupby("request_id")["token_index"].agg(["count", "min", "max", "nunique"])
    expected = done.set_index("request_id")["output_tokens"]
    assert set(counts.index) == set(expected.index)
    counts = counts.loc[expected.index]
    assert (counts["count"] == expected).all() and (counts["nunique"] == expected).all()
    assert (counts["min"] == 1).all() and (counts["max"] == expected).all()
    assert result.stats.tokens_delivered == expected.sum() == len(tokens)
    assert result.stats.batching["s"]["tokens_emitted"] == expected.sum()
    assert_generative_parts_add_up(trace, tokens)


def test_every_token_arrives_exactly_once_even_when_preempted_requests_recompute(vllm_tight):
    assert vllm_tight.trace["preemptions"].sum() > 0  # the pool was tight enough to preempt
    assert vllm_tight.stats.batching["s"]["preemptions"] == vllm_tight.trace["preemptions"].sum()
    assert (vllm_tight.trace["status"] == "completed").all()
    assert_every_token_arrives_once(vllm_tight)


@pytest.mark.parametrize("run", ["vllm_tight", "orca_tight"])
def test_the_kv_pool_is_never_overdrawn_and_is_empty_at_the_end(run, request):
    server = request.getfixturevalue(run).stats.batching["s"]
    assert 0 < server["kv_peak_blocks"] <= server["kv_blocks"]
    assert server["kv_blocks_in_use"] == 0


def test_orca_never_preempts_where_vllm_does(vllm_tight, orca_tight):
    assert vllm_tight.stats.batching["s"]["preemptions"] > 0
    assert orca_tight.stats.batching["s"]["preemptions"] == 0
    assert (orca_tight.trace["preemptions"] == 0).all()
    assert_every_token_arrives_once(orca_tight)


def test_split_requests_deliver_every_token_once_through_device_and_link():
    result = simulate(busy_cell("vllm", split=9, requests=150), token_trace=True)
    assert (result.trace["mode"] == "split").all()
    assert_every_token_arrives_once(result)


def p99_gap_s(scheduler: str, **server) -> float:
    """The 99th percentile gap between consecutive tokens of a request, all chat requests."""
    result = simulate(
        busy_cell(scheduler, long_prompts=True, requests=500, **server), token_trace=True
    )
    trace = result.trace
    chat = trace[trace["device_id"].astype(str).str.startswith("chat")]["request_id"]
    tokens = result.read_tokens()
    gaps = tokens[tokens["request_id"].isin(chat) & (tokens["token_index"] > 1)]["gap_s"]
    return float(np.quantile(gaps, 0.99))


def test_sarathi_chunked_prefills_lower_the_p99_inter_token_gap_against_vllm():
    """vLLM runs a long prompt's prefill alone while every decode waits for it; Sarathi runs
    it in chunks of 512 tokens beside the decodes. Its p99 gap is well below vLLM's."""
    vllm = p99_gap_s("vllm")
    sarathi = p99_gap_s("sarathi", chunk_size_tokens=512)
    print(f"p99 inter-token gap: vLLM {vllm * 1e3:.1f} ms, Sarathi {sarathi * 1e3:.1f} ms")
    assert sarathi < 0.6 * vllm


def test_a_step_mixing_splits_runs_the_shared_layers_once():
    """Two sequences decode in one step, one on the server from block 1 (split 0), the other
    from block 10 (split 9): the step runs blocks 1..9 for the first alone, then blocks 10..L
    for both, each segment timed by the roofline on the sequences that run it."""
    from coinfer.emulator.deployment.spec import ServerSpec
    from coinfer.emulator.engine.batching import Sequence
    from coinfer.emulator.engine.batching_server import ContinuousBatchingServer

    a100 = HardwareCatalog.builtin().get(SERVER)
    model = ModelCatalog.builtin().get(MODEL)
    spec = ServerSpec(0, "s", a100, 1, "continuous-batching", None)
    server = ContinuousBatchingServer(simpy.Environment(), spec)
    splits = {1: 0, 2: 9}
    server.prepare(model, lambda ids: np.array([splits[i] for i in ids.tolist()]), None)
    scheduler = server.scheduler
    for seq_id in (1, 2):
        scheduler.admit(Sequence(seq_id, prompt_tokens=100, output_tokens=5))
    scheduler.complete_step(scheduler.next_batch())  # both prefilled
    batch = scheduler.next_batch()  # both decode over 100 cached tokens
    roofline = make_step_time_model("roofline")
    front = SideCosts.of_blocks(model, 0, 9)
    back = SideCosts.of_blocks(model, 9, model.num_blocks)
    expected = roofline.step_time_s(Batch.decode([100]), front, a100) + roofline.step_time_s(
        Batch.decode([100, 100]), back, a100
    )
    assert server.step_time_s(batch) == pytest.approx(expected, rel=1e-12)
    whole = SideCosts.of_blocks(model, 0, model.num_blocks)
    both_whole = roofline.step_time_s(Batch.decode([100, 100]), whole, a100)
    both_back = roofline.step_time_s(Batch.decode([100, 100]), back, a100)
    assert both_back < server.step_time_s(batch) < both_whole


def test_a_measured_whole_model_step_is_shared_among_the_blocks_a_split_side_runs():
    """A fitted (or table) model times steps of the whole model. A sequence split after block 9
    runs blocks 10..L on the server: its step gets the share of the measured time that the
    roofline gives those blocks on the same batch; a sequence on the server alone (split 0)
    gets the measured time itself."""
    from coinfer.emulator.deployment.spec import ServerSpec
    from coinfer.emulator.engine.batching import Sequence
    from coinfer.emulator.engine.batching_server import (
        ContinuousBatchingParams,
        ContinuousBatchingServer,
    )

    a100 = HardwareCatalog.builtin().get(SERVER)
    model = ModelCatalog.builtin().get(MODEL)
    fit = {"decode_s": 0.006, "decode_s_per_context_token": 1e-7, "decode_s_per_sequence": 2e-4}
    params = ContinuousBatchingParams(step_time={"model": "fitted", "params": fit})
    measured = make_step_time_model("fitted", fit)
    roofline = make_step_time_model("roofline")
    whole = SideCosts.of_blocks(model, 0, model.num_blocks)
    decode = Batch.decode([100])
    for split, share in (
        (0, 1.0),
        (
            9,
            roofline.step_time_s(decode, SideCosts.of_blocks(model, 9, model.num_blocks), a100)
            / roofline.step_time_s(decode, whole, a100),
        ),
    ):
        spec = ServerSpec(0, "s", a100, 1, "continuous-batching", None, discipline_params=params)
        server = ContinuousBatchingServer(simpy.Environment(), spec)
        server.prepare(model, lambda ids, split=split: np.full(len(ids), split), None)
        server.scheduler.admit(Sequence(1, prompt_tokens=100, output_tokens=5))
        server.scheduler.complete_step(server.scheduler.next_batch())  # prefilled
        batch = server.scheduler.next_batch()  # decodes over 100 cached tokens
        expected = measured.step_time_s(decode, whole, a100) * share
        assert server.step_time_s(batch) == pytest.approx(expected, rel=1e-12)
        assert 0 < share <= 1
