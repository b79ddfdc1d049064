"""Policies that choose servers, for the routing tests (named module:Class in scenarios)."""

from __future__ import annotations

import numpy as np

from coinfer.policies.base import Decision, PolicyContext
from coinfer.policies.fixed import FixedPolicy

#: Contexts seen by :class:`Recorder` (decide) and :class:`LastServer` (choose_server).
SEEN: list[PolicyContext] = []
CHOSEN_FROM: list[PolicyContext] = []


class Recorder(FixedPolicy):
    """The fixed policy, remembering every context it decides on."""

    name = "recorder"

    def decide(self, context: PolicyContext) -> Decision:
        SEEN.append(context)
        return super().decide(context)


class LastServer(Recorder):
    """Sends every request to the last candidate server (the farthest)."""

    name = "last-server"

    def choose_server(self, context: PolicyContext) -> int:
        CHOSEN_FROM.append(context)
        return np.int64(len(context.candidate_servers) - 1)  # numpy integers are accepted


class OutOfRange(FixedPolicy):
    """Chooses a server that does not exist."""

    name = "out-of-range"

    def choose_server(self, context: PolicyContext) -> int:
        return 99


class CloudFirst(FixedPolicy):
    """Sends every request to the cloud (the first candidate of tier cloud)."""

    name = "cloud-first"

    def choose_server(self, context: PolicyContext) -> int:
        tiers = [c.tier for c in context.candidate_servers]
        return tiers.index("cloud")
