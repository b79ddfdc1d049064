"""Upload time against the offered load, per uplink scheduler, in a near and a far cell.

Twenty devices share a 20 MHz cell (noise figure 7 dB, log-distance path loss, Rayleigh block
fading with a 5 ms coherence time) and upload a ResNet-50 input (1.2 Mbit, split 0) at Poisson
times; the server (64 workers) is never the bottleneck. Devices are dropped 20–100 m from the
access point (near: high SNR) or 50–400 m (far: many uploads near 0 dB). For each per-device
request rate the figure shows the 99th percentile of the upload time under

* ``ps``: equal PRB shares ``B/n`` among the ``n`` uploads on air (round robin, averaged);
* ``pf``: the converged proportional fair PRB shares of the mean gains;
* ``fifo``: one upload at a time on the whole band, in arrival order;
* ``pf-window``: the TTI-by-TTI proportional fair scheduler (1 ms TTIs) with the averaging
  window ``T_c`` = 10 and 100 TTIs: one upload per TTI on the whole band (time domain);
* ``pf-window-fd``: the same scheduler in the frequency domain: each TTI the band split among
  the uploads to maximise ``Σ r_k(b_k)/R_k`` (dashed, same colours);
* ``round-robin``: each TTI the whole band to the next upload in turn.

Run:  python examples/pf_window_figure.py --out docs/figures/pf-window.png
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import ticker

from coinfer.emulator.api.run import simulate
from coinfer.emulator.scenario.schema import scenario_from_dict

CELLS = {"near": (20.0, 100.0), "far": (50.0, 400.0)}  #: device drop range, m
RATES_PER_S = {"near": (1.0, 2.0, 4.0, 6.0, 8.0, 10.0), "far": (0.5, 1.0, 2.0, 3.0, 4.0, 4.5)}
#: label -> (sharing, its parameters), with its Okabe–Ito colour, marker and line style
SCHEDULERS = {
    "ps (equal shares)": ("ps", {}, "#0072B2", "o", "-"),
    "pf (converged shares)": ("pf", {}, "#009E73", "^", "-"),
    "fifo (one at a time, whole band)": ("fifo", {}, "#CC79A7", "v", "-"),
    "round-robin (whole band, TTIs in turn)": ("round-robin", {}, "#56B4E9", "<", "-"),
    "pf-window, T_c = 10 TTIs": ("pf-window", {"pf_window_tti": 10}, "#E69F00", "s", "-"),
    "pf-window, T_c = 100 TTIs": ("pf-window", {"pf_window_tti": 100}, "#D55E00", "D", "-"),
    "pf-window-fd, T_c = 10 TTIs": ("pf-window-fd", {"pf_window_tti": 10}, "#E69F00", "s", "--"),
    "pf-window-fd, T_c = 100 TTIs": (
        "pf-window-fd",
        {"pf_window_tti": 100},
        "#D55E00",
        "D",
        "--",
    ),
}


def scenario(cell: str, rate_per_s: float, sharing: str, params: dict, duration_s: float):
    low_m, high_m = CELLS[cell]
    return scenario_from_dict(
        {
            "name": f"pf-window-{cell}",
            "duration_s": duration_s,
            "warmup_s": 2.0,
            "devices": [
                {
                    "name": "d",
                    "count": 20,
                    "model": "resnet-50",
                    "distance_m": {"min_m": low_m, "max_m": high_m},
                    "arrivals": {"process": "poisson", "rate_per_s": rate_per_s},
                }
            ],
            "cells": [
                {
                    "id": "ap",
                    "bandwidth_hz": 20e6,
                    "noise_figure_db": 7,
                    "sharing": sharing,
                    **params,
                }
            ],
            "servers": [{"id": "edge", "workers": 64}],
            "channel": {
                "pathloss": {"model": "log-distance"},
                "fading": {"law": "rayleigh", "coherence_time_s": 0.005},
            },
            "policy": {"name": "fixed", "params": {"split": 0}},
        }
    )


def measure(duration_s: float, seed: int) -> dict[str, dict[str, list[float]]]:
    """Per cell and scheduler: the p99 upload time (s) at each rate."""
    results: dict[str, dict[str, list[float]]] = {}
    for cell, rates in RATES_PER_S.items():
        results[cell] = {}
        for label, (sharing, params, _colour, _marker, _style) in SCHEDULERS.items():
            values = []
            for rate in rates:
                started = time.perf_counter()
                run = simulate(
                    scenario(cell, rate, sharing, params, duration_s), seed=seed, progress=False
                )
                upload_s = run.trace.loc[~run.trace["warmup"], "latency_uplink_s"].to_numpy()
                values.append(float(np.quantile(upload_s, 0.99)))
                print(
                    f"{cell:4s} {rate:5.1f}/s  {label:39s} uploads {len(upload_s):5d}  "
                    f"mean {upload_s.mean() * 1e3:8.1f} ms  p99 {values[-1] * 1e3:8.1f} ms  "
                    f"({time.perf_counter() - started:.1f} s)"
                )
            results[cell][label] = values
    return results


def plot(results: dict[str, dict[str, list[float]]], path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(7.2, 3.6), constrained_layout=True)
    for axis, (cell, rates) in zip(axes, RATES_PER_S.items(), strict=True):
        low_m, high_m = CELLS[cell]
        for label, (_sharing, _params, colour, marker, style) in SCHEDULERS.items():
            axis.plot(
                np.array(rates) * 20,
                np.array(results[cell][label]) * 1e3,
                color=colour,
                marker=marker,
                markersize=4,
                linestyle=style,
                fillstyle="none" if style == "--" else "full",
                label=label,
            )
        axis.set_yscale("log")
        axis.yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.yaxis.set_minor_locator(ticker.NullLocator())
        axis.yaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _pos: f"{value:g}"))
        axis.set_xlabel(f"uploads per second in the cell ({low_m:.0f}–{high_m:.0f} m)")
        axis.set_ylabel("p99 upload time (ms)")
        axis.set_xlim(left=0)
        axis.grid(True, which="both", alpha=0.3)
    fig.legend(
        *axes[0].get_legend_handles_labels(),
        loc="outside lower center",
        ncols=3,
        frameon=False,
        fontsize=7,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=200)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/pf-window.png"))
    parser.add_argument("--duration", type=float, default=20.0, help="run length, s")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    results = measure(args.duration, args.seed)
    plot(results, args.out)
    print(f"figure: {args.out}")
    assert all(math.isfinite(v) for cell in results.values() for v in cell["ps (equal shares)"])


if __name__ == "__main__":
    main()
