"""The policies that ship with coinfer, found by name through :mod:`policies.registry`.

A built-in policy is a :class:`~coinfer.policies.base.Policy` subclass registered in the entry
point group ``coinfer.policies`` of coinfer's own ``pyproject.toml`` and listed in
:data:`BUILTIN_POLICY_CLASSES`; its ``name`` attribute is the name scenarios and the command line
use. Third-party policies do not go here: they register through the ``coinfer.policies`` entry
point group or are named ``module:Class`` (see ``docs/writing-a-policy.md``).
"""

from __future__ import annotations

from typing import Any

from coinfer.policies.base import Policy
from coinfer.policies.baselines import (
    FixedFrequencyPolicy,
    FixedPowerPolicy,
    MinLatencyPolicy,
    NoPruningPolicy,
    OnDevicePolicy,
    OnServerPolicy,
    PruneDeviceOnlyPolicy,
    PruneServerOnlyPolicy,
    RandomPolicy,
)
from coinfer.policies.compact import DistillOnlyPolicy, JointCompactPolicy, QuantizeOnlyPolicy
from coinfer.policies.fixed import FixedPolicy
from coinfer.policies.joint import JointPolicy, QueueAwarePolicy
from coinfer.policies.joint_sca import JointScaPolicy
from coinfer.policies.split import SplitPolicy

#: Every built-in policy class, in the order ``coinfer policies`` lists them.
BUILTIN_POLICY_CLASSES: tuple[type[Policy[Any]], ...] = (
    JointPolicy,
    JointScaPolicy,
    QueueAwarePolicy,
    FixedPowerPolicy,
    FixedFrequencyPolicy,
    PruneDeviceOnlyPolicy,
    PruneServerOnlyPolicy,
    OnDevicePolicy,
    OnServerPolicy,
    NoPruningPolicy,
    MinLatencyPolicy,
    RandomPolicy,
    FixedPolicy,
    SplitPolicy,
    JointCompactPolicy,
    QuantizeOnlyPolicy,
    DistillOnlyPolicy,
)
