"""A policy that chooses servers: the fixed policy's decisions, sent where they finish first.

Used with ``topology.routing: policy`` (see docs/topologies.md). For each candidate server the
request could reach it estimates: carrying the payload over the wired path, waiting behind the
requests there or on their way (and for its model to load, with a model cache), computing at
the top clock, and returning the result; it picks
the smallest. Name it in a scenario as ``examples.policies.earliest_finish:EarliestFinishPolicy``.
"""

from __future__ import annotations

import math

from coinfer.emulator.engine.routing import CandidateServer
from coinfer.policies.base import PolicyContext
from coinfer.policies.fixed import FixedPolicy


class EarliestFinishPolicy(FixedPolicy):
    name = "earliest-finish"
    summary = "the fixed policy's decisions, on the reachable server expected to finish first"

    def choose_server(self, context: PolicyContext) -> int:
        """Index into ``context.candidate_servers`` of the earliest expected finish."""
        params = self.params
        split = context.model.last_split if params.split is None else params.split
        table = context.model.split_table
        scale = context.work_scale
        bits = table.payload_bits[split] * (scale if context.scale_payload else 1.0)
        flops = table.server_flops[split] * scale * params.rho_server
        finish = [self._finish_s(c, bits, flops) for c in context.candidate_servers]
        return min(range(len(finish)), key=finish.__getitem__)

    @staticmethod
    def _finish_s(candidate: CandidateServer, bits: float, flops: float) -> float:
        """Expected time from now to the result, s (no contention on the wired path)."""
        hardware = candidate.hardware
        service = flops / (hardware.f_max_hz * hardware.flops_per_cycle)
        ahead = candidate.queue_length + candidate.in_service + candidate.en_route
        if candidate.discipline == "fcfs":
            wait = candidate.backlog_s + candidate.en_route * service / candidate.workers
        else:  # processor sharing: slowed down by the requests sharing the server
            wait = service * max(0.0, (ahead + 1) / candidate.workers - 1.0)
        # a server without the request's model first loads it (docs/early-exit-and-placement.md)
        wait += candidate.model_cold_start_s
        total = candidate.backhaul_s(bits) + wait + service + candidate.return_s
        return total if math.isfinite(total) else math.inf
