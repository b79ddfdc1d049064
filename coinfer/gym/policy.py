"""A policy trained in :mod:`coinfer.gym`, back in coinfer as a regular policy.

``coinfer.gym.policy:TrainedPolicy`` wraps a saved Stable-Baselines3 model: it encodes each
request's context as the environment does (:class:`~coinfer.gym.features.Observation`), asks
the model for an action and maps it to a decision (:class:`~coinfer.gym.features.Actions`).
A scenario names it like any ``module:Class`` policy, so that ``coinfer run`` and
``coinfer compare`` run it against ``joint`` and the baselines::

    policy:
      name: coinfer.gym.policy:TrainedPolicy
      params: {model: runs/rl/ppo-busy-cell.zip}

The model is loaded when the run is set up (``check_setting``, before any request: a missing
file or a model whose spaces do not fit the scenario is refused there), with the
``stable-baselines3`` package (and torch), which the ``rl`` extra does not install.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import ConfigDict, Field

from coinfer.emulator.errors import InputError
from coinfer.gym.features import Actions, Observation
from coinfer.policies.base import Decision, Policy, PolicyContext
from coinfer.policies.setting import DeviceGroupSetting, PolicySetting

#: Stable-Baselines3's algorithms by the name the ``algorithm`` parameter takes.
ALGORITHMS = {"ppo": "PPO", "a2c": "A2C", "sac": "SAC", "td3": "TD3", "ddpg": "DDPG"}


class TrainedParams(Policy.Params):
    """Parameters of :class:`TrainedPolicy`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(min_length=1, description="the saved Stable-Baselines3 model (.zip), a path")
    algorithm: Literal["ppo", "a2c", "sac", "td3", "ddpg"] = Field(
        default="ppo", description="the algorithm that trained it"
    )
    actions: Literal["normalised", "si"] = Field(
        default="normalised", description="the action scale it was trained on"
    )
    admission: bool = Field(default=False, description="whether its actions have an admit number")
    deterministic: bool = Field(
        default=True, description="the most likely action (else: sampled from the policy)"
    )


class TrainedPolicy(Policy[TrainedParams]):
    """Decides with a model trained in :mod:`coinfer.gym` (see the module)."""

    name = "trained"
    summary = "a policy trained in coinfer.gym (a saved Stable-Baselines3 model)"
    # a required parameter (model): mypy then finds the class unlike Params(), callable bare
    Params = TrainedParams  # type: ignore[assignment]

    def __init__(self, params: TrainedParams, rng: np.random.Generator) -> None:
        super().__init__(params, rng)
        self._model: Any = None
        self._observation: Observation | None = None
        self._actions: Actions | None = None

    def check_setting(self, setting: PolicySetting) -> None:
        """Load the model and refuse it if its spaces do not fit ``setting``'s observation and
        action (InputError naming ``model``)."""
        super().check_setting(setting)
        self._set_up(setting)

    def _set_up(self, setting: PolicySetting) -> None:
        params = self.params
        observation = Observation(setting)
        actions = Actions(setting, params.actions, params.admission)
        model = _load(params.model, params.algorithm)
        for what, space, size in (
            ("observation", model.observation_space, observation.size),
            ("action", model.action_space, actions.size),
        ):
            if tuple(space.shape) != (size,):
                raise InputError(
                    f"got a model whose {what} has shape {tuple(space.shape)}, expected "
                    f"({size},): the scenario's {what} (was it trained on another scenario, "
                    "or with other actions or admission?)",
                    argument="model",
                    value=params.model,
                    expected=f"a model with {size} {what} numbers",
                )
        self._model, self._observation, self._actions = model, observation, actions

    def decide(self, context: PolicyContext) -> Decision:
        if self._model is None:  # not set up for a run (a single decision): this request's
            group = DeviceGroupSetting("group", context.model, context.device)
            self._set_up(PolicySetting((group,), (context.server,)))
        assert self._observation is not None and self._actions is not None
        observation = self._observation.encode(context)
        action, _ = self._model.predict(observation, deterministic=self.params.deterministic)
        return self._actions.decision(action, context)


def _load(path: str, algorithm: str) -> Any:
    """The saved model at ``path``, loaded with Stable-Baselines3's ``algorithm`` class."""
    if not Path(path).is_file():
        raise InputError(
            f"got {path!r}, which is not a file; expected a saved Stable-Baselines3 model (.zip)",
            argument="model",
            value=path,
            expected="a saved model file",
        )
    try:
        sb3 = importlib.import_module("stable_baselines3")
    except ImportError as err:
        raise InputError(
            "loading a trained model needs stable-baselines3; expected it installed "
            "(docs/rl.md: pip install torch==2.13.0 stable-baselines3)",
            argument="model",
            value=path,
            expected="stable-baselines3 installed",
        ) from err
    try:
        return getattr(sb3, ALGORITHMS[algorithm]).load(path, device="cpu")
    except Exception as err:
        raise InputError(
            f"got {path!r}, which {ALGORITHMS[algorithm]} cannot load ({err}); expected a "
            f"model saved by {ALGORITHMS[algorithm]}.save",
            argument="model",
            value=path,
            expected=f"a {ALGORITHMS[algorithm]} model",
        ) from err
