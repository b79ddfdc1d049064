"""Per-token early exit under multi-user load: each user's decoding speed against the number of
users of one edge server, with and without early exit.

``N`` phones (1 to 200) send chat requests to Llama-3-8B on one A100 (on-server mode,
continuous batching, vLLM's scheduler): Poisson arrivals at 0.1 requests/s each, a 256-token
prompt, 100 to 300 output tokens. With early exit every decoded token leaves after block 9,
17 or 25 with probabilities 0.2, 0.4 and 0.3 and runs all 34 blocks otherwise (an illustrative
law, not a measurement; 20.5 blocks on average of 34). For each ``N`` the figure shows:

* the decoding speed a user sees, ``1 / TPOT`` (tokens/s), the median over requests;
* its gain with early exit (with over without), and the expected gain of a step whose depth
  is the deepest of ``B`` tokens, ``B`` the mean decode batch measured without exit (dashed):
  a step of a memory-bound decode costs about its blocks' weights, so alone a token saves what
  it skips, but in a batch of ``B`` the step runs to the deepest of them.

Run:  python examples/token_exit_figure.py --out docs/figures/token-exit.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from coinfer.emulator.api.run import simulate
from coinfer.emulator.model.catalog import ModelCatalog
from coinfer.emulator.model.hardware import HardwareCatalog
from coinfer.emulator.model.step_costs import Batch, SideCosts
from coinfer.emulator.model.step_time import make_step_time_model
from coinfer.emulator.model.token_exit import exit_profile
from coinfer.emulator.scenario.schema import scenario_from_dict

USERS = (1, 2, 5, 10, 20, 50, 100, 200)
RATE_PER_USER_S = 0.1
REQUESTS = 400
HEADS = (
    {"after_block": 9, "probability": 0.2},
    {"after_block": 17, "probability": 0.4},
    {"after_block": 25, "probability": 0.3},
)
OKABE_ITO = {"without": "#000000", "with": "#0072B2", "theory": "#E69F00"}


def scenario(users: int, exits: bool) -> dict:
    group: dict = {
        "name": "phone",
        "count": users,
        "hardware": "jetson-agx-orin",
        "model": "llama-3-8b",
        "arrivals": {"process": "poisson", "rate_per_s": RATE_PER_USER_S},
        "tokens": {
            "prompt": {"distribution": "constant", "value": 256},
            "output": {"distribution": "uniform", "low": 100, "high": 300},
        },
    }
    if exits:
        group["exits"] = {"heads": list(HEADS)}
    return {
        "name": f"token-exit-{users}",
        "requests": REQUESTS,
        "devices": [group],
        "servers": [{"id": "edge", "hardware": "a100", "discipline": "continuous-batching"}],
        "downlink": {"rate_bps": 50e6},
        "policy": {"name": "on-server"},
    }


def measure(users: int, exits: bool) -> tuple[float, float]:
    """(median 1/TPOT over the completed requests, tokens/s; mean decode batch: decoded tokens
    over server steps)."""
    result = simulate(scenario_from_dict(scenario(users, exits)), seed=1)
    trace = result.trace
    done = trace[(trace["status"] == "completed") & (trace["output_tokens"] > 1)]
    speed = float(np.median(1.0 / done["tpot_s"]))
    server = result.stats.batching["edge"]
    batch = (server["tokens_emitted"] - len(trace)) / server["steps"]
    return speed, batch


def expected_gain(batch: float) -> float:
    """The gain of a decode step whose depth is the deepest exit of its tokens (independent
    draws of the law), at 512 cached tokens each: T(all blocks) / E[T(deepest)], for a batch of
    ``batch`` tokens (interpolated linearly between the two whole sizes around it)."""
    low = max(int(np.floor(batch)), 1)
    share = min(max(batch - low, 0.0), 1.0)
    return (1.0 - share) * _gain_of_size(low) + share * _gain_of_size(low + 1)


def _gain_of_size(size: int) -> float:
    """``expected_gain`` of a batch of exactly ``size`` tokens."""
    llama = ModelCatalog.builtin().get("llama-3-8b")
    a100 = HardwareCatalog.builtin().get("a100")
    roofline = make_step_time_model("roofline")
    step = Batch.decode([512] * size)
    blocks = [head["after_block"] for head in HEADS] + [llama.num_blocks]
    cumulative = np.cumsum([head["probability"] for head in HEADS] + [0.0])
    cumulative[-1] = 1.0
    previous = 0.0
    mean_s = 0.0
    for block, below in zip(blocks, cumulative, strict=True):
        chance = below**size - previous  # P(the deepest of `size` draws is `block`)
        previous = below**size
        profile = exit_profile(llama, block)
        side = SideCosts.of_blocks(profile, 0, profile.num_blocks)
        mean_s += chance * roofline.step_time_s(step, side, a100)
    whole = roofline.step_time_s(step, SideCosts.for_split(llama, 0, "server"), a100)
    return whole / mean_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/figures/token-exit.png"))
    args = parser.parse_args()
    rows = []
    for users in USERS:
        without, batch = measure(users, exits=False)
        with_exit, _ = measure(users, exits=True)
        rows.append((users, without, with_exit, batch, expected_gain(batch)))
        print(
            f"users {users:4d}: {without:6.1f} -> {with_exit:6.1f} tokens/s per user "
            f"(x{with_exit / without:.3f}; mean decode batch {batch:.1f}, "
            f"expected x{rows[-1][4]:.3f})"
        )
    users, without, with_exit, batch, theory = (
        np.array(column) for column in zip(*rows, strict=True)
    )
    fig, (speed_axis, gain_axis) = plt.subplots(1, 2, figsize=(8.0, 3.4), constrained_layout=True)
    speed_axis.plot(
        users, without, "o-", color=OKABE_ITO["without"], label="every token: 34 blocks"
    )
    speed_axis.plot(users, with_exit, "s-", color=OKABE_ITO["with"], label="per-token early exit")
    speed_axis.set_xscale("log")
    speed_axis.set_xlabel("users (phones, 0.1 requests/s each)")
    speed_axis.set_ylabel("tokens/s per user (1 / TPOT)")
    speed_axis.legend(frameon=False)
    speed_axis.grid(alpha=0.3)
    gain_axis.plot(users, with_exit / without, "s-", color=OKABE_ITO["with"], label="measured")
    gain_axis.plot(
        users,
        theory,
        "--",
        color=OKABE_ITO["theory"],
        label="step to the deepest of B tokens\n(closed form, B measured)",
    )
    gain_axis.set_ylim(0.95, 1.85)
    gain_axis.axhline(1.0, color="#999999", linewidth=0.8)
    gain_axis.set_xscale("log")
    gain_axis.set_xlabel("users (phones, 0.1 requests/s each)")
    gain_axis.set_ylabel("speed-up of decoding (with / without)")
    gain_axis.legend(frameon=False, loc="upper right")
    gain_axis.grid(alpha=0.3)
    for axis in (speed_axis, gain_axis):
        axis.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=200)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
