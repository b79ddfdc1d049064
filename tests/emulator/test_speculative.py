"""Speculative decoding across the link (``docs/edge-llm.md``): the bridge to its closed forms.

A draft model (Llama-3.2-1B) on the device proposes ``γ`` tokens a round; the target
(Llama-3-8B) verifies them on the server as one ``(γ + 1)``-token chunk of its continuous batch;
the accepted drafts and the target's own token come back on the downlink.

* **α = 1, γ = k**: every round yields ``k + 1`` tokens; alone (one device, one idle server, no
  fading) each token arrives exactly when the chain of closed forms says: the prompt's ids up,
  the server's prefill, the first token down; per round the device's ``k`` draft steps (behind
  its draft prefill), the drafts' ids up, the server's verification step, ``k + 1`` ids down;
  the last token, with one left, decoded by the server alone.
* **α = 0**: one token a round, whatever ``γ``.
* **The acceptance law**: the accepted drafts of a round follow the truncated geometric law;
  their mean matches ``(1 − α^{γ+1})/(1 − α) − 1`` within its confidence interval.
* **Sharing**: verification chunks of many devices share the server's batches; every token
  reaches its device once; the KV pool is empty at the end; the latency parts add up.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from coinfer.emulator.api.run import simulate
from coinfer.emulator.errors import InputError
from coinfer.emulator.model.catalog import ModelCatalog
from coinfer.emulator.model.hardware import HardwareCatalog
from coinfer.emulator.model.reference import log_distance_gain, shannon_rate_bps
from coinfer.emulator.model.speculative import (
    ACCEPTANCE,
    accepted_count,
    expected_tokens_per_round,
)
from coinfer.emulator.model.step_costs import Batch, SideCosts
from coinfer.emulator.model.step_time import clocked_phase_power_w, make_step_time_model
from coinfer.emulator.scenario.schema import scenario_from_dict
from coinfer.policies.drafting import DraftRound, best_draft_tokens
from tests.decomposition import assert_generative_parts_add_up

TARGET, DRAFT = "llama-3-8b", "llama-3.2-1b"
DEVICE, SERVER = "jetson-agx-orin", "l4"
PROMPT, OUTPUT = 300, 12
BANDWIDTH_HZ = 20e6
NOISE_W_PER_HZ = 2e-19
DISTANCE_M = 100.0
DOWNLINK_BPS = 50e6
ARRIVAL_S = 100.0


def scenario(alpha: float, draft_tokens: int, *, count: int = 1, requests: int = 2, **group):
    """``count`` devices whose requests arrive every 100 s, all at once, with a draft of
    acceptance ``alpha`` and the ``speculative`` policy at ``draft_tokens``."""
    return scenario_from_dict(
        {
            "name": "speculative-bridge",
            "requests": requests,
            "devices": [
                {
                    "name": "d",
                    "count": count,
                    "hardware": DEVICE,
                    "model": TARGET,
                    "arrivals": {
                        "process": "deterministic",
                        "interval_s": ARRIVAL_S,
                        "random_phase": False,
                    },
                    "tokens": {
                        "prompt": {"distribution": "constant", "value": PROMPT},
                        "output": {"distribution": "constant", "value": OUTPUT},
                    },
                    "speculative": {"draft": DRAFT, "alpha": alpha},
                    "distance_m": DISTANCE_M,
                    **group,
                }
            ],
            "cells": [{"id": "c", "bandwidth_hz": BANDWIDTH_HZ, "sharing": "fdma"}],
            "servers": [{"id": "s", "hardware": SERVER, "discipline": "continuous-batching"}],
            "downlink": {"rate_bps": DOWNLINK_BPS},
            "policy": {"name": "speculative", "params": {"draft_tokens": draft_tokens}},
        }
    )


def closed_form(arrival_s: float, draft_tokens: int, accepted) -> list[float]:
    """Each token's arrival at the device, s, for a request alone: the chain summed in the order
    the request crosses it (module docstring); ``accepted(γ)``: the drafts a round accepts."""
    catalog = ModelCatalog.builtin()
    target, draft = catalog.get(TARGET), catalog.get(DRAFT)
    hardware = HardwareCatalog.builtin()
    device, server = hardware.get(DEVICE), hardware.get(SERVER)
    roofline = make_step_time_model("roofline")
    server_side = SideCosts.for_split(target, 0, "server")
    draft_side = SideCosts.for_split(draft, draft.last_split, "device")
    rate = shannon_rate_bps(
        device.max_tx_power_w, float(log_distance_gain(DISTANCE_M)), BANDWIDTH_HZ, NOISE_W_PER_HZ
    )
    bits = target.input_bits / target.sequence_length  # one token id
    down = bits / DOWNLINK_BPS
    device_free = arrival_s + roofline.step_time_s(Batch.prefill([PROMPT]), draft_side, device)
    emitted = arrival_s + PROMPT * bits / rate
    emitted = emitted + roofline.step_time_s(Batch.prefill([PROMPT]), server_side, server)
    arrived = emitted + down
    times = [arrived]
    generated = 1
    while generated < OUTPUT:
        gamma = min(draft_tokens, OUTPUT - generated - 1)
        context = PROMPT + generated - 1
        if gamma == 0:  # one token left: the server decodes it on its own
            emitted = emitted + roofline.step_time_s(Batch.decode([context]), server_side, server)
            arrived = max(emitted, arrived) + down
            times.append(arrived)
            generated += 1
            continue
        start = max(arrived, device_free)
        drafts = np.array(
            [
                roofline.step_time_s(Batch.decode([context + i]), draft_side, device)
                for i in range(gamma)
            ]
        )
        device_free = start + float(drafts.sum())
        uploaded = device_free + gamma * bits / rate
        verify = Batch.of(gamma + 1, context, False)
        emitted = uploaded + roofline.step_time_s(verify, server_side, server)
        tokens = accepted(gamma) + 1
        arrived = max(emitted, arrived) + tokens * down
        times.extend([arrived] * tokens)
        generated += tokens
    return times


def lone(alpha: float, draft_tokens: int):
    """The second request (alone at t = 100 s): its row, its tokens, and the run."""
    result = simulate(scenario(alpha, draft_tokens), seed=1, token_trace=True)
    trace = result.trace.set_index("request_id")
    tokens = result.read_tokens()
    return trace.loc[1], tokens[tokens["request_id"] == 1], result


@pytest.mark.parametrize("k", [1, 4])
def test_with_every_draft_accepted_a_round_yields_k_plus_one_tokens_exactly(k):
    """α = 1, γ = k: the token times are the closed form's (k + 1 per round), to 1e-12 s."""
    row, tokens, result = lone(1.0, k)
    want = closed_form(row["t_arrival"], k, lambda gamma: gamma)
    np.testing.assert_allclose(tokens["t_s"].to_numpy(), want, rtol=0, atol=0)
    rounds = math.ceil((OUTPUT - 1) / (k + 1))
    assert row["spec_rounds"] == rounds
    assert row["spec_accepted_tokens_mean"] == (OUTPUT - 1 - rounds) / rounds
    assert row["verify_batch_share"] == 1.0  # alone in every step
    assert row["mode"] == "speculative" and row["status"] == "completed"
    assert_generative_parts_add_up(result.trace, result.read_tokens())


def test_with_no_draft_accepted_every_round_yields_one_token():
    """α = 0: the correction only, one token a round (O − 1 rounds), on the closed form."""
    row, tokens, _ = lone(0.0, 3)
    want = closed_form(row["t_arrival"], 3, lambda gamma: 0)
    np.testing.assert_allclose(tokens["t_s"].to_numpy(), want, rtol=0, atol=0)
    assert row["spec_rounds"] == OUTPUT - 1
    assert row["spec_accepted_tokens_mean"] == 0.0


def test_the_draft_energy_is_the_drafts_step_times_the_devices_phase_power():
    """The device pays its draft prefill and its draft decodes at its phase powers; with a
    draft of one token a round (γ = 1, α = 1) the rounds are known."""
    row, _, _ = lone(1.0, 1)
    catalog = ModelCatalog.builtin()
    draft = catalog.get(DRAFT)
    device = HardwareCatalog.builtin().get(DEVICE)
    roofline = make_step_time_model("roofline")
    side = SideCosts.for_split(draft, draft.last_split, "device")
    prefill = roofline.step_time_s(Batch.prefill([PROMPT]), side, device)
    generated, decodes = 1, 0.0
    while generated < OUTPUT:
        if OUTPUT - generated - 1 >= 1:
            decodes += roofline.step_time_s(Batch.decode([PROMPT + generated - 1]), side, device)
            generated += 2
        else:
            generated += 1
    prefill_w = clocked_phase_power_w(device, "prefill", 1.0)
    decode_w = clocked_phase_power_w(device, "decode", 1.0)
    want = device.pue * (prefill_w * prefill + decode_w * decodes)
    assert row["draft_energy_j"] == pytest.approx(want, rel=1e-12)
    assert row["energy_device_compute_j"] == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize(("alpha", "gamma"), [(0.0, 3), (0.5, 4), (0.8, 3), (1.0, 5)])
def test_the_accepted_drafts_follow_the_truncated_geometric_law(alpha, gamma):
    """By inversion of ``P(A ≥ i) = α^i``: P(A = i) = α^i (1 − α) below γ, α^γ at γ; the mean
    tokens a round over 200,000 rounds is ``(1 − α^{γ+1})/(1 − α)`` within 4 standard errors."""
    rng = np.random.default_rng(7)
    draws = np.array([accepted_count(u, alpha, gamma) for u in rng.random(200_000)])
    pmf = [alpha**i * (1 - alpha) for i in range(gamma)] + [alpha**gamma]
    counts = np.bincount(draws, minlength=gamma + 1) / len(draws)
    np.testing.assert_allclose(counts, pmf, atol=5e-3)
    mean = expected_tokens_per_round(alpha, gamma)
    error = draws.std() / math.sqrt(len(draws))
    assert abs((draws + 1).mean() - mean) <= 4 * error + 1e-12


def test_the_engines_rounds_accept_the_mean_the_law_says():
    """A long request per device (1,000 tokens, α = 0.6, γ = 3, 4 devices): the rounds' mean
    accepted drafts matches ``(1 − α⁴)/(1 − α) − 1`` within 4 standard errors of the rounds
    (plus the few last rounds shortened to the tokens left)."""
    alpha, gamma = 0.6, 3
    run = simulate(
        scenario(
            alpha,
            gamma,
            count=4,
            requests=4,
            tokens={
                "prompt": {"distribution": "constant", "value": 50},
                "output": {"distribution": "constant", "value": 1000},
            },
        ),
        seed=3,
    )
    trace = run.trace
    assert (trace["status"] == "completed").all()
    rounds = int(trace["spec_rounds"].sum())
    accepted = float((trace["spec_accepted_tokens_mean"] * trace["spec_rounds"]).sum())
    want = expected_tokens_per_round(alpha, gamma) - 1
    pmf = np.array([alpha**i * (1 - alpha) for i in range(gamma)] + [alpha**gamma])
    sd = math.sqrt(float((pmf * (np.arange(gamma + 1) - want) ** 2).sum()))
    shortened = len(trace) * gamma  # at most γ short rounds per request, each off by ≤ γ
    assert abs(accepted / rounds - want) <= 4 * sd / math.sqrt(rounds) + shortened * gamma / rounds


def test_verification_chunks_of_many_devices_share_the_servers_batches():
    """24 devices send at once: their chunks ride in shared steps (fewer steps than rounds, a
    mean share of a step below 1/2); every token reaches its device once; the pool ends empty
    (the engine checks it); the parts add up."""
    run = simulate(scenario(0.7, 4, count=24, requests=48), seed=2, token_trace=True)
    trace = run.trace
    assert (trace["status"] == "completed").all()
    stats = run.stats.batching["s"]
    assert stats["steps"] < trace["spec_rounds"].sum()
    assert trace["verify_batch_share"].mean() < 0.5
    tokens = run.read_tokens()
    per_request = tokens.groupby("request_id")["token_index"].apply(list)
    assert all(indices == list(range(1, OUTPUT + 1)) for indices in per_request)
    assert stats["tokens_emitted"] == OUTPUT * len(trace)
    assert stats["kv_blocks_in_use"] == 0
    assert_generative_parts_add_up(trace, tokens)


def test_a_round_draws_from_the_devices_own_stream_so_reruns_are_identical():
    first = simulate(scenario(0.5, 3, count=4, requests=8), seed=5).trace
    again = simulate(scenario(0.5, 3, count=4, requests=8), seed=5).trace
    assert first.equals(again)
    assert first["spec_accepted_tokens_mean"].nunique() > 1


def test_an_empirical_distribution_of_tokens_per_round(tmp_path):
    """Every observed round yields 3 tokens: with γ = 4 each round accepts 2 drafts (the last,
    shortened, rounds excepted)."""
    observed = tmp_path / "rounds.csv"
    observed.write_text("3\n3\n3\n")
    data = scenario(0.0, 4).model_dump()
    data["devices"][0]["speculative"] = {
        "draft": DRAFT,
        "tokens_per_round": {"distribution": "empirical", "file": str(observed)},
    }
    row = simulate(scenario_from_dict(data), seed=1).trace.iloc[1]
    # 11 tokens after the first: rounds of 3, 3, 3, then 2 (γ = 1, 2 tokens: capped)
    assert row["spec_rounds"] == 4
    assert row["spec_accepted_tokens_mean"] == (2 + 2 + 2 + 1) / 4


def test_the_adaptive_draft_length_maximises_tokens_per_round_time():
    """γ* of a round is the argmax of E(γ)/T(γ): a slow server (verification 100 ms) and a fast
    draft make long drafts pay; a verification as fast as a draft step makes none pay."""

    def round_of(verify_s: float, alpha: float) -> DraftRound:
        return DraftRound(
            request_id=0,
            round_index=0,
            tokens_left=100,
            alpha=alpha,
            draft_step_s=0.005,
            up_bits_per_draft=32,
            token_bits=32,
            uplink_rate_bps=1e6,
            downlink_rate_bps=50e6,
            verify_step_s=lambda tokens: verify_s,
        )

    slow = round_of(0.1, 0.8)
    rates = []
    for gamma in range(9):
        e = expected_tokens_per_round(0.8, gamma)
        t = 0.1 + e * 32 / 50e6 + (gamma * (0.005 + 32e-6) if gamma else 0.0)
        rates.append(e / t)
    assert best_draft_tokens(slow, 8) == int(np.argmax(rates)) > 0
    assert best_draft_tokens(round_of(0.004, 0.8), 8) == 0
    assert best_draft_tokens(slow._replace(tokens_left=2), 8) <= 1


def test_on_a_busy_server_the_drafts_also_wait_half_a_step():
    """Draft steps of 16 ms, verification steps of 50 ms, α = 0.6: alone on the server two
    drafts a round give 1.96 tokens per 82 ms (42 ms a token, against 50 decoding alone); with
    other sequences running the drafts wait half a step more on average (25 ms: 55 ms a token
    at best), and decoding on the server alone is the better choice."""
    draft_round = DraftRound(
        request_id=0,
        round_index=0,
        tokens_left=100,
        alpha=0.6,
        draft_step_s=0.016,
        up_bits_per_draft=32,
        token_bits=32,
        uplink_rate_bps=1e7,
        downlink_rate_bps=math.inf,
        verify_step_s=lambda tokens: 0.05,
    )
    assert best_draft_tokens(draft_round, 8) in (1, 2)
    assert best_draft_tokens(draft_round._replace(others_running=5), 8) == 0


def test_refusals_name_the_field():
    data = scenario(0.5, 3).model_dump()
    data["devices"][0]["speculative"] = {
        "draft": DRAFT,
        "alpha": 0.5,
        "tokens_per_round": {"distribution": "empirical", "file": "x.csv"},
    }
    with pytest.raises(InputError, match="alpha and tokens_per_round"):
        scenario_from_dict(data)
    data["devices"][0]["speculative"] = {"draft": "gpt2"}
    with pytest.raises(InputError, match=r"devices\[0\].speculative.alpha: the catalog has no"):
        simulate(scenario_from_dict(data), seed=1)
    data["devices"][0]["speculative"] = {"draft": DRAFT}
    del data["devices"][0]["tokens"]
    with pytest.raises(InputError, match="speculative: a draft model speeds up generative"):
        scenario_from_dict(data)


def test_the_speculative_policy_needs_a_draft_on_the_device():
    data = scenario(0.5, 3).model_dump()
    data["devices"][0]["speculative"] = None
    with pytest.raises(InputError, match="needs a draft model on the device"):
        simulate(scenario_from_dict(data), seed=1)


@pytest.mark.parametrize("scheduler", ["vllm", "sarathi", "orca"])
def test_a_full_pool_preempts_speculative_sequences_and_every_token_still_arrives_once(
    scheduler,
):
    """24 devices at once into a KV pool of about 5,000 tokens (an L4 at 69 % of its memory
    for the engine): vLLM and Sarathi preempt (a pending chunk is dropped, its recomputation
    emits one token), Orca admits only what it can reserve; every request completes, each
    token reaches its device once, and the pool ends empty."""
    data = scenario(0.7, 4, count=24, requests=24).model_dump()
    data["servers"][0].update({"scheduler": scheduler, "memory_utilisation": 0.69})
    run = simulate(scenario_from_dict(data), seed=4, token_trace=True)
    trace, tokens = run.trace, run.read_tokens()
    assert (trace["status"] == "completed").all()
    stats = run.stats.batching["s"]
    if scheduler != "orca":
        assert stats["preemptions"] > 0
    assert (
        tokens.groupby("request_id")["token_index"]
        .apply(list)
        .map(lambda indices: indices == list(range(1, OUTPUT + 1)))
        .all()
    )
    assert stats["kv_blocks_in_use"] == 0
    assert_generative_parts_add_up(trace, tokens)


def test_the_catalogued_pairs_name_catalog_models_and_the_draft_is_published_llama_3_2_1b():
    """Every pair of the acceptance table names two generative models of the catalog, with an
    alpha in [0, 1] and its source; Llama-3.2-1B has its published 1,235,814,400 parameters."""
    catalog = ModelCatalog.builtin()
    for (draft, target), pair in ACCEPTANCE.items():
        assert catalog.get(draft).sequence_length and catalog.get(target).sequence_length
        assert 0.0 <= pair.alpha <= 1.0 and pair.source
    assert catalog.get(DRAFT).total_params == 1_235_814_400
