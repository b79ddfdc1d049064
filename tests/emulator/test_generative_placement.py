"""Model placement for the continuous-batching server: the proofs of
``docs/early-exit-and-placement.md#generative-requests-model-placement``.

A generative request whose server does not hold its model waits, when its prompt reaches the
server, for the model's weights to load (the scenario's ``model_cache``: ``latency_s + 8·S /
bandwidth_bps`` for ``S = parameters × bytes_per_weight`` bytes), as a one-pass request does;
the requests arriving during the load wait for its end. While sequences of the model are on the
server the model stays loaded (no placement policy evicts it, ``static`` included).

* **Preloaded**: a cache that holds the model from the start gives today's run exactly (every
  row, every token), on the server and in split mode.
* **LRU with room**: the model loads once in the whole run; the first request waits the whole
  load, those arriving during it the rest of it, the later ones nothing.
* **A cold start** delays every token of a lone request by exactly ``8·S / bandwidth_bps``.
* **In use, kept**: ``static`` without preloading loads the model for a request reaching an idle
  server, never for one joining sequences already there.
"""

from __future__ import annotations

import pytest

from coinfer.emulator.api.run import simulate
from coinfer.emulator.model.catalog import ModelCatalog
from coinfer.emulator.scenario.schema import scenario_from_dict
from tests.decomposition import assert_generative_parts_add_up

MODEL = "llama-3-8b"
BANDWIDTH_BPS = 64e9  # an NVMe read, 8 GB/s
LATENCY_S = 0.002
WEIGHT_BYTES = ModelCatalog.builtin().get(MODEL).total_params * 2.0  # fp16
LOAD_S = LATENCY_S + 8.0 * WEIGHT_BYTES / BANDWIDTH_BPS
ARRIVAL_S = 100.0


def scenario(cache, *, split=0, count=10, requests=60, lone=False):
    """``count`` phones sending chat requests to one A100 (Poisson, or, ``lone``, one request
    at t = 100 s), under the model cache ``cache`` (None: none)."""
    arrivals = (
        {"process": "deterministic", "interval_s": ARRIVAL_S, "random_phase": False}
        if lone
        else {"process": "poisson", "rate_per_s": 0.5}
    )
    data = {
        "name": "placement",
        "requests": requests,
        "devices": [
            {
                "name": "phone",
                "count": count,
                "hardware": "jetson-agx-orin",
                "model": MODEL,
                "arrivals": arrivals,
                "tokens": {
                    "prompt": {"distribution": "constant", "value": 200},
                    "output": {"distribution": "uniform", "low": 10, "high": 40},
                },
            }
        ],
        "servers": [{"id": "edge", "hardware": "a100", "discipline": "continuous-batching"}],
        "downlink": {"rate_bps": 50e6},
        "policy": {"name": "fixed", "params": {"split": split}},
    }
    if cache is not None:
        data["model_cache"] = {
            "bandwidth_bps": BANDWIDTH_BPS,
            "latency_s": LATENCY_S,
            "bytes_per_weight": 2,
            **cache,
        }
    return scenario_from_dict(data)


@pytest.mark.parametrize("policy", ["lru", "static"])
@pytest.mark.parametrize("split", [0, 9])
def test_a_preloaded_model_gives_todays_run_exactly(policy, split):
    runs = [
        simulate(scenario(cache, split=split), seed=4, token_trace=True)
        for cache in (None, {"policy": policy, "preload": [MODEL]})
    ]
    assert runs[0].trace.equals(runs[1].trace)
    assert runs[0].read_tokens().equals(runs[1].read_tokens())
    assert (runs[1].trace["cold_start_s"] == 0).all()


def test_lru_with_room_loads_the_model_once_and_the_others_wait_for_that_load():
    result = simulate(scenario({"policy": "lru"}, requests=80), seed=4, token_trace=True)
    trace = result.trace.sort_values("t_arrival")
    loads = trace[trace["model_load_bytes"] > 0]
    assert len(loads) == 1 and loads["model_load_bytes"].iloc[0] == WEIGHT_BYTES
    first = trace.iloc[0]
    assert first["model_load_bytes"] == WEIGHT_BYTES and first["cold_start_s"] == LOAD_S
    # the prompt reaches the server at arrival + uplink; the load ends LOAD_S after the first's
    at_server = trace["t_arrival"] + trace["latency_uplink_s"]
    load_end = at_server.iloc[0] + LOAD_S
    during = at_server < load_end
    assert during.sum() > 1  # some requests arrive during the load
    expected = (load_end - at_server[during]).to_numpy()
    assert trace.loc[during, "cold_start_s"].to_numpy() == pytest.approx(expected, abs=1e-12)
    assert (trace.loc[~during, "cold_start_s"] == 0).all()
    assert_generative_parts_add_up(result.trace, result.read_tokens())


@pytest.mark.parametrize("split", [0, 9])
def test_a_cold_start_delays_every_token_by_the_load_time(split):
    """One request at t = 100 s on an idle server: with the model on disk every token reaches
    the device exactly ``latency + 8·S / bandwidth`` later than with it preloaded."""
    warm, cold = (
        simulate(
            scenario(cache, split=split, count=1, requests=2, lone=True), seed=1, token_trace=True
        )
        for cache in ({"policy": "lru", "preload": [MODEL]}, {"policy": "static"})
    )
    warm_row, cold_row = (run.trace.set_index("request_id").loc[1] for run in (warm, cold))
    assert cold_row["cold_start_s"] == LOAD_S and cold_row["model_load_bytes"] == WEIGHT_BYTES
    assert cold_row["ttft_s"] - warm_row["ttft_s"] == pytest.approx(LOAD_S, abs=1e-12)
    warm_tokens, cold_tokens = (
        run.read_tokens().query("request_id == 1")["t_s"].to_numpy() for run in (warm, cold)
    )
    assert cold_tokens - warm_tokens == pytest.approx([LOAD_S] * len(warm_tokens), abs=1e-11)
    assert cold_row["latency_server_queue_s"] == pytest.approx(
        warm_row["latency_server_queue_s"], abs=1e-11
    )
    assert_generative_parts_add_up(cold.trace, cold.read_tokens())


def test_a_model_in_use_is_never_evicted_static_reloads_only_for_an_idle_server():
    """``static`` without preloading keeps nothing: a request reaching an idle server loads
    the model; one joining sequences on the server (or a load in progress) does not."""
    result = simulate(scenario({"policy": "static"}, requests=80), seed=4)
    trace = result.trace.sort_values("t_arrival")
    at_server = (trace["t_arrival"] + trace["latency_uplink_s"]).to_numpy()
    done = trace["t_done"].to_numpy()
    loaded = (trace["model_load_bytes"] > 0).to_numpy()
    assert loaded.sum() >= 2  # the server emptied and reloaded at least once
    for k in range(len(trace)):
        # busy: a request before it is still on the server (the server has its sequence or
        # loads for it) when this one's prompt arrives
        busy = any(at_server[i] <= at_server[k] < done[i] for i in range(k))
        assert loaded[k] == (not busy)
