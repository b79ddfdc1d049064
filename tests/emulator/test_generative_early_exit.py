"""Per-token early exit of generative requests (CALM): the proofs of
``docs/early-exit-and-placement.md#generative-requests``.

Each decoded token (output tokens 2..O) leaves after its own block, drawn from the model's exit
law; a token that leaves after block ``e`` runs blocks ``1..e`` and the output head. A server
step without prefill work runs to the deepest exit among its tokens; a prefill runs every block.

* **Nothing exits**: heads whose probabilities are all 0 give today's run, row for row and token
  for token, under contention (many phones, one server) and on the device.
* **Every token leaves after block e**: a lone request's decodes take exactly the steps of the
  model cut after block ``e`` with its head kept (built here block by block, not by the engine's
  helper), its prefill those of the whole model.
* **A lone request** decodes in the closed form of its tokens' own exit blocks, on the server
  and on the device; the exits follow the law (chi-square).
* **A batch** of two requests in lock step takes, at every decode step, the step of the model
  cut at the deeper of their two tokens' exits.

The chain of closed forms is the one of ``test_generative_bridge.py`` (same set-up: the request
arrives at t = 100 s, no fading, one FDMA cell, times exact to the bit).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from coinfer.emulator.api.run import simulate
from coinfer.emulator.model.catalog import ModelCatalog
from coinfer.emulator.model.hardware import HardwareCatalog
from coinfer.emulator.model.profiles import ModelProfile
from coinfer.emulator.model.reference import log_distance_gain, shannon_rate_bps
from coinfer.emulator.model.step_costs import Batch, SideCosts
from coinfer.emulator.model.step_time import make_step_time_model
from coinfer.emulator.model.token_exit import exit_profile
from coinfer.emulator.scenario.schema import scenario_from_dict

MODEL = "llama-3-8b"  # 34 blocks: the embeddings, 32 layers, the head
DEVICE = "jetson-agx-orin"
SERVER = "a100"
PROMPT, OUTPUT = 300, 12
BANDWIDTH_HZ = 20e6
NOISE_W_PER_HZ = 2e-19
DISTANCE_M = 100.0
DOWNLINK_BPS = 50e6
ARRIVAL_S = 100.0
LAW = [
    {"after_block": 9, "probability": 0.3},
    {"after_block": 17, "probability": 0.4},
    {"after_block": 25, "probability": 0.2},
]  # illustrative; the rest (0.1) runs all 34 blocks

llama = ModelCatalog.builtin().get(MODEL)
hardware = HardwareCatalog.builtin()
roofline = make_step_time_model("roofline")


def scenario(heads, *, split, count=1, output=OUTPUT, requests=None, rate_per_s=None):
    """``count`` devices whose model has the exit ``heads`` (None: no exits), each sending one
    request at t = 100 s (or Poisson arrivals at ``rate_per_s``), at ``split``."""
    arrivals = (
        {"process": "deterministic", "interval_s": ARRIVAL_S, "random_phase": False}
        if rate_per_s is None
        else {"process": "poisson", "rate_per_s": rate_per_s}
    )
    group = {
        "name": "d",
        "count": count,
        "hardware": DEVICE,
        "model": MODEL,
        "arrivals": arrivals,
        "tokens": {
            "prompt": {"distribution": "constant", "value": PROMPT},
            "output": (
                {"distribution": "constant", "value": output}
                if rate_per_s is None
                else {"distribution": "uniform", "low": 5, "high": 60}
            ),
        },
        "distance_m": DISTANCE_M,
    }
    if heads is not None:
        group["exits"] = {"heads": heads}
    return scenario_from_dict(
        {
            "name": "early-exit",
            "requests": requests or 2 * count,
            "devices": [group],
            "cells": [{"id": "c", "bandwidth_hz": BANDWIDTH_HZ, "sharing": "fdma"}],
            "servers": [{"id": "s", "hardware": SERVER, "discipline": "continuous-batching"}],
            "downlink": {"rate_bps": DOWNLINK_BPS},
            "policy": {"name": "fixed", "params": {"split": split}},
        }
    )


def lone(heads, split, output=OUTPUT):
    """The row and the tokens of the request arriving at t = 100 s, alone."""
    result = simulate(scenario(heads, split=split, output=output), seed=1, token_trace=True)
    trace = result.trace.set_index("request_id")
    tokens = result.read_tokens()
    return trace.loc[1], tokens[tokens["request_id"] == 1]


def cut_after(block: int) -> ModelProfile:
    """Llama-3-8B cut after ``block`` with its head kept: blocks 1..block, then the head."""
    data = llama.model_dump(exclude={"blocks", "max_split", "exits", "decode"})
    blocks = (*llama.blocks[:block], llama.blocks[-1])
    return ModelProfile.model_validate({**data, "blocks": blocks})


def side_of(block: int) -> SideCosts:
    """The costs of a token leaving after ``block`` (the whole model from block 33 on)."""
    profile = llama if block >= llama.num_blocks - 1 else cut_after(block)
    return SideCosts.of_blocks(profile, 0, profile.num_blocks)


def closed_form(exits: list[int], split: int) -> list[float]:
    """Each token's arrival at the device, s, alone: the prefill on the whole model, decode
    ``j`` (emitting token ``j + 1``) on the model cut after that token's exit block."""
    steps = [(Batch.prefill([PROMPT]), llama.num_blocks)] + [
        (Batch.decode([PROMPT + j - 1]), exits[j]) for j in range(1, len(exits))
    ]
    t = ARRIVAL_S
    times = []
    if split == llama.num_blocks:  # on the device, back to back
        for batch, block in steps:
            t = t + roofline.step_time_s(batch, side_of(block), hardware.get(DEVICE))
            times.append(t)
        return times
    rate = shannon_rate_bps(
        hardware.get(DEVICE).max_tx_power_w,
        float(log_distance_gain(DISTANCE_M)),
        BANDWIDTH_HZ,
        NOISE_W_PER_HZ,
    )
    token_bits = llama.input_bits / llama.sequence_length
    t = t + PROMPT * token_bits / rate
    for batch, block in steps:
        t = t + roofline.step_time_s(batch, side_of(block), hardware.get(SERVER))
        times.append(t + token_bits / DOWNLINK_BPS)
    return times


MODES = {"on-server": 0, "on-device": llama.num_blocks}


# ---- exit probability 0 everywhere: today's run ---------------------------------------------


@pytest.mark.parametrize("mode", list(MODES))
def test_heads_that_never_fire_give_todays_run_row_for_row(mode):
    """Ten phones sending Poisson requests to one server (batches, queues, preemptions or not):
    with heads of probability 0 every row and every token is today's, exit columns included."""
    never = [{"after_block": 9, "probability": 0.0}, {"after_block": 17, "probability": 0.0}]
    runs = [
        simulate(
            scenario(heads, split=MODES[mode], count=10, requests=60, rate_per_s=0.5),
            seed=3,
            token_trace=True,
        )
        for heads in (None, never)
    ]
    today, never_fired = (run.trace for run in runs)
    assert (today["status"] == "completed").all() and len(today) == 60
    assert today.equals(never_fired)
    assert runs[0].read_tokens().equals(runs[1].read_tokens())
    assert (today["exit_block"] == 34).all() and (today["mean_exit_block"] == 34.0).all()
    assert (runs[0].read_tokens()["exit_block"] == 34).all()


# ---- every token leaves after block e: the truncated model ----------------------------------


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("block", [5, 17, 33])
def test_every_token_leaving_after_block_e_decodes_as_the_model_cut_there(mode, block):
    row, tokens = lone([{"after_block": block, "probability": 1.0}], MODES[mode])
    exits = [34] + [block] * (OUTPUT - 1)
    assert tokens["exit_block"].tolist() == exits
    assert tokens["t_s"].tolist() == closed_form(exits, MODES[mode])
    assert row["exit_block"] == block and row["mean_exit_block"] == block
    # the decodes are those of the cut model: each gap is one step of it (plus nothing else)
    if mode == "on-device" and block < 33:
        cut = SideCosts.for_split(cut_after(block), block + 1, "device")
        gaps = np.diff(tokens["t_s"].to_numpy())
        expected = [
            roofline.step_time_s(Batch.decode([PROMPT + j - 1]), cut, hardware.get(DEVICE))
            for j in range(1, OUTPUT)
        ]
        assert gaps == pytest.approx(expected, rel=1e-12)


def test_the_engines_cut_model_is_the_model_cut_block_by_block():
    for block in (1, 9, 32):
        assert exit_profile(llama, block).blocks == cut_after(block).blocks
    assert exit_profile(llama, 33) is llama and exit_profile(llama, 34) is llama
    with pytest.raises(ValueError, match="exit_block: got 35"):
        exit_profile(llama, 35)


# ---- a lone request: the closed form of its own tokens' exits ------------------------------


@pytest.mark.parametrize("mode", list(MODES))
def test_a_lone_request_decodes_in_the_closed_form_of_its_tokens_exits(mode):
    row, tokens = lone(LAW, MODES[mode], output=40)
    exits = tokens["exit_block"].tolist()
    assert exits[0] == 34 and set(exits[1:]) <= {9, 17, 25, 34}
    assert len(set(exits[1:])) > 2  # the law is exercised
    assert tokens["t_s"].tolist() == closed_form(exits, MODES[mode])
    assert row["exit_block"] == max(exits[1:])
    assert row["mean_exit_block"] == pytest.approx(np.mean(exits[1:]), rel=1e-15)


def test_the_tokens_exits_follow_the_law():
    """8,000 decoded tokens of 200 requests: the share leaving at each head is the law's
    (chi-square, 3 degrees of freedom)."""
    result = simulate(
        scenario(LAW, split=0, count=4, output=41, requests=200, rate_per_s=0.05),
        seed=5,
        token_trace=True,
    )
    tokens = result.read_tokens()
    decoded = tokens.loc[tokens["token_index"] > 1, "exit_block"]
    counts = decoded.value_counts().reindex([9, 17, 25, 34], fill_value=0).to_numpy()
    law = np.array([0.3, 0.4, 0.2, 0.1])
    assert stats.chisquare(counts, law * counts.sum()).pvalue > 1e-3
    # the trace's mean agrees with the tokens'
    trace = result.trace.set_index("request_id")
    means = tokens[tokens["token_index"] > 1].groupby("request_id")["exit_block"].mean()
    assert trace.loc[means.index, "mean_exit_block"].to_numpy() == pytest.approx(means.to_numpy())


# ---- a batch runs to its deepest token -----------------------------------------------------


def test_a_batch_step_runs_to_the_deepest_exit_among_its_tokens():
    """Two phones, one request each at t = 100 s, the same prompt and output: after their
    prefills they decode together, one token each per step. Every step that emits a decoded
    token of both, right after another such step, takes the step of their two-sequence batch on
    the model cut after the deeper of the two tokens' exits."""
    result = simulate(scenario(LAW, split=0, count=2, output=30), seed=2, token_trace=True)
    tokens = result.read_tokens()
    decoded = tokens[(tokens["request_id"] >= 2) & (tokens["token_index"] > 1)]
    by_time = {
        t: group[["token_index", "exit_block"]].to_numpy()
        for t, group in decoded.groupby("t_s")  # the same downlink delay for every token
    }
    times = sorted(by_time)
    server = hardware.get(SERVER)
    checked = 0
    for before, after in itertools.pairwise(times):
        if len(by_time[before]) == 2 and len(by_time[after]) == 2:
            (k1, e1), (k2, e2) = by_time[after]
            batch = Batch.decode([PROMPT + k1 - 2, PROMPT + k2 - 2])
            step = roofline.step_time_s(batch, side_of(max(e1, e2)), server)
            assert after - before == pytest.approx(step, rel=1e-9)
            checked += 1
    assert checked >= 20
    exits = decoded.groupby("t_s")["exit_block"].agg(["min", "max"])
    assert (exits["min"] < exits["max"]).any()  # steps whose tokens leave at different blocks


# ---- a per-layer distribution read from a file ---------------------------------------------


def test_a_per_layer_exit_distribution_from_a_file_is_read_as_a_law(tmp_path):
    """SmolLM2-135M (32 blocks: the embeddings, 30 layers, the head) with a head after every
    layer, read from a CSV of ``after_block,probability`` rows (a measured per-layer
    distribution has this form): a lone request on the device decodes each token on the
    model cut after its own layer."""
    model = ModelCatalog.builtin().get("smollm2-135m")
    blocks = range(2, 32)  # after layer.0 .. layer.29
    weights = np.linspace(1.0, 3.0, len(blocks))
    probabilities = 0.9 * weights / weights.sum()
    path = tmp_path / "exits.csv"
    rows = [f"{block},{p:.17g}" for block, p in zip(blocks, probabilities, strict=True)]
    path.write_text("after_block,probability\n" + "\n".join(rows) + "\n")
    data = scenario(None, split=32, output=60).model_dump(mode="json", exclude_none=True)
    group = data["devices"][0]
    group["model"] = "smollm2-135m"
    group["exits"] = {"file": str(path)}
    data["policy"] = {"name": "fixed", "params": {"split": 32}}
    result = simulate(scenario_from_dict(data), seed=1, token_trace=True)
    tokens = result.read_tokens().query("request_id == 1")
    exits = tokens["exit_block"].to_numpy()
    assert exits[0] == 32 and set(exits[1:].tolist()) <= {*blocks, 32}
    assert len(set(exits[1:].tolist())) > 10
    orin = hardware.get(DEVICE)
    t = ARRIVAL_S
    expected = []
    for j, block in enumerate(exits):
        batch = Batch.prefill([PROMPT]) if j == 0 else Batch.decode([PROMPT + j - 1])
        if block >= model.num_blocks - 1:
            side = SideCosts.of_blocks(model, 0, model.num_blocks)
        else:
            fields = model.model_dump(exclude={"blocks", "max_split", "exits", "decode"})
            cut = ModelProfile.model_validate(
                {**fields, "blocks": (*model.blocks[: int(block)], model.blocks[-1])}
            )
            side = SideCosts.of_blocks(cut, 0, cut.num_blocks)
        t = t + roofline.step_time_s(batch, side, orin)
        expected.append(t)
    assert tokens["t_s"].tolist() == expected
