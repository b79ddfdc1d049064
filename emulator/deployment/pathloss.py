"""Path-loss models: the long-term mean power gain of a radio link from its length.

A path-loss model is a plug-in of the ``coinfer.pathloss`` family
(:mod:`coinfer.emulator.plugins`): a class implementing :class:`PathLossModel`, registered under
the name a scenario gives as ``channel.pathloss.model``. Both ways of describing a deployment
(flat cells, or a topology's radio links) use it through
:func:`coinfer.emulator.deployment.placement.mean_gains`, which adds shadowing. The built-ins:

* ``log-distance``: the paper's ``g = K0·(d/d0)^(−α)``;
* ``38901``: 3GPP TR 38.901 UMi-Street Canyon or UMa, line of sight drawn per link, forced, or
  averaged over its probability.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar, Protocol, cast

import numpy as np

from coinfer.emulator.model.reference import (
    gain_from_pathloss_db,
    log_distance_gain,
    los_probability_38901,
    mean_gain_38901,
    pathloss_38901_db,
)
from coinfer.emulator.plugins import PATHLOSS
from coinfer.emulator.scenario.schema import LogDistancePathLoss, PathLoss38901, PathLossParams


class PathLossModel(Protocol):
    """A path-loss model, made from the channel's ``pathloss`` parameters."""

    Params: ClassVar[type[PathLossParams]]

    def __init__(self, params: PathLossParams) -> None: ...

    def gains(
        self, distances_m: np.ndarray, los_rng: Callable[[], np.random.Generator]
    ) -> np.ndarray:
        """Mean power gain (linear, before shadowing) of a link of each length in
        ``distances_m`` (m). ``los_rng()`` makes the run's line-of-sight stream; ask for it
        only when drawing (so that a model without randomness consumes none)."""
        ...


def pathloss_model(params: PathLossParams) -> PathLossModel:
    """The model ``params.model`` names, made with ``params``."""
    return PATHLOSS.load(params.model)(params)


class LogDistanceModel:
    """The paper's path loss ``g = K0·(d/d0)^(−α)``."""

    Params = LogDistancePathLoss

    def __init__(self, params: LogDistancePathLoss) -> None:
        self.params = params

    def gains(
        self, distances_m: np.ndarray, los_rng: Callable[[], np.random.Generator]
    ) -> np.ndarray:
        p = self.params
        # the reference formulas give an array for array distances
        gains = log_distance_gain(distances_m, p.k0_db, p.reference_distance_m, p.exponent)
        return cast(np.ndarray, gains)


class Model38901:
    """3GPP TR 38.901 path loss (UMi-Street Canyon or UMa)."""

    Params = PathLoss38901

    def __init__(self, params: PathLoss38901) -> None:
        self.params = params

    def gains(
        self, distances_m: np.ndarray, los_rng: Callable[[], np.random.Generator]
    ) -> np.ndarray:
        p = self.params
        if p.los == "mean":
            return cast(np.ndarray, mean_gain_38901(p.scenario, distances_m, p.carrier_hz))
        if p.los == "random":
            p_los = los_probability_38901(p.scenario, distances_m)
            los = los_rng().random(len(distances_m)) < p_los
        else:
            los = np.full(len(distances_m), p.los == "los")
        pathloss_db = pathloss_38901_db(p.scenario, los, distances_m, p.carrier_hz)
        return cast(np.ndarray, gain_from_pathloss_db(pathloss_db))
