"""Budgets: an optimising policy without a latency budget is refused before the run, and an
infinite deadline is reported as no deadline (never as "deadline met 100 %").

Without T0 the problem of the solver-backed policies has no optimum: the energy keeps falling
with the transmit power and the clocks, so they picked about 1e-8 W and a latency of minutes
(issue 16, point 1). ``docs/policies.md``, "Budgets".
"""

import math

import pytest

from coinfer.emulator.api.run import simulate
from coinfer.emulator.api.solve import Instance, solve
from coinfer.emulator.cli.main import main
from coinfer.emulator.errors import InputError
from coinfer.emulator.scenario.schema import scenario_from_dict
from coinfer.policies.joint import OptimisingPolicy
from coinfer.policies.registry import builtin_policies

OPTIMISING = sorted(
    name for name, cls in builtin_policies().items() if issubclass(cls, OptimisingPolicy)
)
NOT_OPTIMISING = sorted(set(builtin_policies()) - set(OPTIMISING))


def test_the_solver_backed_policies_are_the_ones_refused():
    assert OPTIMISING == [
        "distill-only",
        "fixed-frequency",
        "fixed-power",
        "joint",
        "joint-compact",
        "joint-queue-aware",
        "joint-sca",
        "no-pruning",
        "on-device",
        "on-server",
        "prune-device-only",
        "prune-server-only",
        "quantize-only",
    ]


@pytest.mark.parametrize("policy", OPTIMISING)
def test_an_optimising_policy_without_a_deadline_is_refused_naming_it(policy):
    with pytest.raises(InputError) as refused:
        solve(Instance(energy_budget_j=0.015), policy, {})
    err = refused.value
    assert err.path == "deadline_s" and err.value == math.inf
    assert f"policy {policy!r}" in str(err) and "finite latency budget T0" in str(err)


@pytest.mark.parametrize("policy", OPTIMISING)
def test_with_a_deadline_it_decides_within_it(policy):
    params = {"splits": [0, 4, 6]} if policy not in ("on-device", "on-server") else {}
    result = solve(Instance(deadline_s=0.3, energy_budget_j=0.1), policy, params)
    if result.decision.feasible:
        assert result.cost.latency_s <= 0.3 * (1 + 1e-6)


@pytest.mark.parametrize("policy", NOT_OPTIMISING)
def test_a_policy_that_does_not_optimise_against_the_budget_needs_none(policy):
    params = {"fixed": {"split": 4}, "split": {"layer": 4}}.get(policy, {})
    solve(Instance(), policy, params)  # no error


def test_the_issues_command_exits_2_with_one_line(capsys):
    argv = [
        "solve",
        "--policy",
        "on-server",
        "--model",
        "llama-3-8b",
        "--device",
        "phone-soc",
        "--server",
        "a100",
        "--set",
        "channel.bandwidth_hz=100e6",
        "--set",
        "channel.distance_m=200",
    ]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert not out and err.count("\n") == 1 and "--t0" in err and "'on-server'" in err
    assert main([*argv, "--t0", "1"]) == 0
    out = capsys.readouterr().out
    power_w = float(
        next(line for line in out.splitlines() if line.startswith("tx_power_w")).split()[1]
    )
    assert power_w > 0.01  # not the 2e-08 W of the unbounded problem


def _two_groups(policy: str, deadline_s: float | str = ".inf") -> dict:
    return {
        "requests": 40,
        "devices": [
            {
                "name": "tight",
                "arrivals": {"process": "poisson", "rate_per_s": 2},
                "deadline_s": deadline_s,
            },
            {"name": "free", "arrivals": {"process": "poisson", "rate_per_s": 2}},
        ],
        "policy": {"name": policy, "params": {"split": 4}}
        if policy == "fixed"
        else {"name": policy},
    }


def test_a_run_names_the_group_without_a_deadline_before_it_starts(tmp_path):
    scenario = scenario_from_dict(_two_groups("joint", 0.3))
    with pytest.raises(InputError, match="device group 'free' has none"):
        simulate(scenario, seed=1, out_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_deadline_met_counts_only_requests_that_have_a_deadline():
    """Group ``tight`` misses its 1 ns deadline on every request; group ``free`` has none. The
    share met is 0 (of the requests with a deadline), not the ``free`` share of all requests."""
    result = simulate(scenario_from_dict(_two_groups("fixed", 1e-9)), seed=1)
    trace = result.trace
    assert set(trace["device_id"].str.split("-").str[0]) == {"tight", "free"}
    assert result.summary.deadline_met_ratio == 0.0


def test_without_any_deadline_the_summary_says_no_deadline():
    scenario = scenario_from_dict(
        {
            "requests": 10,
            "devices": [{"name": "d", "arrivals": {"process": "poisson", "rate_per_s": 2}}],
            "policy": {"name": "fixed", "params": {"split": 4}},
        }
    )
    summary = simulate(scenario, seed=1).summary
    assert math.isnan(summary.deadline_met_ratio)
    row = next(line for line in summary.format().splitlines() if line.startswith("deadline met"))
    assert row.split(None, 2)[2].strip() == "no deadline"
