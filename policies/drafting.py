"""The per-round draft-length hook of speculative decoding: what the engine tells a policy
before a round (:class:`DraftRound`), the policy interface (:class:`DraftChooser`) and the
adaptive choice (:func:`best_draft_tokens`); the policies are in
:mod:`coinfer.policies.speculative` and the formula in its docstring and ``docs/edge-llm.md``.

Kept apart from the policies so that the engine, which calls the hook, knows only this
interface.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np

from coinfer.emulator.model.speculative import expected_tokens_per_round, round_time_s


class DraftRound(NamedTuple):
    """What the engine tells a :class:`DraftChooser` before a round (SI units)."""

    request_id: int
    round_index: int  #: rounds verified so far for this request
    tokens_left: int  #: output tokens still to generate
    alpha: float  #: acceptance rate of one draft token (the pair's, or the empirical mean's)
    draft_step_s: float  #: one decode step of the draft model on the device, s
    up_bits_per_draft: float  #: bits uploaded per draft token (its id and probability), bits
    token_bits: float  #: bits of one token id on the downlink, bits
    uplink_rate_bps: float  #: Shannon rate of the band an upload would get now, bit/s
    downlink_rate_bps: float  #: downlink rate, bit/s (inf: no downlink)
    #: ``verify_step_s(w)``: the server's next step with this request's chunk of ``w`` tokens
    #: beside its running decodes (roofline), s
    verify_step_s: Callable[[int], float]
    others_running: int = 0  #: other sequences running on the server


@runtime_checkable
class DraftChooser(Protocol):
    """A policy that chooses the draft length of every round (module docstring)."""

    def draft_tokens_for_round(self, draft_round: DraftRound) -> int:
        """``γ ≥ 0`` for the next round (the engine caps it at the tokens left − 1)."""
        ...


def best_draft_tokens(draft_round: DraftRound, max_draft_tokens: int) -> int:
    """``γ*``, the draft length that maximises expected tokens per unit of round time
    (``docs/edge-llm.md``); ties go to the shorter draft.

    ``γ = 0`` is weighed on its own (no draft, no wait); over ``γ ≥ 1`` the rate
    ``E(γ)/T(γ)`` is quasi-concave (``E`` concave, ``T`` convex: affine draft and link terms,
    a roofline step convex in the chunk's tokens), so the search stops at the first ``γ``
    whose rate falls."""
    r = draft_round
    top = min(max_draft_tokens, r.tokens_left - 1)

    def rate(gamma: int) -> float:
        expected = expected_tokens_per_round(r.alpha, gamma)
        wait_s = r.verify_step_s(1) / 2 if gamma and r.others_running else 0.0
        time_s = wait_s + round_time_s(
            gamma,
            expected,
            r.draft_step_s,
            r.up_bits_per_draft,
            r.token_bits,
            r.uplink_rate_bps,
            r.downlink_rate_bps,
            r.verify_step_s(gamma + 1),
        )
        return expected / time_s if time_s > 0 else np.inf

    best, best_rate = 0, rate(0)
    previous = -1.0
    for gamma in range(1, max(top, 0) + 1):
        current = rate(gamma)
        if current > best_rate * (1 + 1e-12):
            best, best_rate = gamma, current
        if current < previous:
            break
        previous = current
    return best
