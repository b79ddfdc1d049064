"""A policy trained in the environment plugs back into coinfer as a regular policy.

``coinfer.gym.policy:TrainedPolicy`` wraps a saved Stable-Baselines3 model. These tests need
stable-baselines3 (and torch), which the default installation does not have: they are skipped
without it. The slow test trains PPO on the busy cell for a short budget and checks that it
beats ``random`` on the mean reward, with a paired confidence interval over seeds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gymnasium")
sb3 = pytest.importorskip("stable_baselines3")

from coinfer.emulator.api.intervals import t_interval  # noqa: E402
from coinfer.emulator.api.run import simulate  # noqa: E402
from coinfer.emulator.errors import InputError  # noqa: E402
from coinfer.emulator.scenario.schema import PolicySpec, load_scenario  # noqa: E402
from coinfer.gym import RequestEnv, trace_rewards  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BUSY_CELL = ROOT / "examples" / "scenarios" / "busy-cell.yaml"
TRAINED = "coinfer.gym.policy:TrainedPolicy"


def busy_cell(*overrides: str):
    return load_scenario(BUSY_CELL, ["warmup_s=0", *overrides])


def saved_ppo(env, path: Path, steps: int = 128) -> Path:
    """A PPO model after ``steps`` training steps on ``env``, saved at ``path``."""
    model = sb3.PPO("MlpPolicy", env, n_steps=64, batch_size=64, n_epochs=1, seed=0)
    model.learn(total_timesteps=steps)
    model.save(path)
    return path


def with_policy(scenario, name, **params):
    return scenario.model_copy(update={"policy": PolicySpec(name=name, params=params)})


def test_the_trained_policy_decides_in_a_run_as_the_agent_did_in_the_environment(tmp_path):
    scenario = busy_cell("duration_s=3")
    env = RequestEnv(scenario)
    path = saved_ppo(env, tmp_path / "ppo.zip")
    model = sb3.PPO.load(path, device="cpu")
    observation, _ = env.reset(seed=9)
    while True:  # the agent, acting on the observations
        action, _ = model.predict(observation, deterministic=True)
        observation, _, terminated, _, _ = env.step(action)
        if terminated:
            break
    run = simulate(with_policy(scenario, TRAINED, model=str(path)), seed=9).trace
    assert set(run["policy"]) == {"trained"}
    episode = env.trace()
    same = [c for c in run.columns if c != "policy"]
    assert run[same].equals(episode[same])  # every decision, prediction and outcome
    env.close()


def test_a_model_that_does_not_fit_the_scenario_is_refused_before_the_run(tmp_path):
    scenario = busy_cell("duration_s=1")
    path = saved_ppo(RequestEnv(scenario, admission=True), tmp_path / "admits.zip", steps=64)
    with pytest.raises(InputError, match=r"model: got a model whose action has shape \(7,\)"):
        simulate(with_policy(scenario, TRAINED, model=str(path)), seed=0)
    with pytest.raises(InputError, match=r"model: got .*missing\.zip.*which is not a file"):
        simulate(with_policy(scenario, TRAINED, model=str(tmp_path / "missing.zip")), seed=0)
    fits = simulate(with_policy(scenario, TRAINED, model=str(path), admission=True), seed=0)
    assert len(fits.trace) > 0


@pytest.mark.slow
def test_ppo_trained_briefly_beats_random_on_the_mean_reward(tmp_path):
    """PPO as ``examples/rl/train_ppo.py`` trains it, for 50,000 steps on the busy cell, against
    ``random`` on five unseen seeds: the paired 95 % interval of the difference of the mean
    reward per request lies above 0."""
    from examples.rl.train_ppo import train

    scenario = load_scenario(BUSY_CELL)
    train(scenario, timesteps=50_000, envs=4, seed=0, out=tmp_path, every=10**9)
    path = tmp_path / "ppo-busy-cell.zip"
    evaluated = busy_cell("duration_s=60")
    models = RequestEnv(evaluated).models
    differences = []
    for seed in range(500, 505):
        trained = simulate(with_policy(evaluated, TRAINED, model=str(path)), seed=seed).trace
        random = simulate(with_policy(evaluated, "random"), seed=seed).trace
        differences.append(
            trace_rewards(trained, models).mean() - trace_rewards(random, models).mean()
        )
    mean, half_width, n = t_interval(np.array(differences))
    assert n == 5
    assert mean - half_width > 0.0, (mean, half_width, differences)
