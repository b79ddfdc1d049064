"""The records a batching scheduler takes and gives: sequences, batches and step results.

A :class:`Batch` and a :class:`StepResult` hold one numpy array per field, one element per
sequence (struct of arrays): the step-time model reads whole columns (tokens, cached context),
and the scheduler updates a whole batch with a few vectorised operations. Nothing is allocated
per token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class SeqState(IntEnum):
    """Where a sequence is in its life."""

    WAITING = 0  #: admitted, never run yet; in the waiting queue
    RUNNING = 1  #: holds KV blocks; prefilling or decoding
    PREEMPTED = 2  #: its KV was freed; back at the front of the waiting queue, to be recomputed
    FINISHED = 3  #: emitted all its output tokens; its blocks are free


@dataclass(frozen=True, slots=True)
class Sequence:
    """A generation request as the scheduler sees it.

    ``output_tokens`` is the number of tokens the sequence will generate: the emulator knows it
    in advance, but only ``orca`` plans with it (its reservation); the other schedulers use it
    only to check that the sequence can ever fit.
    """

    id: int  #: caller's identifier (e.g. the request id), unique among live sequences
    prompt_tokens: int  #: tokens in the prompt, ≥ 1
    output_tokens: int  #: tokens to generate, ≥ 1
    #: Each decode needs an input from outside the server (split inference: the hidden vector
    #: the device computes from the last token): after emitting a token that is not its last,
    #: the sequence is not ready until :meth:`BatchScheduler.mark_ready`.
    external_input: bool = False

    def __post_init__(self) -> None:
        if self.prompt_tokens < 1 or self.output_tokens < 1:
            raise ValueError(
                f"sequence {self.id}: prompt_tokens = {self.prompt_tokens}, output_tokens = "
                f"{self.output_tokens}; expected both >= 1"
            )


@dataclass(frozen=True, slots=True)
class SequenceState:
    """A snapshot of one live sequence (:meth:`BatchScheduler.sequence`)."""

    id: int
    prompt_tokens: int
    output_tokens: int
    state: SeqState
    prefill_tokens: int  #: tokens its current prefill covers: prompt + tokens generated before
    prefilled: int  #: tokens of the current prefill already processed
    generated: int  #: output tokens emitted so far (each counted once, across restarts)
    kv_blocks: int  #: KV blocks held
    admission: int  #: admission order, 0 for the first sequence admitted
    restarts: int  #: times it was preempted
    ready: bool = True  #: False: waiting for its external input (see :class:`Sequence`)


@dataclass(frozen=True, slots=True, eq=False)
class Batch:
    """The sequences of one step, in batch order, with what each processes.

    A prefill entry processes ``tokens`` prompt tokens (a whole prompt or a chunk of one) on top
    of ``context_tokens`` already cached; a decode entry processes exactly one token (the last
    one it emitted) on top of ``context_tokens`` cached tokens.
    """

    seq_ids: IntArray  #: caller's sequence ids
    is_prefill: BoolArray  #: True for a prefill (or prefill chunk), False for a decode
    tokens: IntArray  #: tokens processed this step, tokens
    context_tokens: IntArray  #: tokens cached before the step (attention context), tokens
    preempted: IntArray  #: ids of sequences preempted while this batch was formed
    rows: IntArray = field(repr=False)  #: the scheduler's row of each entry (for complete_step)
    num_prefills: int = 0  #: entries with ``is_prefill``
    #: True for an entry that emits a token this step: every decode, and the chunk that
    #: completes a prefill (None: not computed, for batches built outside a scheduler)
    emits_token: BoolArray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.seq_ids)

    @property
    def num_tokens(self) -> int:
        """Tokens processed by the whole step."""
        return int(self.tokens.sum())

    def entries(self) -> list[tuple[int, str, int, int]]:
        """``(id, "prefill" | "decode", tokens, context_tokens)`` per entry (for reading)."""
        return [
            (seq_id, "prefill" if prefill else "decode", tokens, context)
            for seq_id, prefill, tokens, context in zip(
                self.seq_ids.tolist(),
                self.is_prefill.tolist(),
                self.tokens.tolist(),
                self.context_tokens.tolist(),
                strict=True,
            )
        ]


@dataclass(frozen=True, slots=True, eq=False)
class StepResult:
    """What one step produced. Every array holds caller's sequence ids, in batch order."""

    emitted: IntArray  #: sequences that emitted one output token (decodes, last prefill chunks)
    first: IntArray  #: those of ``emitted`` whose token is their first (time to first token)
    finished: IntArray  #: those of ``emitted`` whose token was their last; their KV is freed
    preempted: IntArray  #: sequences preempted while the step's batch was formed
    #: tokens each of ``emitted`` gained (a verification chunk of speculative decoding may
    #: yield several, see :meth:`BatchScheduler.mark_ready`); None: one each, the usual case
    advanced: IntArray | None = None
