"""Hit rate and p99 latency of an edge server's model cache against its size, Zipf popularity.

Six one-pass models (BERT, BERT-base, ViT-B/16, BART, ResNet-50, ResNet-101, fp16 weights,
51 to 279 MB) are asked for by one device each, with Poisson arrivals whose rates follow a Zipf
law of exponent 1 (model ``i`` of popularity rank ``i`` at a rate ∝ ``1/i``; 2 requests/s in
all). Everything runs on the server (split 0), which loads a missing model from its disk at
16 Gbit/s (at most 0.14 s, short against the time between two requests for one model). For
each memory size the figure shows, per placement policy (``lru``; ``static`` holding the most
popular models that fit):

* the miss ratio: the share of requests that started a load, with LRU's exact miss ratio under
  independent Poisson requests and instant loads (dashed; the move-to-front closed form of
  :func:`coinfer.emulator.engine.model_cache.lru_miss_ratio`);
* the mean and the 99th percentile of the latency (every request, cold starts included).

Run:  python examples/model_cache_figure.py --out docs/figures/model-cache.png
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from coinfer.emulator.api.run import simulate
from coinfer.emulator.engine.model_cache import lru_miss_ratio
from coinfer.emulator.model.catalog import ModelCatalog
from coinfer.emulator.scenario.schema import scenario_from_dict

MODELS = ("bert-paper", "vit-b-16", "resnet-50", "bart-paper", "resnet-101", "bert-base")
BYTES_PER_WEIGHT = 2.0
TOTAL_RATE_PER_S = 2.0
ZIPF_EXPONENT = 1.0
MEMORY_MB = (300, 400, 500, 600, 700, 800, 900, 1100)
OKABE_ITO = {"lru": "#0072B2", "static": "#E69F00", "theory": "#000000"}


def rates_per_s() -> list[float]:
    """Zipf popularity: rate of the model of rank i ∝ 1 / i^s, summing to the total rate."""
    weights = [1.0 / (rank**ZIPF_EXPONENT) for rank in range(1, len(MODELS) + 1)]
    return [TOTAL_RATE_PER_S * w / sum(weights) for w in weights]


def sizes_bytes() -> list[float]:
    catalog = ModelCatalog.builtin()
    return [catalog.get(name).total_params * BYTES_PER_WEIGHT for name in MODELS]


def most_popular_that_fit(memory_bytes: float) -> list[str]:
    """static's preload: the models in popularity order, each kept if it still fits."""
    chosen, used = [], 0.0
    for name, size in zip(MODELS, sizes_bytes(), strict=True):
        if used + size <= memory_bytes:
            chosen.append(name)
            used += size
    return chosen


def scenario(memory_bytes: float, policy: str, duration_s: float):
    groups = [
        {
            "name": f"m{rank}",
            "model": name,
            "arrivals": {"process": "poisson", "rate_per_s": rate},
            "distance_m": 150,
        }
        for rank, (name, rate) in enumerate(zip(MODELS, rates_per_s(), strict=True), start=1)
    ]
    cache = {
        "policy": policy,
        "memory_bytes": memory_bytes,
        "bytes_per_weight": BYTES_PER_WEIGHT,
        "source": "disk",
        "bandwidth_bps": 16e9,
    }
    if policy == "static":
        cache["preload"] = most_popular_that_fit(memory_bytes)
    return scenario_from_dict(
        {
            "name": "model-cache-figure",
            "duration_s": duration_s,
            "warmup_s": 10.0,
            "devices": groups,
            "cells": [{"id": "ap", "bandwidth_hz": 20e6, "sharing": "ps", "server": "edge"}],
            "servers": [{"id": "edge", "hardware": "paper-server", "workers": 4}],
            "channel": {"fading": {"law": "none"}},
            "model_cache": cache,
            "policy": {"name": "fixed", "params": {"split": 0}},
        }
    )


def lru_theory(memory_bytes: float) -> float:
    """LRU's miss ratio under independent Poisson requests (closed form, instant loads)."""
    return lru_miss_ratio(rates_per_s(), sizes_bytes(), memory_bytes)


def measure(duration_s: float, seeds: list[int]) -> dict[str, dict[str, list[float]]]:
    """Per policy and memory size, seeds pooled: the share of requests with a cold start, the
    share that started a load, and the mean and p99 latency (s)."""
    out: dict[str, dict[str, list[float]]] = {}
    for policy in ("lru", "static"):
        values: dict[str, list[float]] = {"cold": [], "loads": [], "mean": [], "p99": []}
        for memory_mb in MEMORY_MB:
            runs = [
                simulate(scenario(memory_mb * 1e6, policy, duration_s), seed=s, progress=False)
                for s in seeds
            ]
            columns = ["cold_start_s", "model_load_bytes", "latency_s"]
            trace = np.concatenate([r.trace.loc[~r.trace["warmup"], columns] for r in runs])
            cold, loaded, latency = trace[:, 0], trace[:, 1], trace[:, 2]
            values["cold"].append(float(np.mean(cold > 0)))
            values["loads"].append(float(np.mean(loaded > 0)))
            values["mean"].append(float(np.mean(latency)))
            values["p99"].append(float(np.quantile(latency, 0.99)))
            print(
                f"{policy:6s} {memory_mb:5d} MB  cold starts {values['cold'][-1]:.3f}  "
                f"loads {values['loads'][-1]:.3f}  LRU theory {lru_theory(memory_mb * 1e6):.3f}  "
                f"mean {values['mean'][-1] * 1e3:.0f} ms  p99 {values['p99'][-1] * 1e3:.0f} ms"
            )
        out[policy] = values
    return out


def plot(results: dict[str, dict[str, list[float]]], path: Path) -> None:
    memory = np.array(MEMORY_MB, dtype=float)
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(7.2, 2.6), constrained_layout=True)
    fine = np.linspace(memory[0], memory[-1], 400)
    left.plot(
        fine,
        [lru_theory(m * 1e6) for m in fine],
        color=OKABE_ITO["theory"],
        linestyle="--",
        linewidth=1,
        label="lru, closed form",
    )
    markers = {"lru": "o", "static": "s"}
    names = {"lru": "lru", "static": "static (most popular)"}
    for policy, values in results.items():
        style = {"color": OKABE_ITO[policy], "marker": markers[policy], "markersize": 4}
        left.plot(memory, values["loads"], label=names[policy], **style)
        middle.plot(memory, np.array(values["mean"]) * 1e3, **style)
        right.plot(memory, np.array(values["p99"]) * 1e3, **style)
    left.set_ylabel("miss ratio (requests that load)")
    middle.set_ylabel("mean latency (ms)")
    right.set_ylabel("p99 latency (ms)")
    for axis in (left, middle, right):
        axis.set_xlabel("server memory (MB)")
        axis.set_ylim(bottom=0)
        axis.grid(True, alpha=0.3)
    left.legend(frameon=False, fontsize=7)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=200)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/model-cache.png"))
    parser.add_argument("--duration", type=float, default=1000.0, help="run length, s")
    parser.add_argument("--seeds", type=int, default=2, help="seeds pooled per point")
    args = parser.parse_args()
    total = sum(sizes_bytes()) / 1e6
    print(f"models: {', '.join(MODELS)}; {total:.0f} MB in all")
    results = measure(args.duration, list(range(args.seeds)))
    plot(results, args.out)
    print(f"figure: {args.out}")
    assert math.isfinite(results["lru"]["p99"][0])


if __name__ == "__main__":
    main()
