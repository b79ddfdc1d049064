"""The ``split`` policy: every request cut after a fixed layer.

A generative request runs blocks ``1..layer`` on the device, uploads the prompt's hidden vectors
and then one per generated token, and the server runs the rest
(:class:`~coinfer.policies.generative.GenerativePlanner`); a one-pass request is run at that
split as the ``fixed`` policy would (top power and clocks, no pruning).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from coinfer.policies.base import Decision, Policy, PolicyContext
from coinfer.policies.fixed import FixedParams, FixedPolicy
from coinfer.policies.generative import GenerativePlanner


class SplitParams(BaseModel):
    """Parameters of the ``split`` policy."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    layer: int = Field(
        ge=1,
        description="split point l: blocks 1..l on the device, l+1..L on the server (between 1 "
        "and the model's last split point − 1)",
    )


class SplitPolicy(Policy):
    """Every request cut after block ``layer``: a generative one runs its first ``layer``
    blocks on the device, one hidden vector up per token; a one-pass one as ``fixed`` would."""

    name: ClassVar[str] = "split"
    summary: ClassVar[str] = (
        "a fixed split layer: generative requests split there token by token, one-pass ones "
        "at top power and clocks"
    )
    Params: ClassVar[type[BaseModel]] = SplitParams

    def __init__(self, params: BaseModel, rng: np.random.Generator) -> None:
        super().__init__(params, rng)
        layer = params.layer  # type: ignore[attr-defined]
        self._planner = GenerativePlanner()
        self._one_pass = FixedPolicy(FixedParams(split=layer), rng)

    def decide(self, context: PolicyContext) -> Decision:
        if context.generative:
            layer: int = self.params.layer  # type: ignore[attr-defined]
            return self._planner.decide(context, layer, "split")
        return self._one_pass.decide(context)
