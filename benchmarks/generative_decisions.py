"""Decisions per second of the generative optimiser (``joint`` on generative requests) in an
engine run.

Four Jetson AGX Orins chat with Llama-3-8B on an A100 (prompt 400, output 40 tokens, a 20 ms
TTFT and a 50 ms TPOT budget, Poisson arrivals at 1 request/s each), decided by ``joint`` with
every split of the model and with ``splits: [0, 9, 34]``. The time spent in the optimiser's
``decide`` is measured around each call, inside the run (the contexts are the engine's, with the
server's batch state of the moment). Prints, per configuration, the decisions, the time per
decision, decisions per second, the run's wall time and the SLO attainment.

Run:  python benchmarks/generative_decisions.py [--requests 200] [--seed 1]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from coinfer.emulator.api.run import simulate
from coinfer.emulator.scenario.schema import scenario_from_dict
from coinfer.policies.generative_joint import GenerativeOptimiser


def chat_cell(requests: int, splits: list[int] | None) -> Any:
    """The scenario measured (module docstring)."""
    return scenario_from_dict(
        {
            "requests": requests,
            "devices": [
                {
                    "name": "phone",
                    "count": 4,
                    "hardware": "jetson-agx-orin",
                    "model": "llama-3-8b",
                    "arrivals": {"process": "poisson", "rate_per_s": 1.0},
                    "tokens": {
                        "prompt": {"distribution": "constant", "value": 400},
                        "output": {"distribution": "constant", "value": 40},
                    },
                }
            ],
            "servers": [{"id": "edge", "hardware": "a100", "discipline": "continuous-batching"}],
            "downlink": {"rate_bps": 50e6},
            "slo": {"ttft_s": 0.02, "tpot_s": 0.05},
            "policy": {"name": "joint", "params": {"splits": splits}},
        }
    )


def measure(requests: int, seed: int, splits: list[int] | None) -> dict[str, float]:
    """Run the scenario, timing every call of the optimiser's ``decide``."""
    spent = [0.0, 0]
    decide = GenerativeOptimiser.decide

    def timed(self: GenerativeOptimiser, context: Any) -> Any:
        start = time.perf_counter()
        decision = decide(self, context)
        spent[0] += time.perf_counter() - start
        spent[1] += 1
        return decision

    GenerativeOptimiser.decide = timed  # type: ignore[method-assign]
    try:
        start = time.perf_counter()
        result = simulate(chat_cell(requests, splits), seed=seed)
        wall = time.perf_counter() - start
    finally:
        GenerativeOptimiser.decide = decide  # type: ignore[method-assign]
    decisions = spent[1]
    return {
        "decisions": decisions,
        "ms_per_decision": 1e3 * spent[0] / decisions,
        "decisions_per_s": decisions / spent[0],
        "wall_s": wall,
        "slo_attainment": float(result.summary.generative["slo_attainment"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per run")
    parser.add_argument("--seed", type=int, default=1, help="seed of the runs")
    args = parser.parse_args()
    print("splits            decisions  ms/decision  decisions/s  run wall s  SLO attainment")
    for label, splits in (("every (0..34)", None), ("[0, 9, 34]", [0, 9, 34])):
        m = measure(args.requests, args.seed, splits)
        print(
            f"{label:<17} {m['decisions']:>9.0f}  {m['ms_per_decision']:>11.2f}  "
            f"{m['decisions_per_s']:>11.0f}  {m['wall_s']:>10.2f}  {m['slo_attainment']:>14.3f}"
        )


if __name__ == "__main__":
    main()
