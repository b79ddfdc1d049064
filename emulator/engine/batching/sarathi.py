"""Sarathi-Serve: stall-free batching, the running decodes first, then prefill chunks in the
token budget left.

Followed: Vidur's ``vidur/scheduler/replica_scheduler/sarathi_replica_scheduler.py``
(``_get_next_batch``: running decodes first, then the running partial prefills, then new
sequences, each prefill taking ``min(tokens left, budget left)``; admission and preemption as
its vLLM scheduler, the whole prompt's blocks allocated on admission), after Agrawal et al.,
"Taming Throughput-Latency Tradeoff in LLM Inference with Sarathi-Serve" (OSDI 2024). Unlike
Vidur, where ``chunk_size`` is the whole batch's token budget, here ``max_batched_tokens`` is
the budget and ``chunk_size_tokens`` caps one sequence's chunk; set them equal for the paper's
scheduler.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from coinfer.emulator.compiled import use_compiled
from coinfer.emulator.engine.batching.base import _EMPTY, BatchScheduler
from coinfer.emulator.engine.batching.records import Batch, IntArray

use_compiled(__name__, __file__)  # its compiled build, if built from this source


class SarathiScheduler(BatchScheduler):
    """Mixed batches under a token budget; decodes never wait for a prefill.

    Each step holds, in this order:

    1. every running sequence that has finished its prefill, one decode token each (blocks and
       preemption exactly as :class:`~coinfer.emulator.engine.batching.vllm.VllmScheduler`);
    2. the running sequences part-way through their prefill, oldest first, each a chunk of
       ``min(tokens left, chunk_size_tokens, budget left)`` tokens, where the budget is
       ``max_batched_tokens`` less the decodes;
    3. while budget is left, the waiting sequences at the front of the queue, admitted under
       the watermark and ``max_sequences`` as by vLLM (their whole prefill's blocks taken on
       admission), each with a first chunk.

    The last chunk of a prefill emits the sequence's next token.
    """

    name: ClassVar[str] = "sarathi"

    def _form_batch(self) -> Batch:
        params = self.params
        prefilled = self._prefilled
        target = self._target
        running = self._running
        partial: IntArray = _EMPTY  # running sequences part-way through their prefill
        if len(running):
            decoding = prefilled[running] == target[running]
            ready = self._ready_running()
            if ready is not None:
                decoding &= ready
            everyone = bool(decoding.all())
            decode_rows, decode_context, preempted = self._grow_decodes(
                None if everyone else decoding
            )
            if len(preempted):  # the running rows changed
                running = self._running
                partial = running[prefilled[running] < target[running]]
            elif not everyone:
                partial = running[prefilled[running] < target[running]]
        else:
            decode_rows, decode_context, preempted = _EMPTY, _EMPTY, _EMPTY
        budget = params.max_batched_tokens - self._decode_tokens(decode_rows)
        chunk = params.chunk_size_tokens
        chunk_rows: IntArray = _EMPTY
        chunk_tokens: IntArray = _EMPTY
        if len(partial) and budget > 0:
            want = np.minimum(target[partial] - prefilled[partial], chunk)
            before = np.cumsum(want) - want
            take = np.minimum(want, np.maximum(budget - before, 0))
            given = take > 0
            chunk_rows = partial[given]
            chunk_tokens = take[given]
            budget -= int(chunk_tokens.sum())
        new_rows, new_tokens = self._admit_chunks(budget)
        if len(new_rows):
            chunk_rows = np.concatenate((chunk_rows, new_rows))
            chunk_tokens = np.concatenate((chunk_tokens, new_tokens))
        return self._batch(
            decode_rows,
            decode_context,
            chunk_rows,
            chunk_tokens,
            prefilled[chunk_rows] if len(chunk_rows) else _EMPTY,
            preempted,
        )

    def _admit_chunks(self, budget: int) -> tuple[IntArray, IntArray]:
        """Admit waiting sequences while ``budget`` tokens are left; their rows and chunks."""
        kv = self.kv
        waiting = self._waiting
        chunk = self.params.chunk_size_tokens
        room = self.params.max_sequences - len(self._running)
        admitted: list[int] = []
        tokens: list[int] = []
        while waiting and budget > 0 and len(admitted) < room and self._front_ready():
            row = waiting[0]
            prefill = int(self._target[row])
            blocks = kv.blocks_for(prefill)
            if kv.free - blocks < self._watermark_blocks:
                break
            self._start(row, blocks)
            admitted.append(row)
            take = min(prefill, chunk, budget)
            tokens.append(take)
            budget -= take
        if not admitted:
            return _EMPTY, _EMPTY
        return self._add_running(admitted), np.array(tokens, dtype=np.int64)
