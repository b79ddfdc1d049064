"""Model placement: the models a server holds, cold starts, and downloads to the device.

With a ``model_cache``, a request reaching a server that does not hold its model waits for it to
load, ``latency_s + 8·bytes / bandwidth_bps`` with ``bytes = parameters × bytes_per_weight``;
with a group's ``download``, a device first downloads the blocks it runs, ``8·q(l)·bytes_per_weight
/ rate`` over its cell's downlink, shared fairly by the cell's downloads in progress. Each is held
to its closed form on an idle system, exactly; the placement policies to a hand-computed trace.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pytest

from coinfer.emulator.api.run import simulate
from coinfer.emulator.engine.model_cache import LruPlacement, StaticPlacement, lru_miss_ratio
from coinfer.emulator.errors import InputError
from coinfer.emulator.model.catalog import ModelCatalog
from coinfer.emulator.scenario.model_placement import ModelCacheParams
from coinfer.emulator.scenario.schema import scenario_from_dict
from tests.decomposition import assert_parts_add_up

CATALOG = ModelCatalog.builtin()
MODELS = ("bert-paper", "bert-base", "vit-b-16")


def group(name: str, model: str, interval_s: float, **extra) -> dict:
    """One device 200 m from the access point sending a request every ``interval_s`` from 0."""
    return {
        "name": name,
        "model": model,
        "arrivals": {"process": "deterministic", "interval_s": interval_s, "random_phase": False},
        "distance_m": 200,
        **extra,
    }


def cell_scenario(groups: list[dict], duration_s: float, split: int = 0, **extra) -> dict:
    return {
        "name": "cache",
        "duration_s": duration_s,
        "devices": groups,
        "cells": [{"id": "c0", "sharing": "ps"}],
        "servers": [{"id": "s0", "hardware": "paper-server"}],
        "policy": {"name": "fixed", "params": {"split": split}},
        **extra,
    }


def run(data: dict):
    """The trace in arrival order (ties: in device order)."""
    trace = simulate(scenario_from_dict(data)).trace
    return trace.sort_values(["t_arrival", "device_id"]).reset_index(drop=True)


def size_bytes(model: str, bytes_per_weight: float) -> float:
    return CATALOG.get(model).total_params * bytes_per_weight


# ---- the server's cache -------------------------------------------------------------------


def test_a_cold_start_on_an_idle_server_is_bytes_over_bandwidth_exactly():
    """One device, requests 10 s apart, an empty LRU cache: the first request waits
    ``8·n·b / bandwidth`` (n parameters, b bytes per weight), moves ``n·b`` bytes, and is
    otherwise the run without a cache plus that wait; later requests find the model."""
    cache = {"policy": "lru", "bytes_per_weight": 2.0, "bandwidth_bps": 4e9}
    data = cell_scenario([group("d", "bert-paper", 10.0)], 35.0)
    cold, warm = run({**data, "model_cache": cache}), run(data)
    size = size_bytes("bert-paper", 2.0)
    assert cold["cold_start_s"][0] == 8.0 * size / 4e9
    assert cold["model_load_bytes"].tolist() == [size, 0.0, 0.0, 0.0]
    assert (cold["cold_start_s"][1:] == 0).all()
    np.testing.assert_allclose(cold["latency_s"][0], warm["latency_s"][0] + 8.0 * size / 4e9)
    assert cold["latency_server_queue_s"][0] == pytest.approx(0.0, abs=1e-12)
    assert (
        cold.drop(index=0)
        .drop(columns=["cold_start_s"])
        .equals(warm.drop(index=0).drop(columns=["cold_start_s"]))
    )
    assert_parts_add_up(cold)


def test_a_cold_start_from_the_cloud_adds_the_path_latency():
    cache = {"policy": "lru", "source": "cloud", "bandwidth_bps": 1e9, "latency_s": 0.02}
    trace = run({**cell_scenario([group("d", "vit-b-16", 10.0)], 15.0), "model_cache": cache})
    assert trace["cold_start_s"][0] == 0.02 + 8.0 * size_bytes("vit-b-16", 2.0) / 1e9


def test_a_cache_with_room_for_every_model_never_loads_twice():
    """Three models, many requests each, under load: each model is loaded once, by the first
    request for it; the requests that reach the server while it loads wait for that load (a
    cold start, but no bytes of their own)."""
    groups = [
        {
            "name": f"g{i}",
            "count": 3,
            "model": model,
            "arrivals": {"process": "poisson", "rate_per_s": 4.0},
            "distance_m": 200,
        }
        for i, model in enumerate(MODELS)
    ]
    cache = {"policy": "lru", "memory_bytes": 1e12, "bandwidth_bps": 2e9}
    trace = run({**cell_scenario(groups, 20.0), "model_cache": cache})
    loads = trace[trace["model_load_bytes"] > 0]
    assert sorted(loads["model"].astype(str)) == sorted(MODELS)
    for model, rows in trace.groupby("model", observed=True):
        first = rows["t_done"].idxmin()
        assert rows["model_load_bytes"][first] == size_bytes(str(model), 2.0)
    assert (trace["cold_start_s"] > 0).sum() > len(MODELS)  # some waited for a load
    assert len(trace) > 500


def test_a_static_placement_of_every_model_never_loads():
    groups = [group(f"g{i}", model, 0.5 + 0.1 * i) for i, model in enumerate(MODELS)]
    cache = {"policy": "static", "preload": list(MODELS)}
    trace = run({**cell_scenario(groups, 10.0), "model_cache": cache})
    assert (trace["cold_start_s"] == 0).all() and (trace["model_load_bytes"] == 0).all()


def test_a_static_placement_loads_a_model_it_does_not_hold_for_every_request():
    """static keeps its preload set: a request for another model loads it and it is not kept."""
    groups = [group("a", "bert-paper", 2.0), group("b", "vit-b-16", 2.5)]
    cache = {"policy": "static", "preload": ["bert-paper"], "bandwidth_bps": 8e9}
    trace = run({**cell_scenario(groups, 9.0), "model_cache": cache})
    vit = trace[trace["model"] == "vit-b-16"]
    assert vit["model_load_bytes"].tolist() == [size_bytes("vit-b-16", 2.0)] * len(vit)
    assert (trace[trace["model"] == "bert-paper"]["model_load_bytes"] == 0).all()


def test_lru_evicts_the_least_recently_used_model_in_a_hand_computed_sequence():
    """Room for two of the three models. Arrivals: A every 2 s, B every 3.1 s, C every 5.3 s,
    all from 0 (A's device nearest the access point, C's farthest: at 0 their requests reach
    the server in the order A, B, C). By hand, the resident models after each request:

        A0 miss [A]     B0 miss [A B]   C0 miss [B C]   A2 miss [C A]   B3.1 miss [A B]
        A4 hit [B A]    C5.3 miss [A C] A6 hit [C A]    B6.2 miss [A B] A8 hit [B A]
        B9.3 hit [A B]
    """
    a, b, c = "bert-paper", "bert-base", "vit-b-16"
    groups = [
        group("a", a, 2.0, distance_m=50),
        group("b", b, 3.1, distance_m=200),
        group("c", c, 5.3, distance_m=800),
    ]
    memory = size_bytes(a, 1.0) + size_bytes(b, 1.0) + 1.0  # two models, never three
    cache = {"policy": "lru", "bytes_per_weight": 1.0, "memory_bytes": memory}
    trace = run({**cell_scenario(groups, 9.5), "model_cache": cache})
    assert trace["model"].astype(str).tolist() == [a, b, c, a, b, a, c, a, b, a, b]
    assert (trace["model_load_bytes"] > 0).astype(int).tolist() == [1, 1, 1, 1, 1, 0, 1, 0, 1, 0, 0]
    assert trace["t_done"].is_monotonic_increasing  # served in arrival order


def test_lru_on_its_own_keeps_recency_order_and_evicts_until_the_model_fits():
    """The policy object: sizes 1, 1 and 2 in a memory of 3."""
    sizes = {"A": 1.0, "B": 1.0, "C": 2.0}
    lru = LruPlacement(ModelCacheParams(preload=("A", "B")), 3.0, sizes)
    assert lru.resident() == ("A", "B")
    assert lru.lookup("A", 0.0) and lru.resident() == ("B", "A")
    assert not lru.lookup("C", 1.0) and lru.resident() == ("A", "C")  # B out: 1 + 2 ≤ 3
    assert not lru.lookup("B", 2.0) and lru.resident() == ("C", "B")  # A out: C was newer
    static = StaticPlacement(ModelCacheParams(policy="static", preload=("A",)), 3.0, sizes)
    assert static.lookup("A", 0.0) and not static.lookup("B", 0.0)
    assert static.resident() == ("A",)


# ---- LRU against its closed form ------------------------------------------------------------


def test_the_lru_closed_form_in_the_cases_known_by_hand():
    """Two models, room for one: a request misses when the one before was for the other model,
    ``2·p1·p2``. Room for all: never. Room for none but the asked model: always, unless the
    same model was asked last (``1 − Σ p_i²``)."""
    assert lru_miss_ratio([1.0, 3.0], [1.0, 1.0], 1.0) == pytest.approx(2 * 0.25 * 0.75)
    assert lru_miss_ratio([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], 6.0) == 0.0
    p = np.array([1.0, 2.0, 3.0]) / 6
    assert lru_miss_ratio([1.0, 2.0, 3.0], [2.0, 2.0, 2.0], 3.0) == pytest.approx(1 - p @ p)


def test_the_lru_policy_misses_as_the_closed_form_says_on_independent_requests():
    """200,000 independent requests for four models of unequal sizes straight to the policy."""
    rates, sizes = [4.0, 2.0, 1.0, 1.0], {"a": 3.0, "b": 2.0, "c": 1.0, "d": 2.0}
    names = list(sizes)
    asked = np.random.default_rng(1).choice(4, size=200_000, p=np.array(rates) / 8.0)
    lru = LruPlacement(ModelCacheParams(), 5.0, sizes)
    misses = sum(not lru.lookup(names[i], 0.0) for i in asked.tolist())
    expected = lru_miss_ratio(rates, list(sizes.values()), 5.0)
    assert misses / len(asked) == pytest.approx(expected, abs=4 * np.sqrt(0.25 / len(asked)))


def test_the_engine_lru_server_misses_as_the_closed_form_says():
    """Four models asked for by Poisson devices (rates 1, 1/2, 1/3, 1/4 per second: Zipf), a
    server with room for about two of them and fast loads: the share of requests that load a
    model is LRU's miss ratio under independent requests (within 4 binomial standard errors)."""
    models = ["bert-paper", "vit-b-16", "resnet-50", "bart-paper"]
    rates = [1.0 / rank for rank in range(1, 5)]
    groups = [
        {
            "name": f"m{i}",
            "model": model,
            "arrivals": {"process": "poisson", "rate_per_s": rate},
            "distance_m": 150,
        }
        for i, (model, rate) in enumerate(zip(models, rates, strict=True))
    ]
    cache = {"policy": "lru", "memory_bytes": 450e6, "bandwidth_bps": 64e9}
    trace = run({**cell_scenario(groups, 1500.0), "model_cache": cache})
    measured = (trace["model_load_bytes"] > 0).mean()
    expected = lru_miss_ratio(rates, [size_bytes(m, 2.0) for m in models], 450e6)
    assert 0.2 < expected < 0.6
    assert measured == pytest.approx(expected, abs=4 * np.sqrt(0.25 / len(trace)))


class LoadEveryTime:
    """A placement plug-in that never keeps a model (every request is a cold start)."""

    Params = ModelCacheParams

    def __init__(
        self, params: ModelCacheParams, memory_bytes: float, sizes: Mapping[str, float]
    ) -> None:
        self.sizes = sizes

    def lookup(self, model: str, time_s: float) -> bool:
        return False

    def resident(self) -> tuple[str, ...]:
        return ()


def test_a_placement_plug_in_named_module_class_decides():
    cache = {"policy": f"{__name__}:LoadEveryTime", "bandwidth_bps": 8e9}
    trace = run({**cell_scenario([group("d", "bert-paper", 1.0)], 4.5), "model_cache": cache})
    assert len(trace) == 5
    assert (trace["model_load_bytes"] == size_bytes("bert-paper", 2.0)).all()


def test_the_builtin_placement_policies_are_registered():
    from coinfer.emulator.plugins import PLACEMENT

    assert {"static", "lru"} <= set(PLACEMENT.builtin_names())
    assert PLACEMENT.load("lru") is LruPlacement


# ---- the device's download ----------------------------------------------------------------


def test_a_device_download_is_the_device_side_bytes_over_the_downlink_rate_exactly():
    """Split 4 with 4-bit weights: the first request waits ``8·q(4)·0.5 / rate`` for blocks
    1..4; the device keeps them, and later requests start at once."""
    data = cell_scenario(
        [group("d", "bert-paper", 10.0, download={"bytes_per_weight": 0.5})],
        15.0,
        split=4,
        downlink={"rate_bps": 50e6},
    )
    trace = run(data)
    q4 = CATALOG.get("bert-paper").split_table.device_params[4]
    assert trace["cold_start_s"][0] == (8.0 * (q4 * 0.5)) / 50e6
    assert trace["model_load_bytes"].tolist() == [q4 * 0.5, 0.0]
    assert trace["latency_device_queue_s"].tolist() == [0.0, 0.0]
    assert_parts_add_up(trace)


def test_downloads_in_one_cell_share_its_downlink():
    """Two devices start the same download at the same time: each gets half the rate, so both
    take twice as long as one alone."""
    downloading = {"download": {"bytes_per_weight": 0.5}}
    alone = cell_scenario(
        [group("d", "bert-paper", 10.0, **downloading)],
        15.0,
        split=4,
        downlink={"rate_bps": 50e6},
    )
    pair = {**alone, "devices": [{**alone["devices"][0], "count": 2}]}
    one, two = run(alone), run(pair)
    first = two[two["t_arrival"] == 0.0]["cold_start_s"]
    assert len(first) == 2
    np.testing.assert_allclose(first, [2 * one["cold_start_s"][0]] * 2, rtol=1e-12)


def test_a_download_needs_a_downlink():
    data = cell_scenario([group("d", "bert-paper", 1.0, download={})], 2.0)
    with pytest.raises(InputError, match=r"devices\[0\]\.download: .* expected a downlink"):
        scenario_from_dict(data)


# ---- refused before the run ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("cache", "path", "says"),
    [
        ({"memory_bytes": 1e6}, "model_cache.memory_bytes", "needs 2.19e\\+08 B"),
        ({"preload": ["gpt2"]}, "model_cache.preload", "expected one of the models"),
        ({"policy": "fifo"}, "model_cache.policy", "got 'fifo', expected one of: lru, static"),
        ({"bandwidth_bps": 0}, "model_cache.bandwidth_bps", "greater than 0"),
    ],
)
def test_a_bad_model_cache_is_refused_before_the_run(cache, path, says):
    data = {**cell_scenario([group("d", "bert-paper", 1.0)], 2.0), "model_cache": cache}
    with pytest.raises(InputError, match=says) as caught:
        simulate(scenario_from_dict(data))
    assert caught.value.path == path


# ---- routing: where the model is --------------------------------------------------------------


def test_the_candidate_servers_show_how_long_each_would_load_the_model(tmp_path):
    """Two servers reachable from the cell, LRU caches, every request sent to the last one
    (``far``): the first request sees a whole load on both; once ``far`` holds the model, the
    next requests see 0 there and still a whole load at ``edge``."""
    from tests.topologies import routing_policies
    from tests.topologies.helpers import file_scenario
    from tests.topologies.test_routing import two_server_graph

    routing_policies.SEEN.clear()
    scenario = file_scenario(
        two_server_graph(tmp_path),
        requests=3,
        topology={"routing": "policy"},
        policy={"name": "tests.topologies.routing_policies:LastServer", "params": {"split": 0}},
        model_cache={"policy": "lru", "bandwidth_bps": 8e9},
    )
    simulate(scenario, seed=1)
    load_s = 8.0 * size_bytes("bert-paper", 2.0) / 8e9
    seen = [
        {c.id: c.model_cold_start_s for c in context.candidate_servers}
        for context in routing_policies.SEEN
    ]
    assert seen == [{"far": load_s, "edge": load_s}] + [{"far": 0.0, "edge": load_s}] * 2


def test_with_a_topology_a_cloud_load_crosses_the_wired_path_to_the_cloud(tmp_path):
    """``source: cloud`` in a topology: the edge server loads over its path to the nearest cloud
    node (1 ms to a switch at 10 Gb/s, then 20 ms at 1 Gb/s): latency + 8·bytes·Σ 1/bandwidth,
    exactly, whatever bandwidth_bps says."""
    from tests.topologies.helpers import file_scenario, line_nodes, write_graph

    nodes = {**line_nodes(), "sw": {"kind": "switch"}, "dc": {"kind": "cloud", "hardware": "h100"}}
    edges = [
        ("d-0", "ap", {}),
        ("ap", "edge", {"latency_s": 0.001}),
        ("edge", "sw", {"latency_s": 0.001, "bandwidth_bps": 10e9}),
        ("sw", "dc", {"latency_s": 0.02, "bandwidth_bps": 1e9}),
    ]
    graph = write_graph(tmp_path / "cloud.json", nodes, edges)
    cache = {"policy": "lru", "source": "cloud", "bandwidth_bps": 1.0}
    trace = simulate(file_scenario(graph, requests=2, model_cache=cache), seed=1).trace.sort_values(
        "request_id"
    )
    size = size_bytes("bert-paper", 2.0)
    assert trace["server_id"].astype(str).tolist() == ["edge", "edge"]
    load_s = (0.001 + 0.02) + 8.0 * size * (0.0 + 1 / 10e9 + 1 / 1e9)
    first, second = trace["cold_start_s"].tolist()
    assert first == load_s
    # the second request reaches the server 1 s later, while the load is still under way: it
    # waits for the rest of that load, and moves no bytes of its own
    assert second == pytest.approx(load_s - 1.0, abs=1e-12)
    assert trace["model_load_bytes"].tolist() == [size, 0.0]
