"""The token counts of generative requests: where each device group's come from.

A device group of a decoder model that declares ``tokens`` sends *generative* requests: each
carries a prompt of ``P`` tokens and generates ``O`` output tokens. The counts come from two
laws (:class:`~coinfer.emulator.scenario.schema.TokenCounts`: any work law, rounded to whole
tokens) or from the replayed arrival trace (``tokens: trace``; see
:mod:`coinfer.emulator.deployment.replay_arrivals`). The deployment gives every device of such a
group its :class:`TokenSource` (:func:`coinfer.emulator.deployment.build.attach_tokens`); the
engine draws from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from coinfer.emulator.model.profiles import ModelProfile
from coinfer.emulator.scenario.schema import EmpiricalWork, TokenCounts, WorkParams


@dataclass(frozen=True, eq=False)
class TokenSource:
    """Where a device's token counts come from: two laws, or its arrival trace (``trace``)."""

    prompt: WorkParams | None  #: the law of the prompt tokens; None: from the arrival trace
    output: WorkParams | None  #: the law of the output tokens; None: from the arrival trace

    @property
    def from_trace(self) -> bool:
        """Whether the counts are the replayed arrival trace's."""
        return self.prompt is None


FROM_TRACE = TokenSource(None, None)


def is_generative(model: ModelProfile) -> bool:
    """Whether ``model`` can generate: every block carries the token costs the step-time
    models need (the decoder presets do)."""
    return all(block.token_costs is not None for block in model.blocks)


def resolve_token_counts(counts: TokenCounts, where: str) -> TokenSource:
    """The source of a group's ``tokens: {prompt: LAW, output: LAW}``; an empirical law's file
    is read here (once per law), so that a bad file is refused before the run, naming
    ``where``."""
    for name, law in (("prompt", counts.prompt), ("output", counts.output)):
        if isinstance(law, EmpiricalWork):
            law.values(f"{where}.{name}.file")
    return TokenSource(counts.prompt, counts.output)
