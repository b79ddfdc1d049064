"""The servers a request may use, as a policy sees them, and the run-time routing rules.

With a topology, :attr:`policies.base.PolicyContext.candidate_servers` lists the servers a
request can reach from its cell (under ``routing: own`` only the cell's own server), the one the
context's ``server`` fields describe first. Each :class:`CandidateServer` carries its hardware,
its load at the decision time and what the wired path to it costs. Without a topology the tuple
is empty.

Routing rules (``topology.routing``):

* ``own``: the cell's own server;
* ``least-loaded``: :func:`least_loaded`, the fewest requests per worker counting those already
  routed to the server and still on their way (device, uplink, backhaul);
* ``policy``: the policy's ``choose_server(context) -> int``, an index into
  ``context.candidate_servers`` (see :class:`ServerChooser`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple, Protocol, runtime_checkable

from coinfer.emulator.model.hardware import HardwareSpec

if TYPE_CHECKING:
    from coinfer.policies.base import PolicyContext


class CandidateServer(NamedTuple):
    """One server a request may go to, at the decision time (SI units)."""

    id: str
    tier: str  #: "edge" or "cloud"
    hardware: HardwareSpec
    workers: int
    discipline: str  #: "fcfs" or "ps"
    queue_length: int  #: requests waiting (not in service)
    in_service: int  #: requests in service
    backlog_s: float  #: FCFS: wait a request arriving now would face, s (PS: 0)
    en_route: int  #: requests routed to this server and not there yet
    backhaul_latency_s: float  #: one-way propagation latency of the wired path, s
    backhaul_s_per_bit: float  #: sum of 1/bandwidth along the path, s/bit (0: ideal links)
    backhaul_transfers: int  #: transfers now on the path's links
    return_s: float  #: time to return the result over the path (0 without a downlink), s

    @property
    def load(self) -> float:
        """Requests per worker, counting those on their way."""
        return (self.queue_length + self.in_service + self.en_route) / self.workers

    def backhaul_s(self, bits: float) -> float:
        """Time to carry ``bits`` to this server if nothing else used the path, s."""
        return self.backhaul_latency_s + bits * self.backhaul_s_per_bit


def least_loaded(candidates: Sequence[CandidateServer]) -> int:
    """Index of the candidate with the fewest requests per worker (ties: the first)."""
    best, best_load = 0, candidates[0].load
    for index in range(1, len(candidates)):
        load = candidates[index].load
        if load < best_load:
            best, best_load = index, load
    return best


@runtime_checkable
class ServerChooser(Protocol):
    """A policy that picks the server (``routing: policy``).

    ``choose_server`` gets the request's context (its ``server`` fields describe the cell's own
    server, ``candidate_servers[0]``) and returns an index into ``context.candidate_servers``;
    ``decide`` is then called with the context of the chosen server.
    """

    def choose_server(self, context: PolicyContext) -> int: ...


def policy_cannot_route(policy_name: str) -> str:
    """The message refusing ``routing: policy`` with a policy that does not choose servers."""
    return (
        f"topology.routing: got 'policy', but policy {policy_name!r} does not choose servers "
        "(it has no choose_server(context) method); expected routing own or least-loaded, or "
        "a policy that chooses (see docs/topologies.md)"
    )
