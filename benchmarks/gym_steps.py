"""Environment steps per second against the engine's requests per second, on the busy cell.

The same run both ways: the busy cell (``examples/scenarios/busy-cell.yaml``, about 3,000
requests in 120 s) decided by the ``fixed`` policy, once by :func:`coinfer.simulate` and once
through ``coinfer/Request-v0`` with every action the ``fixed`` decision (``si`` actions: the
trace is the same, tests/gym), so the difference is the environment's own cost: the hand-off
to the agent and back, the observation, the action mapping and the rewards. Also timed: the
same episode through ``gymnasium.make`` (Gymnasium's wrappers) and with random normalised
actions. Interleaved ``--repeat`` times; each rate is the best of its repetitions (the least
disturbed by other load on a shared machine). The target: environment steps per second within
2× of the engine's requests per second (ratio ≥ 0.5), so that training is bound by the learner.

Run:  python benchmarks/gym_steps.py [--duration 120] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import gymnasium
import numpy as np

from coinfer.emulator.api.run import simulate
from coinfer.emulator.scenario.schema import load_scenario
from coinfer.gym import ENV_ID, RequestEnv

SCENARIO = Path(__file__).resolve().parents[1] / "examples" / "scenarios" / "busy-cell.yaml"
TARGET_RATIO = 0.5


def engine_rate(scenario, seed: int) -> float:
    started = time.perf_counter()
    result = simulate(scenario, seed=seed)
    return result.stats.requests / (time.perf_counter() - started)


def fixed_action(env: RequestEnv) -> np.ndarray:
    """The ``fixed`` policy's decision of the scenario, as an ``si`` action."""
    from coinfer.emulator.randomness import stream
    from coinfer.policies.registry import make_policy

    policy = make_policy(env.scenario.policy.name, env.scenario.policy.params, stream(0, "policy"))
    return env.actions.action_of(policy.decide(env.context), env.context)


def env_rate(env, seed: int, action=None) -> float:
    """Steps per second of one episode (reset included); ``action``: a constant action (else
    random ones, drawn before the clock starts)."""
    started = time.perf_counter()
    env.reset(seed=seed)
    if action is None:
        draws = iter(np.random.default_rng(seed).uniform(-1, 1, (100_000, 6)))
    steps = 0
    while True:
        _, _, terminated, _, _ = env.step(action if action is not None else next(draws))
        steps += 1
        if terminated:
            return steps / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=120.0, help="simulated seconds")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    scenario = load_scenario(SCENARIO, [f"duration_s={args.duration}", "warmup_s=0"])

    exact = RequestEnv(scenario, actions="si")
    exact.reset(seed=args.seed)
    action = fixed_action(exact)
    wrapped = gymnasium.make(ENV_ID, scenario=scenario, actions="si")
    normalised = RequestEnv(scenario)
    rates: dict[str, list[float]] = {"engine": [], "env": [], "make": [], "random": []}
    for _ in range(args.repeat):
        rates["engine"].append(engine_rate(scenario, args.seed))
        rates["env"].append(env_rate(exact, args.seed, action))
        rates["make"].append(env_rate(wrapped, args.seed, action))
        rates["random"].append(env_rate(normalised, args.seed))
    for env in (exact, wrapped, normalised):
        env.close()
    best = {name: max(values) for name, values in rates.items()}
    requests = simulate(scenario, seed=args.seed).stats.requests
    print(f"busy cell, {args.duration:g} s, seed {args.seed}: {requests:,} requests")

    def line(label: str, name: str, unit: str) -> None:
        runs = ", ".join(f"{r:,.0f}" for r in rates[name])
        ratio = best[name] / best["engine"]
        print(f"{label:<44} {best[name]:>8,.0f} {unit}  ratio {ratio:.2f}  (best of: {runs})")

    line("engine, fixed policy (coinfer.simulate)", "engine", "requests/s")
    line("environment, the fixed decisions (RequestEnv)", "env", "steps/s   ")
    line("the same through gymnasium.make", "make", "steps/s   ")
    line("environment, random normalised actions", "random", "steps/s   ")
    ratio = best["env"] / best["engine"]
    verdict = "met" if ratio >= TARGET_RATIO else "missed"
    print(f"target: environment within 2x of the engine (ratio >= {TARGET_RATIO}): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
