"""Orca: iteration-level scheduling with the whole KV of a sequence reserved on admission.

Followed: Vidur's ``vidur/scheduler/replica_scheduler/orca_replica_scheduler.py``
(``_get_next_batch``: the running sequences, then new ones while the pool can reserve their
blocks; never a preemption), after Yu et al., "Orca: A Distributed Serving System for
Transformer-Based Generative Models" (OSDI 2022), whose scheduler reserves a request's maximum
KV on admission so that a running request never runs out of memory. Vidur reserves one
configured maximum length for every request; here each sequence reserves its own peak,
``prompt + output − 1`` tokens.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from coinfer.emulator.compiled import use_compiled
from coinfer.emulator.engine.batching.base import _EMPTY, BatchScheduler
from coinfer.emulator.engine.batching.records import Batch, Sequence

use_compiled(__name__, __file__)  # its compiled build, if built from this source


class OrcaScheduler(BatchScheduler):
    """Every step: all running sequences decode one token each, and the waiting sequences at
    the front of the queue join with their whole prompt (a mixed batch), while the pool can
    reserve their peak KV, the running count stays within ``max_sequences`` and the step's
    tokens within ``max_batched_tokens``. No watermark (nothing can overdraw a reservation),
    no preemption."""

    name: ClassVar[str] = "orca"

    def _admissible_blocks(self) -> int:
        return self.kv.num_blocks

    def _admissible_blocks_meaning(self) -> str:
        return "the whole pool"

    def unservable_reason(self, seq: Sequence) -> str | None:
        """Also refused: a prompt longer than ``max_batched_tokens`` (prefilled in one step)."""
        reason = super().unservable_reason(seq)
        if reason is not None:
            return reason
        if seq.prompt_tokens > self.params.max_batched_tokens:
            return (
                f"its prompt of {seq.prompt_tokens} tokens is prefilled in one step; expected "
                f"at most max_batched_tokens = {self.params.max_batched_tokens}"
            )
        return None

    def _form_batch(self) -> Batch:
        ready = self._ready_running()
        running = self._running if ready is None else self._running[ready]
        decode_context = self._decode_context(running)
        kv = self.kv
        waiting = self._waiting
        budget = self.params.max_batched_tokens - self._decode_tokens(running)
        room = self.params.max_sequences - len(self._running)
        admitted: list[int] = []
        while waiting and len(admitted) < room and self._front_ready():
            row = waiting[0]
            prompt = int(self._prompt[row])
            if prompt > budget:
                break
            blocks = kv.blocks_for(prompt + int(self._output[row]) - 1)
            if blocks > kv.free:
                break
            self._start(row, blocks)
            admitted.append(row)
            budget -= prompt
        if not admitted:
            return self._batch(running, decode_context, _EMPTY, _EMPTY, _EMPTY, _EMPTY)
        rows = self._add_running(admitted)
        return self._batch(
            running,
            decode_context,
            rows,
            self._prompt[rows],
            np.zeros(len(rows), dtype=np.int64),
            _EMPTY,
        )
