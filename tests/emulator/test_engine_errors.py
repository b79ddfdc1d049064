"""Clear failure: bad input is refused with one message naming the field, the value and what was
expected, as an :class:`~coinfer.emulator.errors.InputError` (a ``ValueError``); a decision outside
the
bounds is refused by the engine as a :class:`~coinfer.policies.base.PolicyError` naming the policy
and the field; an infeasible request is a recorded outcome, not an exception."""

from __future__ import annotations

import re
from typing import ClassVar

import pytest

from coinfer.emulator.api.run import prepare, simulate
from coinfer.emulator.errors import InputError
from coinfer.emulator.scenario.schema import scenario_from_dict
from coinfer.policies.base import Policy, PolicyError
from coinfer.policies.fixed import FixedPolicy


def scenario(device=None, **changes):
    data = {
        "name": "bad",
        "requests": 5,
        "devices": [
            {"name": "d", "arrivals": {"process": "poisson", "rate_per_s": 1.0}, **(device or {})}
        ],
    }
    data.update(changes)
    return data


def test_input_errors_are_value_errors():
    assert issubclass(InputError, ValueError)
    assert issubclass(PolicyError, InputError)


@pytest.mark.parametrize(
    ("changes", "field", "value"),
    [
        ({"cells": [{"id": "c0", "bandwidth_hz": -5}]}, "cells[0].bandwidth_hz", "-5"),
        ({"servers": [{"id": "s0", "workers": 0}]}, "servers[0].workers", "0"),
        ({"channel": {"fading": {"law": "rayleigh", "m": 0.1}}}, "channel.fading.m", "0.1"),
        (
            {"devices": [{"name": "d", "arrivals": {"process": "poisson", "rate_per_s": 0}}]},
            "devices[0].arrivals.rate_per_s",
            "0",
        ),
    ],
)
def test_a_bad_value_is_refused_naming_the_field_and_the_value(changes, field, value):
    """The message has the form ``FIELD: got VALUE, expected ...``."""
    with pytest.raises(InputError) as caught:
        scenario_from_dict(scenario(**changes))
    message = str(caught.value)
    assert re.search(re.escape(field) + r": got " + re.escape(value) + r"\b", message), message
    assert "expected" in message


def test_unknown_hardware_lists_the_known_names():
    """An unknown device class is refused before the run, naming the device group, the name
    given and every known device class."""
    with pytest.raises(InputError) as caught:
        prepare(scenario_from_dict(scenario({"hardware": "iphone"})))
    message = str(caught.value)
    assert "devices[0]" in message and "'iphone'" in message
    for known in ("paper-device", "phone-soc", "jetson-orin-nano"):
        assert known in message


def test_a_server_class_is_not_a_device():
    with pytest.raises(InputError, match=r"devices\[0\].*'paper-server'.*server"):
        prepare(scenario_from_dict(scenario({"hardware": "paper-server"})))


def test_unknown_model_lists_the_known_names():
    with pytest.raises(InputError, match=r"devices\[0\].*'gpt-17'.*bert-paper"):
        prepare(scenario_from_dict(scenario({"model": "gpt-17"})))


def test_out_of_range_policy_parameters_are_refused_before_the_run():
    """``rho_device = 1.5`` (a kept fraction above 1) fails the fixed policy's parameter check:
    the message names the policy, the parameter and the value."""
    bad = scenario_from_dict(scenario(policy={"name": "fixed", "params": {"rho_device": 1.5}}))
    with pytest.raises(InputError) as caught:
        prepare(bad)
    message = str(caught.value)
    assert "'fixed'" in message and "rho_device: got 1.5" in message


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"split": 99}, "policy.params.split: got 99, expected split points in 0..12"),
        ({"tx_power_w": 2.0}, "policy.params.tx_power_w: got 2.0, expected a power in (0, 0.5] W"),
        ({"f_server_hz": 9e9}, "policy.params.f_server_hz: got 9000000000.0"),
    ],
)
def test_parameters_no_request_could_use_are_refused_before_the_run(params, field):
    """The fixed policy's parameters are positive numbers, but outside the model's or the
    hardware's bounds (BERT has split points 0..12; the paper device transmits at most 0.5 W;
    the paper server clocks at most 4 GHz): refused before the run, naming the field."""
    bad = scenario_from_dict(scenario(policy={"name": "fixed", "params": params}))
    with pytest.raises(InputError) as caught:
        prepare(bad)
    message = str(caught.value)
    assert "policy 'fixed'" in message and field in message, message


class OutOfBounds(Policy[Policy.Params]):
    """Decides what ``fixed`` decides, with one field pushed out of bounds (for the test)."""

    name = "out-of-bounds"
    changes: ClassVar[dict] = {}

    def decide(self, context):
        decision = FixedPolicy(FixedPolicy.Params(), self.rng).decide(context)
        return decision._replace(**self.changes)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"split": 99}, "split=99, expected an integer in 0..12"),
        ({"tx_power_w": 2.0}, "tx_power_w=2.0, expected a power in (0, 0.5] W"),
        ({"f_server_hz": 9e9}, "f_server_hz=9000000000.0"),
    ],
)
def test_a_decision_outside_the_bounds_is_refused_by_the_engine(monkeypatch, changes, field):
    """A policy (here one of the test's own) returning a decision outside the model's or the
    hardware's bounds: the engine's bound check refuses the first such decision, naming the
    policy and the field."""
    monkeypatch.setattr(OutOfBounds, "changes", changes)
    policy = {"name": "tests.emulator.test_engine_errors:OutOfBounds"}
    with pytest.raises(PolicyError) as caught:
        simulate(scenario_from_dict(scenario(policy=policy)), seed=0)
    message = str(caught.value)
    assert "policy 'out-of-bounds'" in message and field in message, message


def test_unknown_policy_lists_the_known_policies():
    with pytest.raises(InputError, match=r"'greedy'.*fixed"):
        prepare(scenario_from_dict(scenario(policy={"name": "greedy"})))


def test_an_infeasible_request_is_an_outcome_not_an_exception():
    """Budgets no decision can meet (1 ms, 1 µJ) do not stop the run: each request carries
    ``policy_feasible = False`` and ``deadline_met = False``; the fixed policy still runs it."""
    tight = scenario_from_dict(scenario({"deadline_s": 1e-3, "energy_budget_j": 1e-6}))
    trace = simulate(tight, seed=0).trace
    assert len(trace) == 5
    assert not trace["policy_feasible"].any()
    assert not trace["deadline_met"].any()
    assert (trace["status"] == "completed").all()
