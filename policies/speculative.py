"""Speculative decoding across the link: the ``speculative`` and ``speculative-adaptive``
policies, and the per-round hook that chooses the draft length ``γ`` (``docs/edge-llm.md``).

A generative request of a device with a draft model (its group's ``speculative``) decided in
mode ``speculative`` runs the target model on the server (split 0) and the draft on the
device. The server emits the prefill's token; then, round after round, the device drafts ``γ``
tokens, uploads them, and the server verifies them in one ``(γ + 1)``-token chunk of its
continuous batch, yielding the accepted drafts plus one token of its own.

``γ`` is a decision per round: a policy that decides mode ``speculative`` implements
:class:`~coinfer.policies.drafting.DraftChooser`, whose hook the engine calls when the server
emits a round's tokens (the server knows its batch; the choice travels back with the tokens)
with a :class:`~coinfer.policies.drafting.DraftRound`, and which returns ``γ`` for the next
round. ``speculative`` returns its fixed ``draft_tokens``; ``speculative-adaptive`` the formula
below. ``γ = 0`` lets the server decode the next token on its own, without a draft or an upload.

The adaptive choice (:func:`~coinfer.policies.drafting.best_draft_tokens`) maximises the
expected tokens per unit of round time (Leviathan et al. 2023, section 3.4, with the link's
times added)::

    γ* = argmax_{0 ≤ γ ≤ min(γ_max, tokens left − 1)}  E(γ) / T(γ),
    E(γ) = (1 − α^{γ+1}) / (1 − α),
    T(γ) = γ·t_draft + γ·b_up/R_up + W + T_verify(γ + 1) + E(γ)·b/R_down   (γ ≥ 1),
    T(0) = T_verify(1) + b/R_down,

with ``t_draft`` the draft's decode step on the device, ``b_up`` the bits of one draft (its
token id and, if sent, its probability), ``R_up`` the Shannon rate of the band an upload would
get now at the device's mean gain, ``T_verify(w)`` the roofline step of the server's running
decodes plus this request's ``w``-token chunk, and ``b/R_down`` one token id on the downlink.
``W`` is the wait of the drafts for the server's step under way: a busy server (other sequences
running) steps back to back, and drafts that arrive at a uniformly random point of a step wait
half of one on average, ``W = T_verify(1)/2``; an otherwise idle server starts at once,
``W = 0``. With ``γ = 0`` the server decodes in its very next step, no wait.
"""

from __future__ import annotations

import numpy as np
from pydantic import ConfigDict, Field

from coinfer.policies.base import Decision, Policy, PolicyContext
from coinfer.policies.drafting import DraftRound, best_draft_tokens
from coinfer.policies.fixed import FixedParams, FixedPolicy
from coinfer.policies.generative import GenerativePlanner


class SpeculativeParams(Policy.Params):
    """Parameters of the ``speculative`` policy."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    draft_tokens: int = Field(
        default=4, ge=0, le=64, description="γ: draft tokens per round, fixed (0: no draft)"
    )


class SpeculativePolicy(Policy[SpeculativeParams]):
    """Generative requests in mode ``speculative`` with a fixed ``γ``; one-pass requests on the
    server at top power and clocks (as ``fixed`` at split 0)."""

    name = "speculative"
    summary = (
        "speculative decoding across the link: a draft on the device, the target on the server, "
        "a fixed number of draft tokens per round"
    )
    Params = SpeculativeParams

    def __init__(self, params: SpeculativeParams, rng: np.random.Generator) -> None:
        super().__init__(params, rng)
        self._planner = GenerativePlanner()
        self._one_pass = FixedPolicy(FixedParams(split=0), rng)

    def draft_tokens_for_round(self, draft_round: DraftRound) -> int:
        """The fixed ``draft_tokens``, every round."""
        return self.params.draft_tokens

    def decide(self, context: PolicyContext) -> Decision:
        if not context.generative:
            return self._one_pass.decide(context)
        # the prediction is the on-server one (alone, without drafts): a bound on the safe side
        # for a draft that pays off; the engine measures the speculative run
        decision = self._planner.decide(context, 0, "on-server")
        return decision._replace(mode="speculative")


class AdaptiveSpeculativeParams(Policy.Params):
    """Parameters of the ``speculative-adaptive`` policy."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_draft_tokens: int = Field(
        default=8, ge=0, le=64, description="γ_max: the most draft tokens of a round"
    )


class AdaptiveSpeculativePolicy(Policy[AdaptiveSpeculativeParams]):
    """Mode ``speculative`` with ``γ`` chosen per round by :func:`best_draft_tokens`."""

    name = "speculative-adaptive"
    summary = (
        "speculative decoding across the link, the draft length per round maximising expected "
        "tokens per unit of round time"
    )
    Params = AdaptiveSpeculativeParams

    def __init__(self, params: AdaptiveSpeculativeParams, rng: np.random.Generator) -> None:
        super().__init__(params, rng)
        self._fixed = SpeculativePolicy(SpeculativeParams(draft_tokens=0), rng)

    def decide(self, context: PolicyContext) -> Decision:
        return self._fixed.decide(context)

    def draft_tokens_for_round(self, draft_round: DraftRound) -> int:
        """γ* of :func:`best_draft_tokens` for this round."""
        return best_draft_tokens(draft_round, self.params.max_draft_tokens)
