"""vLLM (v0, recompute preemption): prefill-first steps, a watermark on admission, and the most
recently admitted sequence preempted when a decode cannot get a block.

Followed: Vidur's ``vidur/scheduler/replica_scheduler/vllm_replica_scheduler.py``
(``_can_allocate_request``: ``free − prompt blocks ≥ watermark blocks``; ``_get_next_batch``:
a batch of new prefills if any can be admitted, else the running decodes, preempting with
``pop(-1)`` of the arrival-sorted running list; ``Request.restart``: the restarted prefill covers
the prompt and every token generated so far), itself after vLLM v0's ``Scheduler._schedule_default``
(``_schedule_prefills`` before ``_schedule_running``; a step runs prefills only).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from coinfer.emulator.compiled import use_compiled
from coinfer.emulator.engine.batching.base import _EMPTY, BatchScheduler
from coinfer.emulator.engine.batching.records import Batch, Sequence

use_compiled(__name__, __file__)  # its compiled build, if built from this source


class VllmScheduler(BatchScheduler):
    """Prefill-first continuous batching with preemption by recomputation.

    Each step is either

    * **prefills only**: the waiting sequences at the front of the queue, in order, while each
      leaves at least ``watermark_blocks`` free after taking the blocks of its whole prefill,
      the running count stays within ``max_sequences`` and the prompt tokens within
      ``max_batched_tokens`` (head-of-line blocking: the first that does not fit stops
      admission); the running decodes wait for this step; or, when no sequence can be admitted,
    * **decodes only**: every running sequence, oldest first, each taking a new block when its
      context crosses a block boundary; when the pool is empty, the most recently admitted
      running sequence is preempted (its KV freed, back to the front of the waiting queue,
      to be prefilled again over its prompt and the tokens it had generated, which are not
      emitted again).
    """

    name: ClassVar[str] = "vllm"

    def unservable_reason(self, seq: Sequence) -> str | None:
        """Also refused: a sequence whose prefill after a preemption (up to
        ``prompt + output − 1`` tokens) would exceed ``max_batched_tokens``; vLLM likewise
        requires ``max_num_batched_tokens ≥ max_model_len`` without chunked prefill."""
        reason = super().unservable_reason(seq)
        if reason is not None:
            return reason
        longest = seq.prompt_tokens + seq.output_tokens - 1
        if longest > self.params.max_batched_tokens:
            return (
                f"a prefill after a preemption may cover prompt + output - 1 = {longest} "
                f"tokens; expected at most max_batched_tokens = {self.params.max_batched_tokens}"
            )
        return None

    def _form_batch(self) -> Batch:
        if self._waiting:
            prefills = self._admit_prefills()
            if prefills is not None:
                return prefills
        rows, context, preempted = self._grow_decodes(self._ready_running())
        return self._batch(rows, context, _EMPTY, _EMPTY, _EMPTY, preempted)

    def _admit_prefills(self) -> Batch | None:
        """A batch of the waiting sequences admitted now, or None if none can be."""
        kv = self.kv
        waiting = self._waiting
        target = self._target
        budget = self.params.max_batched_tokens
        room = self.params.max_sequences - len(self._running)
        admitted: list[int] = []
        while waiting and len(admitted) < room and self._front_ready():
            row = waiting[0]
            tokens = int(target[row])
            if tokens > budget:
                break
            blocks = kv.blocks_for(tokens)
            if kv.free - blocks < self._watermark_blocks:
                break
            self._start(row, blocks)
            admitted.append(row)
            budget -= tokens
        if not admitted:
            return None
        rows = self._add_running(admitted)
        return self._batch(
            _EMPTY, _EMPTY, rows, target[rows], np.zeros(len(rows), dtype=np.int64), _EMPTY
        )
