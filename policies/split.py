"""The ``split`` policy: every request cut after a fixed layer.

A generative request runs blocks ``1..layer`` on the device, uploads the prompt's hidden vectors
and then one per generated token, and the server runs the rest
(:class:`~coinfer.policies.generative.GenerativePlanner`); a one-pass request is run at that
split as the ``fixed`` policy would (top power and clocks, no pruning).
"""

from __future__ import annotations

import numpy as np
from pydantic import ConfigDict, Field

from coinfer.policies.base import Decision, Policy, PolicyContext
from coinfer.policies.fixed import FixedParams, FixedPolicy
from coinfer.policies.generative import GenerativePlanner


class SplitParams(Policy.Params):
    """Parameters of the ``split`` policy."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    layer: int | None = Field(
        default=None,
        ge=1,
        description="split point l: blocks 1..l on the device, l+1..L on the server, between 1 "
        "and the model's last split point − 1 (default: half the model's blocks, L // 2)",
    )


class SplitPolicy(Policy[SplitParams]):
    """Every request cut after block ``layer``: a generative one runs its first ``layer``
    blocks on the device, one hidden vector up per token; a one-pass one as ``fixed`` would."""

    name = "split"
    summary = (
        "a fixed split layer: generative requests split there token by token, one-pass ones "
        "at top power and clocks"
    )
    Params = SplitParams

    def __init__(self, params: SplitParams, rng: np.random.Generator) -> None:
        super().__init__(params, rng)
        self._planner = GenerativePlanner()
        self._one_pass: dict[int, FixedPolicy] = {}  # by layer

    def layer(self, context: PolicyContext) -> int:
        """The split point for ``context``'s model."""
        layer = self.params.layer
        return context.model.num_blocks // 2 if layer is None else layer

    def decide(self, context: PolicyContext) -> Decision:
        layer = self.layer(context)
        if context.generative:
            return self._planner.decide(context, layer, "split")
        fixed = self._one_pass.get(layer)
        if fixed is None:
            fixed = self._one_pass[layer] = FixedPolicy(FixedParams(split=layer), self.rng)
        return fixed.decide(context)
