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

from coinfer.policies.base import CandidateServer, ServerChooser

__all__ = ["CandidateServer", "ServerChooser", "least_loaded", "policy_cannot_route"]


def least_loaded(candidates: Sequence[CandidateServer]) -> int:
    """Index of the candidate with the fewest requests per worker (ties: the first)."""
    best, best_load = 0, candidates[0].load
    for index in range(1, len(candidates)):
        load = candidates[index].load
        if load < best_load:
            best, best_load = index, load
    return best


def policy_cannot_route(policy_name: str) -> str:
    """The message refusing ``routing: policy`` with a policy that does not choose servers."""
    return (
        f"topology.routing: got 'policy', but policy {policy_name!r} does not choose servers "
        "(it has no choose_server(context) method); expected routing own or least-loaded, or "
        "a policy that chooses (see docs/topologies.md)"
    )
