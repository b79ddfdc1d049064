"""Placement helpers shared by both ways of describing a deployment (flat cells or a topology).

Looking names up in the catalogs with the field to blame, the model a device group runs, and the
random distances and long-term mean gains of a group's devices (SI units: metres, linear gain).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from pydantic import ValidationError

from coinfer.emulator.deployment.pathloss import pathloss_model
from coinfer.emulator.errors import InputError
from coinfer.emulator.model.catalog import ModelCatalog
from coinfer.emulator.model.hardware import HardwareCatalog
from coinfer.emulator.model.profiles import ModelProfile
from coinfer.emulator.randomness import stream
from coinfer.emulator.scenario.schema import Channel, DeviceGroup, DistanceRange, Scenario


def catalogs_for(scenario: Scenario) -> tuple[HardwareCatalog, ModelCatalog]:
    """The built-in catalogs extended by the scenario's own hardware and model files."""
    hardware = HardwareCatalog.builtin().with_files(scenario.hardware_files)
    models = ModelCatalog.builtin().with_files(scenario.model_files)
    return hardware, models


def lookup(get, where: str, *, path: str | None = None):
    """``get()``, with an :class:`InputError` from it prefixed by ``where`` (and, given
    ``path``, the field it is about)."""
    try:
        return get()
    except InputError as err:
        err.within(where, path=path)
        raise


def group_model(models: ModelCatalog, group: DeviceGroup) -> ModelProfile:
    """The model profile a device group runs (a catalog name or a profile file)."""
    name = group.model
    if name.lower().endswith((".yaml", ".yml", ".csv")) and name not in models.names():
        models = models.with_files([name])  # a profile file; a missing one is refused by name
        name = models.names()[-1]
    return models.get(name, sequence_length=group.sequence_length, image_size=group.image_size)


def with_group_exits(model: ModelProfile, group: DeviceGroup) -> ModelProfile:
    """``model`` with the group's early-exit heads (``exits``), if it has any; heads that do not
    fit the model raise :class:`InputError` at ``exits``."""
    if group.exits is None:
        return model
    heads = group.exits.read_heads("exits")
    try:
        return model.with_exits(heads)
    except ValidationError as err:
        message = err.errors()[0]["msg"].removeprefix("Value error, ")
        raise InputError(
            f"{message} (model {model.name!r})",
            path="exits",
            value=[head.model_dump() for head in heads],
        ) from None


def group_distances(group: DeviceGroup, seed: int, group_index: int) -> np.ndarray:
    """Distance of each device of the group to its access point, m (area-uniform in a range)."""
    if not isinstance(group.distance_m, DistanceRange):
        return np.full(group.count, float(group.distance_m))
    low, high = group.distance_m.min_m, group.distance_m.max_m
    u = stream(seed, "placement", group_index).random(group.count)
    return np.sqrt(low**2 + u * (high**2 - low**2))


def group_mean_gains(
    channel: Channel, distances: np.ndarray, seed: int, group_index: int
) -> np.ndarray:
    """Path loss × log-normal shadowing per device (linear power gain)."""
    return mean_gains(
        channel,
        distances,
        lambda: stream(seed, "los", group_index),
        lambda: stream(seed, "shadowing", group_index),
    )


def mean_gains(
    channel: Channel,
    distances: np.ndarray,
    los_rng: Callable[[], np.random.Generator],
    shadowing_rng: Callable[[], np.random.Generator],
) -> np.ndarray:
    """Path loss at ``distances`` (m) × log-normal shadowing, linear power gains.

    The path-loss model is the plug-in the channel names (:mod:`.pathloss`). ``los_rng`` and
    ``shadowing_rng`` make the random streams, asked for only when the model draws line of sight
    (38.901, ``los: random``) or the channel draws shadowing (``shadowing_std_db > 0``).
    """
    gains = pathloss_model(channel.pathloss).gains(distances, los_rng)
    if channel.shadowing_std_db > 0:
        shadow_db = channel.shadowing_std_db * shadowing_rng().standard_normal(len(distances))
        gains = gains * 10.0 ** (shadow_db / 10.0)
    return np.asarray(gains, dtype=float)
