"""The decision check every policy output passes before the engine uses it."""

import numpy as np
import pytest

from coinfer.policies.base import Decision, PolicyError, check_decision
from tests.policies.contexts import context


def decision(**changes) -> Decision:
    values = dict(
        split=4,
        rho_device=0.8,
        rho_server=0.9,
        tx_power_w=0.3,
        f_device_hz=8e8,
        f_server_hz=3e9,
        predicted_latency_s=0.2,
        predicted_energy_j=0.01,
        predicted_distortion=0.1,
    )
    values.update(changes)
    return Decision(**values)


@pytest.mark.parametrize("split", [4, np.int64(4), np.int32(0)])
def test_python_and_numpy_integer_splits_are_accepted(split):
    check_decision("mine", decision(split=split), context())


@pytest.mark.parametrize(
    ("changes", "shown"),
    [
        ({"split": 4.0}, "split=4.0, expected an integer in 0..12"),
        ({"split": 13}, "split=13, expected an integer in 0..12"),
        ({"rho_device": 1.2}, "rho_device=1.2"),
        ({"rho_server": -0.1}, "rho_server=-0.1"),
        ({"tx_power_w": 0.0}, "tx_power_w=0.0"),
        ({"f_device_hz": 2e9}, "f_device_hz=2000000000.0"),
        ({"f_server_hz": 9e9}, "f_server_hz=9000000000.0"),
    ],
)
def test_a_decision_out_of_bounds_names_the_policy_and_the_field(changes, shown):
    with pytest.raises(PolicyError, match=f"policy 'mine' returned {shown}"):
        check_decision("mine", decision(**changes), context())
