"""Train PPO on the busy cell, draw its learning curve, compare it with joint, joint-queue-aware
and random under that load.

The environment is ``coinfer/Request-v0`` on ``examples/scenarios/busy-cell.yaml`` (50 phones,
one 20 MHz processor-sharing cell with Rayleigh fading, one 2-worker FCFS server, about 25
requests/s): one step per request, normalised actions (split, ρ, ρ̃, p, f, f̃), the default
reward (the kept fraction of a request that meets its deadline, −1 for a missed deadline, −1 for
energy over its budget; ``coinfer.gym.reward``). PPO (Stable-Baselines3, an MLP of two layers of
64) learns on ``--envs`` environments side by side, each episode a run of the scenario on a new
seed. Then the trained policy, ``joint``, ``joint-queue-aware`` and ``random`` each run the
scenario on the same evaluation seeds (common random numbers; none of them seen in training),
and each is scored on the same reward, per request after the warm-up, with a paired 95 %
confidence interval against the trained policy.

Writes into ``--out``: ``ppo-busy-cell.zip`` (the model), ``trained-busy-cell.yaml`` (the
scenario decided by it, for ``coinfer run`` and ``coinfer compare``), ``learning-curve.csv``,
``comparison.csv`` and ``learning-curve.png`` (the curve, with the evaluated policies' mean
reward as horizontal lines). Prints the comparison.

Needs the rl extra and Stable-Baselines3 with torch's CPU build::

    pip install -e '.[rl]' torch==2.13.0 stable-baselines3

Run:  python examples/rl/train_ppo.py [--timesteps 150000] [--envs 4] [--seeds 5] [--out runs/rl]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from coinfer.emulator.api.intervals import t_interval
from coinfer.emulator.api.run import simulate
from coinfer.emulator.scenario.schema import PolicySpec, Scenario, load_scenario
from coinfer.emulator.sweeps.plots import OKABE_ITO
from coinfer.gym import make_request_env, trace_outcomes, trace_rewards

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "examples" / "scenarios" / "busy-cell.yaml"
TRAINED = "coinfer.gym.policy:TrainedPolicy"
COMPARED = ("joint", "joint-queue-aware", "random")
EVALUATION_SEEDS_FROM = 1000  # training draws its seeds elsewhere (the environments' generators)
PROBE_SEED = 999  # the held-out episode of the learning curve
PROBE_DURATION_S = 60.0  # its length, s


def train(scenario: Scenario, timesteps: int, envs: int, seed: int, out: Path, every: int):
    """PPO trained on ``envs`` environments for ``timesteps`` steps; returns the model and the
    learning curve: every ``every`` steps, the mean reward per request of the policy as it is
    then (its deterministic action) over one episode of a held-out seed (``greedy``), and the
    training episodes finished since (``training``: the return over the steps, actions sampled
    with the exploration noise). A late request's penalty is credited when its deadline passes
    (``late_at_deadline``): a decision that builds up queues is then told so within about T0,
    not when the queues drain at the end of the run."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    curve: list[tuple[int, str, float]] = []
    probe = make_request_env(scenario.model_copy(update={"duration_s": PROBE_DURATION_S}))

    def greedy_reward(model) -> float:
        observation, _ = probe.reset(seed=PROBE_SEED)
        total, steps = 0.0, 0
        while True:
            action, _ = model.predict(observation, deterministic=True)
            observation, reward, terminated, _, _ = probe.step(action)
            total, steps = total + float(reward), steps + 1
            if terminated:
                return total / steps

    class Curve(BaseCallback):
        def _on_training_start(self) -> None:
            curve.append((0, "greedy", greedy_reward(self.model)))

        def _on_step(self) -> bool:
            for info in self.locals["infos"]:
                if "episode" in info:
                    episode = info["episode"]
                    mean = float(episode["r"]) / int(episode["l"])
                    curve.append((self.num_timesteps, "training", mean))
            if self.n_calls % max(every // envs, 1) == 0:
                curve.append((self.num_timesteps, "greedy", greedy_reward(self.model)))
            return True

    vector = make_vec_env(
        make_request_env,
        n_envs=envs,
        seed=seed,
        env_kwargs={"scenario": scenario, "late_at_deadline": True},
    )
    model = PPO(
        "MlpPolicy",
        vector,
        n_steps=512,
        batch_size=256,
        n_epochs=10,
        learning_rate=3e-4,
        gamma=0.9,  # a request's reward comes a few decisions after it
        gae_lambda=0.9,
        policy_kwargs={"log_std_init": -0.5},
        seed=seed,
        device="cpu",
        verbose=0,
    )
    model.learn(total_timesteps=timesteps, callback=Curve())
    vector.close()
    probe.close()
    model.save(out / "ppo-busy-cell.zip")
    return model, pd.DataFrame(curve, columns=["timesteps", "curve", "mean_reward"])


def evaluate(scenario: Scenario, model_path: Path, seeds: list[int]) -> pd.DataFrame:
    """Each policy on each seed: mean reward per request after the warm-up, the share of
    deadlines met, of energies over budget, and the mean kept fraction."""
    env = make_request_env(scenario)
    models = env.models
    env.close()
    policies = {
        "trained": PolicySpec(name=TRAINED, params={"model": str(model_path)}),
        **{name: PolicySpec(name=name) for name in COMPARED},
    }
    rows = []
    for seed in seeds:
        for label, spec in policies.items():
            trace = simulate(scenario.model_copy(update={"policy": spec}), seed=seed).trace
            trace = trace[~trace["warmup"]]
            outcomes = trace_outcomes(trace, models)
            rows.append(
                {
                    "policy": label,
                    "seed": seed,
                    "mean_reward": float(trace_rewards(trace, models).mean()),
                    "deadline_met": float(np.mean([o.deadline_met for o in outcomes])),
                    "over_energy": float(
                        np.mean([o.energy_total_j > o.energy_budget_j for o in outcomes])
                    ),
                    "kept_fraction": float(np.mean([o.kept_fraction for o in outcomes])),
                }
            )
    return pd.DataFrame(rows)


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """Per policy: each metric's mean over the seeds with its 95 % CI, and the paired
    difference of the mean reward from the trained policy's."""
    rows = []
    trained = runs[runs["policy"] == "trained"].set_index("seed")["mean_reward"]
    for policy, group in runs.groupby("policy", sort=False):
        row: dict[str, object] = {"policy": policy}
        for metric in ("mean_reward", "deadline_met", "over_energy", "kept_fraction"):
            mean, half, _ = t_interval(group[metric].to_numpy())
            row[metric], row[f"{metric}_ci95"] = mean, half
        ours = group.set_index("seed")["mean_reward"]
        mean, half, _ = t_interval((trained - ours.loc[trained.index]).to_numpy())
        row["trained_minus_this"], row["trained_minus_this_ci95"] = mean, half
        rows.append(row)
    return pd.DataFrame(rows)


def figure(curve: pd.DataFrame, summary: pd.DataFrame, path: Path) -> None:
    """The learning curve and the evaluated policies' mean reward per request."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.4), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.grid(True, color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    training = curve[curve["curve"] == "training"]
    greedy = curve[curve["curve"] == "greedy"]
    ax.plot(
        training["timesteps"] / 1e3,
        training["mean_reward"],
        linestyle="none",
        marker=".",
        markersize=4,
        color=OKABE_ITO[5],
        label="PPO, training episodes (exploring)",
    )
    ax.plot(
        greedy["timesteps"] / 1e3,
        greedy["mean_reward"],
        color=OKABE_ITO[0],
        linewidth=1.8,
        marker="o",
        markersize=3,
        label="PPO, greedy on a held-out seed",
    )
    styles = {
        "trained": (OKABE_ITO[0], ":"),
        "joint": (OKABE_ITO[3], "--"),
        "joint-queue-aware": (OKABE_ITO[2], "-."),
        "random": (OKABE_ITO[7], (0, (1, 1))),
    }
    for row in summary.itertuples():
        colour, style = styles[row.policy]
        label = "PPO, final (evaluation seeds)" if row.policy == "trained" else row.policy
        ax.axhline(row.mean_reward, color=colour, linestyle=style, linewidth=1.5, label=label)
        ax.axhspan(
            row.mean_reward - row.mean_reward_ci95,
            row.mean_reward + row.mean_reward_ci95,
            color=colour,
            alpha=0.12,
            linewidth=0,
        )
    ax.set_xlabel("training steps (requests decided), thousands")
    ax.set_ylabel("mean reward per request")
    ax.set_xlim(0, curve["timesteps"].max() / 1e3)
    fig.legend(loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    fig.savefig(path, dpi=150)


def trained_scenario(scenario_path: Path, model_path: Path, out: Path) -> Path:
    """The scenario file decided by the trained policy (its other fields as given)."""
    data = yaml.safe_load(scenario_path.read_text(encoding="utf-8"))
    data["name"] = f"{data['name']}-trained"
    data["policy"] = {"name": TRAINED, "params": {"model": str(model_path)}}
    path = out / "trained-busy-cell.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, default=SCENARIO, help="scenario YAML file")
    parser.add_argument("--timesteps", type=int, default=150_000, help="training steps")
    parser.add_argument("--envs", type=int, default=4, help="environments side by side")
    parser.add_argument("--seeds", type=int, default=5, help="evaluation seeds")
    parser.add_argument("--seed", type=int, default=0, help="seed of the training")
    parser.add_argument("--out", type=Path, default=Path("runs/rl"), help="output folder")
    parser.add_argument("--figure", type=Path, default=None, help="also save the figure here")
    parser.add_argument("--every", type=int, default=10_000, help="steps between curve points")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    scenario = load_scenario(args.scenario)

    started = time.perf_counter()
    _, curve = train(scenario, args.timesteps, args.envs, args.seed, args.out, args.every)
    trained_s = time.perf_counter() - started
    model_path = args.out / "ppo-busy-cell.zip"
    curve.to_csv(args.out / "learning-curve.csv", index=False)
    seeds = list(range(EVALUATION_SEEDS_FROM, EVALUATION_SEEDS_FROM + args.seeds))
    runs = evaluate(scenario, model_path, seeds)
    runs.to_csv(args.out / "comparison-runs.csv", index=False)
    summary = summarise(runs)
    summary.to_csv(args.out / "comparison.csv", index=False)
    figure(curve, summary, args.out / "learning-curve.png")
    if args.figure is not None:
        figure(curve, summary, args.figure)
    trained_scenario(args.scenario, model_path, args.out)

    print(f"trained {args.timesteps} steps on {args.envs} environments in {trained_s:.0f} s")
    print(f"evaluated on seeds {seeds[0]}..{seeds[-1]} (mean ± 95 % CI over the seeds)")
    print(
        f"{'policy':<18} {'reward/request':>18} {'deadline met':>14} {'over energy':>13} "
        f"{'kept':>6} {'trained − this':>18}"
    )
    for row in summary.itertuples():
        difference = (
            ""
            if row.policy == "trained"
            else f"{row.trained_minus_this:+.3f} ± {row.trained_minus_this_ci95:.3f}"
        )
        print(
            f"{row.policy:<18} {row.mean_reward:>+9.3f} ± {row.mean_reward_ci95:.3f}"
            f" {row.deadline_met:>13.1%} {row.over_energy:>12.1%} {row.kept_fraction:>6.3f}"
            f" {difference:>18}"
        )


if __name__ == "__main__":
    main()
