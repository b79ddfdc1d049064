"""Finding policies by name."""

from __future__ import annotations

from typing import Any

import numpy as np

from emulator.errors import unknown_name_error
from policies.base import Policy
from policies.fixed import FixedPolicy

#: Built-in policies by name.
BUILTIN_POLICIES: dict[str, type[Policy]] = {cls.name: cls for cls in (FixedPolicy,)}


def policy_class(name: str) -> type[Policy]:
    """The policy class registered under ``name``."""
    try:
        return BUILTIN_POLICIES[name]
    except KeyError:
        raise unknown_name_error("policy", name, BUILTIN_POLICIES) from None


def make_policy(name: str, params: dict[str, Any], rng: np.random.Generator) -> Policy:
    """Build the named policy with validated parameters and its random stream."""
    return policy_class(name).from_params(params, rng)
