"""Resolving a scenario: names looked up, devices placed, gains drawn, all per seed."""

import numpy as np
import pytest

from coinfer.emulator.deployment.build import build_deployment
from coinfer.emulator.errors import InputError
from coinfer.emulator.model.reference import log_distance_gain
from coinfer.emulator.scenario.schema import scenario_from_dict


def scenario(**group_changes):
    group = {"name": "d", "count": 2000, "arrivals": {"process": "poisson", "rate_per_s": 1.0}}
    group.update(group_changes)
    return {"requests": 10, "devices": [group]}


def test_fixed_distance_gives_the_papers_gain():
    deployment = build_deployment(scenario_from_dict(scenario(count=3)))
    assert [d.id for d in deployment.devices] == ["d-0", "d-1", "d-2"]
    assert all(d.mean_gain == pytest.approx(2.77e-11, rel=2e-3) for d in deployment.devices)


def test_devices_are_dropped_uniformly_over_the_annulus():
    data = scenario(distance_m={"min_m": 10, "max_m": 100})
    distances = np.array([d.distance_m for d in build_deployment(scenario_from_dict(data)).devices])
    assert distances.min() >= 10 and distances.max() <= 100
    # Area-uniform: E[d] = (2/3)(R³ − r³)/(R² − r²) = 67.27 m for r = 10, R = 100.
    assert distances.mean() == pytest.approx(2 / 3 * (100**3 - 10**3) / (100**2 - 10**2), rel=0.02)


def test_shadowing_is_lognormal_with_the_given_std():
    data = scenario()
    data["channel"] = {"shadowing_std_db": 6}
    deployment = build_deployment(scenario_from_dict(data))
    ratio_db = 10 * np.log10([d.mean_gain / log_distance_gain(500.0) for d in deployment.devices])
    assert ratio_db.std() == pytest.approx(6, rel=0.05) and abs(ratio_db.mean()) < 0.4


def test_placement_depends_on_the_seed_only():
    data = scenario_from_dict(scenario(distance_m={"min_m": 10, "max_m": 100}))
    first = [d.distance_m for d in build_deployment(data, seed=1).devices]
    again = [d.distance_m for d in build_deployment(data, seed=1).devices]
    other = [d.distance_m for d in build_deployment(data, seed=2).devices]
    assert first == again and first != other


def test_38901_random_los_mixes_los_and_nlos_gains():
    data = scenario(distance_m={"min_m": 20, "max_m": 300})
    data["channel"] = {"pathloss": {"model": "38901", "scenario": "umi", "los": "random"}}
    gains = np.array([d.mean_gain for d in build_deployment(scenario_from_dict(data)).devices])
    forced = dict(data, channel={"pathloss": {"model": "38901", "los": "los"}})
    los_gains = np.array(
        [d.mean_gain for d in build_deployment(scenario_from_dict(forced)).devices]
    )
    assert (gains < los_gains * 0.999).any() and np.isclose(gains, los_gains).any()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"hardware": "h100"}, r"devices\[0\]: hardware class 'h100' is a server"),
        ({"hardware": "pixel"}, r"devices\[0\]: unknown device class 'pixel'"),
        ({"model": "gpt5"}, r"devices\[0\]: unknown model 'gpt5'"),
        ({"model": "bert-paper", "sequence_length": 64}, "sequence_length"),
    ],
)
def test_unknown_names_are_refused_with_the_group_named(changes, message):
    with pytest.raises(InputError, match=message):
        build_deployment(scenario_from_dict(scenario(**changes)))
