"""coinfer as a Gymnasium environment: each step decides one request (``docs/rl.md``).

Importing this module registers the environment with Gymnasium as ``coinfer/Request-v0``::

    import gymnasium

    import coinfer.gym

    env = gymnasium.make("coinfer/Request-v0", scenario="examples/scenarios/busy-cell.yaml")

(or, without the import, ``gymnasium.make("coinfer.gym:coinfer/Request-v0", scenario=...)``).
Needs the ``rl`` extra (``pip install 'coinfer[rl]'``: gymnasium).
"""

from __future__ import annotations

try:
    import gymnasium
except ImportError as err:  # pragma: no cover - the rl extra is missing
    raise ImportError(
        "coinfer.gym needs gymnasium: pip install 'coinfer[rl]' (or pip install gymnasium)"
    ) from err

from coinfer.gym.env import AGENT_POLICY, ENV_ID, RequestEnv, make_request_env
from coinfer.gym.features import ACTION_FIELDS, FEATURES, Actions, Observation
from coinfer.gym.reward import Outcome, Reward, trace_outcomes, trace_rewards

__all__ = [
    "ACTION_FIELDS",
    "AGENT_POLICY",
    "ENV_ID",
    "FEATURES",
    "Actions",
    "Observation",
    "Outcome",
    "RequestEnv",
    "Reward",
    "make_request_env",
    "trace_outcomes",
    "trace_rewards",
]

if ENV_ID not in gymnasium.registry:
    gymnasium.register(
        id=ENV_ID,
        entry_point="coinfer.gym.env:make_request_env",
        disable_env_checker=False,
    )
