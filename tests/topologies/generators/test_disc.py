"""The disc generator: one cell, devices uniform in a disc, path loss and shadowing per device."""

from collections import Counter

import numpy as np
import pytest

from coinfer.emulator.model.reference import log_distance_gain
from coinfer.topologies.build import resolve_topology
from tests.topologies.helpers import scenario


def test_devices_fill_the_disc_uniformly_by_area():
    topology = {"generator": "disc", "devices": 4000, "radius_m": 200, "min_distance_m": 20}
    deployment = resolve_topology(scenario(topology), seed=2).deployment
    distances = np.array([d.distance_m for d in deployment.devices])
    assert len(distances) == 4000
    assert distances.min() >= 20 and distances.max() <= 200
    expected = 2 / 3 * (200**3 - 20**3) / (200**2 - 20**2)
    assert distances.mean() == pytest.approx(expected, rel=0.02)
    assert {d.cell for d in deployment.devices} == {0} and len(deployment.cells) == 1


def test_gain_is_path_loss_at_the_distance_times_lognormal_shadowing():
    data = scenario({"generator": "disc", "devices": 3000}, channel={"shadowing_std_db": 5})
    deployment = resolve_topology(data, seed=4).deployment
    ratio_db = 10 * np.log10(
        [d.mean_gain / log_distance_gain(d.distance_m) for d in deployment.devices]
    )
    assert ratio_db.std() == pytest.approx(5, rel=0.05) and abs(ratio_db.mean()) < 0.3


def test_device_classes_are_mixed_by_proportion():
    default = resolve_topology(scenario({"generator": "disc", "devices": 40}), seed=1)
    assert Counter(d.group for d in default.deployment.devices) == {"phone": 30, "cam": 10}
    mixed = scenario({"generator": "disc", "devices": 40, "device_mix": {"cam": 1}})
    devices = resolve_topology(mixed, seed=1).deployment.devices
    assert Counter(d.group for d in devices) == {"cam": 40}
    assert {d.hardware.name for d in devices} == {"jetson-orin-nano"}  # the group's hardware
    assert [d.id for d in devices[:3]] == ["cam-0", "cam-1", "cam-2"]


def test_the_layout_has_its_own_seed():
    """With ``topology.seed`` the layout stays put when the run's seed changes (shadowing, a
    channel draw, still follows the run)."""
    fixed = scenario({"generator": "disc", "devices": 20, "seed": 7})
    a = resolve_topology(fixed, seed=1).deployment.devices
    b = resolve_topology(fixed, seed=2).deployment.devices
    assert [d.distance_m for d in a] == [d.distance_m for d in b]
    free = scenario({"generator": "disc", "devices": 20})
    c = resolve_topology(free, seed=1).deployment.devices
    d = resolve_topology(free, seed=2).deployment.devices
    assert [x.distance_m for x in c] != [x.distance_m for x in d]
