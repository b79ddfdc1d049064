"""The Gymnasium environment (``coinfer.gym``): one step per request's decision.

What is proven here: the environment passes Gymnasium's own checker and is registered under
``coinfer/Request-v0``; replaying a built-in policy's decisions through it gives that policy's
trace exactly (the same seed, the same decisions, the same run); rewards are credited once per
request, after the request has finished, and add up to the reward of the whole trace; an
episode is reproduced by its seed; the engine's worker thread ends with the episode, on
close(), on reset() and when the environment is garbage-collected; bad input is refused before
anything runs.
"""

from __future__ import annotations

import gc
import math
import threading
from pathlib import Path

import numpy as np
import pytest

gymnasium = pytest.importorskip("gymnasium")

from gymnasium.utils.env_checker import check_env  # noqa: E402

from coinfer.emulator.api.run import simulate  # noqa: E402
from coinfer.emulator.errors import InputError  # noqa: E402
from coinfer.emulator.randomness import stream  # noqa: E402
from coinfer.emulator.scenario.schema import load_scenario  # noqa: E402
from coinfer.gym import ENV_ID, RequestEnv, Reward, make_request_env  # noqa: E402
from coinfer.gym.reward import Outcome  # noqa: E402
from coinfer.policies.base import check_decision  # noqa: E402
from coinfer.policies.registry import make_policy  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BUSY_CELL = ROOT / "examples" / "scenarios" / "busy-cell.yaml"


def busy_cell(*overrides: str):
    """The busy cell of the examples, 20 s long (about 500 requests)."""
    return load_scenario(BUSY_CELL, ["duration_s=20", "warmup_s=0", *overrides])


def workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("coinfer-gym-")]


def play(env: RequestEnv, decide, seed: int) -> list[tuple]:
    """Run one episode, each action from ``decide(context)``; the steps' (reward, info)."""
    env.reset(seed=seed)
    steps = []
    while True:
        context = env.context
        _, reward, terminated, truncated, info = env.step(decide(context))
        steps.append((reward, info, context.time_s))
        assert not truncated
        if terminated:
            return steps


def test_the_environment_passes_gymnasiums_checker():
    env = RequestEnv(busy_cell("duration_s=5"))
    check_env(env, skip_render_check=True)
    env.close()


def test_gymnasium_makes_it_by_name_from_a_scenario_file():
    env = gymnasium.make(ENV_ID, scenario=str(BUSY_CELL), overrides=["duration_s=2", "warmup_s=0"])
    observation, info = env.reset(seed=4)
    assert env.observation_space.contains(observation)
    assert info["seed"] == 4 and info["request_id"] == 0
    env.close()
    # the module-prefixed id imports coinfer.gym itself
    env = gymnasium.make(f"coinfer.gym:{ENV_ID}", scenario=busy_cell("duration_s=2"))
    assert env.unwrapped.scenario.duration_s == 2
    env.close()


@pytest.mark.parametrize(
    ("policy", "params", "overrides", "own_columns"),
    [
        # fixed predicts as the environment does: every column is the same but the policy's name
        ("fixed", {"split": 6, "rho_device": 0.8}, [], []),
        # joint drops the requests it finds infeasible (admission) and predicts on its own
        (
            "joint",
            {"rho_min": 0.5},
            ["devices.0.deadline_s=0.2"],
            ["predicted_latency_s", "predicted_energy_j"],
        ),
        ("random", {}, [], ["predicted_latency_s", "predicted_energy_j"]),
    ],
)
def test_a_policys_decisions_replayed_as_actions_give_its_trace_exactly(
    policy, params, overrides, own_columns
):
    scenario = busy_cell(f"policy.name={policy}", f"policy.params={params}", *overrides)
    expected = simulate(scenario, seed=3).trace
    env = RequestEnv(scenario, actions="si", admission=True)
    # the policy as the engine builds it for seed 3 (its own random stream)
    decider = make_policy(policy, params, stream(3, "policy"))
    play(env, lambda context: env.actions.action_of(decider.decide(context), context), seed=3)
    got = env.trace()
    assert list(got.columns) == list(expected.columns)
    assert set(got["policy"]) == {"agent"}
    same = [c for c in expected.columns if c != "policy" and c not in own_columns]
    assert got[same].equals(expected[same])
    if policy == "joint":
        assert (got["status"] == "infeasible").sum() > 0  # the admission was replayed too


def test_rewards_are_credited_once_each_after_the_request_has_finished():
    env = RequestEnv(busy_cell("duration_s=10"))
    rng = np.random.default_rng(0)
    steps = play(env, lambda context: rng.uniform(-1, 1, 6), seed=1)
    trace = env.trace().set_index("request_id")
    model = load_scenario(BUSY_CELL).devices[0].model
    rewards = {rid: Reward()(outcome(row, model)) for rid, row in trace.iterrows()}
    times = [time for _, _, time in steps]  # each step's decision time
    credited = [info["credited"] for _, info, _ in steps]
    assert sorted(rid for ids in credited for rid in ids) == sorted(trace.index)  # once each
    credited_at = {rid: k for k, ids in enumerate(credited) for rid in ids}
    for k, (reward, _, _) in enumerate(steps):
        next_time = times[k + 1] if k + 1 < len(times) else math.inf
        # finished by the next decision (or the end of the run), not before its own decision
        assert (trace.loc[list(credited[k]), "t_done"] <= next_time).all()
        expected = 0.0
        for rid in credited[k]:  # the step's reward: its requests' rewards, summed in order
            expected += rewards[rid]
        assert reward == pytest.approx(expected, rel=1e-12, abs=1e-12)
    for rid, t_done in trace["t_done"].items():  # finished before a decision: credited by then
        later = next((k for k, t in enumerate(times) if t > t_done), None)
        if later is not None:
            assert credited_at[rid] <= later - 1


def test_late_at_deadline_credits_the_late_penalty_when_the_deadline_passes():
    """The same episode with and without: the same return; a request unfinished at its deadline
    is penalised at the first decision after it, and the rest of its reward comes later."""
    scenario = busy_cell("duration_s=10")

    def episode(late_at_deadline):
        env = RequestEnv(scenario, late_at_deadline=late_at_deadline)
        rng = np.random.default_rng(3)
        steps = play(env, lambda context: rng.uniform(-1, 1, 6), seed=4)
        return env, steps

    plain_env, plain = episode(False)
    early_env, early = episode(True)
    trace = early_env.trace().set_index("request_id")
    assert plain_env.trace().equals(early_env.trace())  # the actions decide the run, not this
    assert sum(r for r, _, _ in early) == pytest.approx(sum(r for r, _, _ in plain), rel=1e-12)
    times = [time for _, _, time in early]
    late_ids = set()
    for k, (_, info, _) in enumerate(early):
        next_time = times[k + 1] if k + 1 < len(times) else math.inf
        for marker in (c for c in info["credited"] if c < 0):
            rid = -1 - marker
            expiry = trace.loc[rid, "t_arrival"] + trace.loc[rid, "deadline_s"]
            assert expiry < next_time  # the deadline has passed when it is credited
            assert trace.loc[rid, "t_done"] > expiry  # and it was indeed late
            late_ids.add(rid)
    assert late_ids  # random decisions in a busy cell: some are late
    # every request that finished after its deadline, and only those, was penalised early
    after = trace["t_done"] > trace["t_arrival"] + trace["deadline_s"]
    assert late_ids == set(trace.index[after])


def outcome(row, model_name: str) -> Outcome:
    """A trace row (by column name) as an Outcome, the kept fraction from the model's table."""
    from coinfer.emulator.model.catalog import ModelCatalog

    model = ModelCatalog.builtin().get(model_name)
    table = model.split_table
    kept = (
        row.rho_device * table.device_params[row.split]
        + row.rho_server * (table.server_params[row.split])
    )
    return Outcome(
        request_id=int(row.name),
        status=row.status,
        t_arrival=row.t_arrival,
        t_done=row.t_done,
        latency_s=row.latency_s,
        deadline_s=row.deadline_s,
        deadline_met=bool(row.deadline_met),
        energy_total_j=row.energy_total_j,
        energy_device_j=row.energy_device_j,
        energy_budget_j=row.energy_budget_j,
        kept_fraction=kept / sum(block.params for block in model.blocks),
        distortion_bound=row.distortion_bound,
    )


def test_the_default_reward_is_the_kept_fraction_on_time_minus_the_penalties():
    on_time = Outcome(0, "completed", 0.0, 0.2, 0.2, 0.3, True, 0.01, 0.01, 0.015, 0.6, 1.0)
    reward = Reward(keep=2.0, late=0.5, over_energy=0.25)
    assert reward(on_time) == 2.0 * 0.6
    assert reward(on_time._replace(deadline_met=False)) == -0.5
    assert reward(on_time._replace(energy_total_j=0.02)) == 2.0 * 0.6 - 0.25
    dropped = on_time._replace(status="dropped", deadline_met=False, energy_total_j=0.02)
    assert reward(dropped) == -0.5 - 0.25


def test_the_kept_fraction_of_an_outcome_is_the_papers():
    """(ρ·q(l) + ρ̃·s(l)) / n of the request's decision, from its model's split table."""
    scenario = busy_cell("duration_s=2")
    env = RequestEnv(scenario, actions="si")
    env.reset(seed=0)
    model = env.context.model
    split, rho, rho_s = 4, 0.7, 0.9
    action = [split, rho, rho_s, 0.1, env.context.device.f_max_hz, env.context.server.f_max_hz]
    seen = []
    env.reward_function = lambda outcome: seen.append(outcome) or 0.0
    while not env.step(action)[2]:
        pass
    table = model.split_table
    kept = (rho * table.device_params[split] + rho_s * table.server_params[split]) / sum(
        block.params for block in model.blocks
    )
    assert seen and all(o.kept_fraction == pytest.approx(kept, rel=1e-12) for o in seen)


def test_an_episode_is_reproduced_by_its_seed():
    env = RequestEnv(busy_cell("duration_s=5"))

    def episode(seed):
        observation, _ = env.reset(seed=seed)
        rng = np.random.default_rng(7)
        seen, rewards = [observation], []
        while True:
            observation, reward, terminated, _, _ = env.step(rng.uniform(-1, 1, 6))
            seen.append(observation)
            rewards.append(reward)
            if terminated:
                return np.array(seen), rewards

    first, again, other = episode(11), episode(11), episode(12)
    assert np.array_equal(first[0], again[0]) and first[1] == again[1]
    assert len(first[0]) != len(other[0]) or not np.array_equal(first[0], other[0])
    env.close()


def test_reset_without_a_seed_runs_the_scenarios_seed_then_a_reproducible_sequence():
    scenario = busy_cell("duration_s=1", "seed=21")
    env, twin = RequestEnv(scenario), RequestEnv(scenario)
    seeds = []
    for _ in range(3):
        env.reset()
        seeds.append(env.run_seed)
        twin.reset()
        assert twin.run_seed == env.run_seed
    assert seeds[0] == 21 and len(set(seeds)) == 3
    env.close()
    twin.close()


def test_several_seeds_run_side_by_side_in_a_vector_environment():
    vector = gymnasium.make_vec(
        ENV_ID, num_envs=2, vectorization_mode="sync", scenario=busy_cell("duration_s=3")
    )
    observations, infos = vector.reset(seed=[5, 6])
    assert list(infos["seed"]) == [5, 6]
    for index, seed in enumerate((5, 6)):
        single = RequestEnv(busy_cell("duration_s=3"))
        alone, _ = single.reset(seed=seed)
        assert np.array_equal(observations[index], alone)
        single.close()
    for _ in range(5):
        observations, rewards, *_ = vector.step(vector.action_space.sample())
    assert observations.shape == (2, vector.single_observation_space.shape[0])
    assert rewards.shape == (2,)
    vector.close()


def test_the_worker_thread_ends_on_close_reset_and_garbage_collection():
    scenario = busy_cell("duration_s=5")
    before = len(workers())
    env = RequestEnv(scenario)
    env.reset(seed=1)
    env.step(env.action_space.sample())
    assert len(workers()) == before + 1
    env.reset(seed=2)  # the first run is abandoned
    assert len(workers()) == before + 1
    env.close()
    assert len(workers()) == before
    env = RequestEnv(scenario)
    env.reset(seed=3)
    del env
    gc.collect()
    assert len(workers()) == before


def test_the_action_scales_map_onto_the_requests_bounds():
    env = RequestEnv(busy_cell("duration_s=1"), admission=True)
    env.reset(seed=0)
    context = env.context
    device, server, last = context.device, context.server, context.model.last_split
    low = env.actions.decision([-1.0] * 7, context)
    assert (low.split, low.rho_device, low.rho_server) == (0, 0.0, 0.0)
    assert low.tx_power_w == pytest.approx(1e-3 * device.max_tx_power_w)
    # a clock must be above 0: at least 0.001·f_max where f_min is lower
    assert low.f_device_hz == max(device.f_min_hz, 1e-3 * device.f_max_hz)
    assert low.f_server_hz == max(server.f_min_hz, 1e-3 * server.f_max_hz)
    assert not low.admit
    high = env.actions.decision([1.0] * 7, context)
    assert (high.split, high.rho_device, high.rho_server) == (last, 1.0, 1.0)
    assert high.tx_power_w == device.max_tx_power_w
    assert (high.f_device_hz, high.f_server_hz) == (device.f_max_hz, server.f_max_hz)
    assert high.admit
    assert env.actions.decision([5.0] * 7, context) == high  # clipped to the box
    env.close()


@pytest.mark.parametrize("scale", ["normalised", "si"])
def test_every_action_is_a_decision_the_engine_accepts(scale):
    """Whatever the agent sends (bounds, beyond them, zeros), the decision passes the engine's
    bound check (a clock or power of 0 is raised above it)."""
    env = RequestEnv(busy_cell("duration_s=1"), actions=scale, admission=True)
    env.reset(seed=0)
    context = env.context
    box = env.action_space
    rng = np.random.default_rng(1)
    corners = [box.low, box.high, np.zeros(7), box.low - 1, box.high + 1]
    for action in corners + [rng.uniform(box.low - 1, box.high + 1) for _ in range(200)]:
        check_decision("agent", env.actions.decision(action, context), context)
    env.close()


def test_the_observation_is_the_documented_function_of_the_context():
    env = RequestEnv(busy_cell("duration_s=5"))
    observation, _ = env.reset(seed=2)
    for _ in range(30):  # some load in the cell
        observation, *_ = env.step(np.ones(6))
    c = env.context
    features = dict(zip(env.observation_encoder.names, observation.tolist(), strict=True))
    tau = c.deadline_s
    snr = c.device.max_tx_power_w * c.gain / (c.bandwidth_hz * c.noise_psd_w_per_hz)
    expected = {
        "band_share": c.bandwidth_hz / c.cell_bandwidth_hz,
        "spectral_efficiency": min(math.log2(1 + snr) / 20, 1.0),
        "fading_db": min(max(math.log10(c.gain / c.mean_gain), -4.0), 2.0),
        "uplink_active": c.uplink_active / (c.uplink_active + 1),
        "device_backlog": min(c.device_backlog_s / tau, 4.0),
        "server_busy": c.server_in_service / c.server_workers,
        "deadline": math.log10(tau) / 4,
        "energy_budget": math.log10(c.energy_budget_j) / 4,
        "model=bert-paper": 1.0,
    }
    for name, value in expected.items():
        assert features[name] == pytest.approx(value, rel=1e-6, abs=1e-7), name
    env.close()


def test_bad_input_is_refused_before_anything_runs(tmp_path):
    scenario = busy_cell("duration_s=1")
    with pytest.raises(InputError, match="actions: got 'watts'"):
        RequestEnv(scenario, actions="watts")
    with pytest.raises(InputError, match=r"reward.late: got nan"):
        Reward(late=float("nan"))
    with pytest.raises(InputError, match="scenario: got dict"):
        RequestEnv({"name": "x"})
    with pytest.raises(InputError, match=r"missing\.yaml' does not exist"):
        make_request_env(tmp_path / "missing.yaml")
    env = RequestEnv(scenario)
    with pytest.raises(gymnasium.error.ResetNeeded):
        env.step(np.zeros(6))
    env.reset(seed=0)
    with pytest.raises(InputError, match=r"action: got .*expected 6 finite numbers"):
        env.step(np.zeros(5))
    with pytest.raises(InputError, match=r"action: got .*expected 6 finite numbers"):
        env.step(np.array([0, 0, 0, math.nan, 0, 0]))
    env.close()


def test_generative_requests_and_policy_routing_are_refused_with_the_field():
    chat = load_scenario(ROOT / "examples" / "scenarios" / "llm-chat-cell.yaml")
    with pytest.raises(InputError) as refused:
        RequestEnv(chat)
    assert refused.value.path.endswith(".tokens")
    routed = load_scenario(
        ROOT / "examples" / "scenarios" / "edge-cloud.yaml", ["topology.routing=policy"]
    )
    with pytest.raises(InputError) as refused:
        RequestEnv(routed)
    assert refused.value.path == "topology.routing"
