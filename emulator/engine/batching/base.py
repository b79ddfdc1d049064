"""What every iteration-level batching scheduler shares: the sequence table, the queues, the
KV pool, one step's bookkeeping and vLLM's preemption by recomputation.

The scheduler is a pure state machine, driven once per server iteration::

    scheduler.admit(Sequence(id, prompt_tokens, output_tokens))   # any time, on arrival
    batch = scheduler.next_batch()        # None when there is nothing to run
    ...                                   # the step lasts step_time(batch) seconds
    result = scheduler.complete_step(batch)   # tokens emitted, sequences finished, preempted

State lives in numpy columns indexed by a row per live sequence (rows of finished sequences are
reused), so that one step costs O(batch) vectorised operations and no Python work per token;
Python loops run only per admission, per preemption and per finished sequence.

Two orders hold at all times and the schedulers rely on them: the running rows are in admission
order, and every running sequence was admitted before every waiting one (admission is
first-come-first-served with head-of-line blocking, and a preempted sequence, always the most
recently admitted one running, goes back to the front of the waiting queue).

Token and KV accounting, following Vidur's ``Request.on_batch_end`` and vLLM: a prefill of a
sequence that has generated ``g`` tokens covers ``prompt + g`` tokens and its last chunk emits a
token; a decode processes the last token emitted (cached context ``prompt + g − 1`` before the
step) and emits the next one. A running decode therefore holds ``ceil((prompt + g) / block)``
blocks while its step runs, and the last output token is emitted but never cached: a sequence's
KV peaks at ``prompt + output − 1`` tokens.

A sequence admitted with ``external_input`` (split inference, where the device computes each
decode's input) is *not ready* after emitting a token that is not its last, until the caller
calls :meth:`BatchScheduler.mark_ready`: a running sequence that is not ready keeps its KV
blocks but is left out of the batches, and a waiting one that is not ready holds up admission
(first come, first served). When every sequence that could run waits for its input,
:meth:`BatchScheduler.next_batch` returns None; the caller asks again after ``mark_ready``.

*Wide decodes* (speculative decoding, ``docs/edge-llm.md``): ``mark_ready(id, width=w,
advance=k)`` makes the sequence's next decode a chunk of ``w`` tokens (the last token emitted
and ``w − 1`` drafts, over the same cached context ``prompt + g − 1``) that emits ``k ≤ w``
tokens at once (the accepted drafts and the target's own token). Its KV grows by ``w`` for the
step (the caller keeps ``g + w ≤ output`` so that the peak stays ``prompt + output − 1``); the
rejected positions' blocks stay with the sequence until its next decode reuses them or it
finishes. A wide decode counts ``w`` tokens in the step's token budget. A preempted sequence
recomputes as usual: its restarted prefill emits one token and drops the pending chunk.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from typing import ClassVar

import numpy as np

from coinfer.emulator.compiled import use_compiled
from coinfer.emulator.engine.batching.kv import KvBlockManager
from coinfer.emulator.engine.batching.params import BatchingParams
from coinfer.emulator.engine.batching.records import (
    Batch,
    BoolArray,
    IntArray,
    SeqState,
    Sequence,
    SequenceState,
    StepResult,
)

use_compiled(__name__, __file__)  # its compiled build, if built from this source

_WAITING = np.int8(SeqState.WAITING)
_RUNNING = np.int8(SeqState.RUNNING)
_PREEMPTED = np.int8(SeqState.PREEMPTED)
_FINISHED = np.int8(SeqState.FINISHED)


def _empty() -> IntArray:
    empty = np.empty(0, dtype=np.int64)
    empty.flags.writeable = False
    return empty


_EMPTY = _empty()


class SequenceRefusedError(ValueError):
    """A sequence this scheduler could never serve, even alone (see
    :meth:`BatchScheduler.unservable_reason`)."""


class StepOrderError(RuntimeError):
    """``next_batch`` and ``complete_step`` were not called in turn, batch by batch."""


class BatchScheduler(ABC):
    """Base of the iteration-level schedulers: subclasses form the batch (:meth:`_form_batch`).

    At most one batch is outstanding: ``next_batch`` hands it out, ``complete_step`` takes it
    back (one pipeline stage, as Vidur's replica scheduler with ``num_stages = 1``).
    """

    #: registry name of the scheduler
    name: ClassVar[str]

    def __init__(self, params: BatchingParams) -> None:
        self.params = params
        self.kv = KvBlockManager(params.num_kv_blocks, params.block_size_tokens)
        self._watermark_blocks = params.watermark_blocks
        rows = len(self.kv.held)
        self._id = np.zeros(rows, dtype=np.int64)
        self._prompt = np.zeros(rows, dtype=np.int64)
        self._output = np.zeros(rows, dtype=np.int64)
        self._generated = np.zeros(rows, dtype=np.int64)
        self._target = np.zeros(rows, dtype=np.int64)  # tokens of the current prefill
        self._prefilled = np.zeros(rows, dtype=np.int64)
        self._admission = np.zeros(rows, dtype=np.int64)
        self._restarts = np.zeros(rows, dtype=np.int64)
        self._state = np.zeros(rows, dtype=np.int8)
        self._external = np.zeros(rows, dtype=np.bool_)
        self._ready = np.ones(rows, dtype=np.bool_)
        self._width = np.ones(rows, dtype=np.int64)  # tokens of the next decode
        self._advance = np.ones(rows, dtype=np.int64)  # tokens the next decode emits
        self._wide = 0  # live sequences whose next decode is wide (width > 1)
        self._unready = 0  # live sequences waiting for their external input
        self._row_of: dict[int, int] = {}
        self._spare_rows: list[int] = []
        self._rows_used = 0
        self._waiting: deque[int] = deque()
        self._running: IntArray = _EMPTY
        self._outstanding: Batch | None = None
        self.admitted = 0  #: sequences admitted so far
        self.steps = 0  #: steps completed
        self.tokens_emitted = 0  #: output tokens emitted, all sequences
        self.preemptions = 0  #: preemptions (a sequence preempted twice counts twice)
        self.finished = 0  #: sequences finished

    # ---- what the caller sees -----------------------------------------------------------------

    @property
    def num_waiting(self) -> int:
        """Sequences waiting to be (re)admitted, preempted ones included."""
        return len(self._waiting)

    @property
    def num_running(self) -> int:
        """Sequences holding KV blocks (prefilling or decoding)."""
        return len(self._running)

    @property
    def has_work(self) -> bool:
        """Whether a sequence is waiting or running (then ``next_batch`` gives a batch, unless
        every sequence that could run waits for its external input)."""
        return bool(self._waiting) or len(self._running) > 0

    @property
    def num_unready(self) -> int:
        """Live sequences waiting for their external input (see :meth:`mark_ready`)."""
        return self._unready

    def load(self) -> tuple[int, int, int]:
        """``(running sequences, their cached tokens, prompt tokens not yet prefilled)``: the
        load a new sequence would join. A running decode has ``prompt + generated − 1`` tokens
        cached, a running prefill those prefilled so far; the tokens left to prefill are those
        of every waiting sequence's prefill (a preempted one's recomputation included) and the
        rest of every running prefill. O(live sequences), numpy."""
        running = self._running
        prefilled = self._prefilled[running]
        target = self._target[running]
        decoding = prefilled >= target
        cached = np.where(decoding, self._prompt[running] + self._generated[running] - 1, prefilled)
        waiting = self._target[list(self._waiting)].sum() if self._waiting else 0
        return len(running), int(cached.sum()), int(waiting + (target - prefilled).sum())

    def running_ids(self) -> list[int]:
        """Ids of the running sequences, in admission order."""
        ids: list[int] = self._id[self._running].tolist()
        return ids

    def waiting_ids(self) -> list[int]:
        """Ids of the waiting sequences, front of the queue first."""
        ids: list[int] = self._id[list(self._waiting)].tolist()
        return ids

    def sequence(self, seq_id: int) -> SequenceState:
        """Snapshot of a live (not finished) sequence; ``KeyError`` for any other id."""
        row = self._row_of[seq_id]
        return SequenceState(
            id=seq_id,
            prompt_tokens=int(self._prompt[row]),
            output_tokens=int(self._output[row]),
            state=SeqState(int(self._state[row])),
            prefill_tokens=int(self._target[row]),
            prefilled=int(self._prefilled[row]),
            generated=int(self._generated[row]),
            kv_blocks=int(self.kv.held[row]),
            admission=int(self._admission[row]),
            restarts=int(self._restarts[row]),
            ready=bool(self._ready[row]),
        )

    def unservable_reason(self, seq: Sequence) -> str | None:
        """Why ``seq`` could never run to completion even alone, or None if it can.

        The base rule: its peak KV (``prompt + output − 1`` tokens) must fit in the blocks an
        admission may use (:meth:`_admissible_blocks`). Subclasses add their token limits. The
        engine asks this first and records a refused request as infeasible.
        """
        peak = seq.prompt_tokens + seq.output_tokens - 1
        blocks = self.kv.blocks_for(peak)
        limit = self._admissible_blocks()
        if blocks > limit:
            return (
                f"its KV cache peaks at prompt + output - 1 = {peak} tokens = {blocks} blocks "
                f"of {self.kv.block_size} tokens; expected at most {limit} blocks "
                f"({self._admissible_blocks_meaning()})"
            )
        return None

    def admit(self, seq: Sequence) -> None:
        """Queue ``seq`` behind the waiting sequences (first come, first served).

        Raises :class:`SequenceRefusedError` for a sequence that could never be served
        (:meth:`unservable_reason`) and ``ValueError`` for an id already live.
        """
        reason = self.unservable_reason(seq)
        if reason is not None:
            raise SequenceRefusedError(f"sequence {seq.id} refused by {self.name}: {reason}")
        if seq.id in self._row_of:
            raise ValueError(f"sequence {seq.id} is already admitted and not finished")
        row = self._new_row()
        self._id[row] = seq.id
        self._prompt[row] = seq.prompt_tokens
        self._output[row] = seq.output_tokens
        self._generated[row] = 0
        self._target[row] = seq.prompt_tokens
        self._prefilled[row] = 0
        self._admission[row] = self.admitted
        self._restarts[row] = 0
        self._state[row] = _WAITING
        self._external[row] = seq.external_input
        self._ready[row] = True
        self._width[row] = 1
        self._advance[row] = 1
        self._row_of[seq.id] = row
        self._waiting.append(row)
        self.admitted += 1

    def mark_ready(self, seq_id: int, width: int = 1, advance: int = 1) -> None:
        """The external input of sequence ``seq_id``'s next decode has arrived: it may run.

        ``width``, ``advance``: the next decode processes ``width`` tokens and emits
        ``advance`` of them (a speculative verification, module docstring; 1, 1: a plain
        decode). ``KeyError`` for an id that is not live; ``StepOrderError`` for a sequence
        that was not waiting for its input; ``ValueError`` for ``1 ≤ advance ≤ width`` broken
        or a chunk past the sequence's output.
        """
        row = self._row_of[seq_id]
        if self._ready[row]:
            raise StepOrderError(f"sequence {seq_id} was not waiting for its external input")
        if width != 1 or advance != 1:
            left = int(self._output[row] - self._generated[row])
            if not 1 <= advance <= width <= left:
                raise ValueError(
                    f"sequence {seq_id}: width={width}, advance={advance}; expected "
                    f"1 <= advance <= width <= {left} (the tokens it has left)"
                )
            self._width[row] = width
            self._advance[row] = advance
            self._wide += width > 1
        self._ready[row] = True
        self._unready -= 1

    def next_batch(self) -> Batch | None:
        """The next step's batch, or None when no sequence is waiting or running, or when every
        one that could run waits for its external input.

        A batch must be followed by :meth:`complete_step` of it before the next call.
        """
        if self._outstanding is not None:
            raise StepOrderError("next_batch called before complete_step of the previous batch")
        if not self.has_work:
            return None
        batch = self._form_batch()
        if len(batch) == 0:
            if self._unready:
                return None
            # impossible while admitted sequences fit alone
            raise StepOrderError(f"{self.name} formed an empty batch with work pending")
        self._outstanding = batch
        return batch

    def complete_step(self, batch: Batch) -> StepResult:
        """Account for the step of ``batch`` (the one ``next_batch`` gave): advance prefills,
        emit one token per decode and per completed prefill, free finished sequences."""
        if batch is not self._outstanding:
            raise StepOrderError("complete_step expects the batch of the last next_batch")
        self._outstanding = None
        self.steps += 1
        rows = batch.rows
        ids = self._id
        if batch.num_prefills:
            chunked = batch.is_prefill
            chunk_rows = rows[chunked]
            self._prefilled[chunk_rows] += batch.tokens[chunked]
            emit_rows = rows[self._prefilled[rows] == self._target[rows]]
            generated = self._generated[emit_rows] + 1
            first = ids[emit_rows[generated == 1]]
        else:
            emit_rows = rows
            generated = self._generated[emit_rows] + 1
            first = _EMPTY
        advanced: IntArray | None = None
        if self._wide:
            advanced = self._advances(batch, emit_rows)
            if advanced is not None:
                generated += advanced - 1
        self._generated[emit_rows] = generated
        self.tokens_emitted += len(emit_rows) if advanced is None else int(advanced.sum())
        done = generated == self._output[emit_rows]
        if self._external[emit_rows].any():
            waits = emit_rows[self._external[emit_rows] & ~done]
            self._ready[waits] = False
            self._unready += len(waits)
        finished = _EMPTY
        if done.any():
            done_rows = emit_rows[done]
            finished = ids[done_rows]
            self._finish(done_rows, finished)
        return StepResult(
            emitted=ids[emit_rows],
            first=first,
            finished=finished,
            preempted=batch.preempted,
            advanced=advanced,
        )

    def _advances(self, batch: Batch, emit_rows: IntArray) -> IntArray | None:
        """Tokens each of ``emit_rows`` gains in ``batch`` (its decodes come first): a wide
        decode its ``advance``, anything else one; the rows' next decodes are plain again.
        None when no emitting row had a wide decode set (then one each). A wide decode left
        pending by a preemption is dropped (its restarted prefill emits one token)."""
        decodes = len(batch) - batch.num_prefills
        decode_rows = emit_rows[:decodes]
        advanced = np.ones(len(emit_rows), dtype=np.int64)
        advanced[:decodes] = self._advance[decode_rows]
        touched = emit_rows[self._width[emit_rows] > 1]
        if not len(touched):
            return None
        self._wide -= len(touched)
        self._width[touched] = 1
        self._advance[touched] = 1
        return advanced

    # ---- for the subclasses -------------------------------------------------------------------

    @abstractmethod
    def _form_batch(self) -> Batch:
        """The next batch (non-empty: called only while there is work)."""

    def _admissible_blocks(self) -> int:
        """Most blocks one sequence may ever hold: the pool less the watermark."""
        return self.kv.num_blocks - self._watermark_blocks

    def _admissible_blocks_meaning(self) -> str:
        return f"{self.kv.num_blocks} in the pool less {self._watermark_blocks} of watermark"

    def _start(self, row: int, blocks: int) -> None:
        """Move the waiting sequence at the front of the queue, ``row``, to running, with
        ``blocks`` blocks (the caller appends it to ``_running``)."""
        self._waiting.popleft()
        self.kv.allocate(row, blocks)
        self._state[row] = _RUNNING

    def _add_running(self, rows: list[int]) -> IntArray:
        """Append newly started ``rows`` (in admission order) to the running rows."""
        started = np.array(rows, dtype=np.int64)
        self._running = np.concatenate((self._running, started))
        return started

    def _ready_running(self) -> BoolArray | None:
        """Which running sequences are ready (None: all of them, the usual case)."""
        if not self._unready:
            return None
        ready: BoolArray = self._ready[self._running]
        return ready

    def _front_ready(self) -> bool:
        """Whether the sequence at the front of the waiting queue may be admitted now."""
        return not self._unready or bool(self._ready[self._waiting[0]])

    def _decode_tokens(self, rows: IntArray) -> int:
        """Tokens the decodes of ``rows`` put in a step's budget: one each, a wide decode its
        width."""
        return int(self._width[rows].sum()) if self._wide else len(rows)

    def _decode_context(self, rows: IntArray) -> IntArray:
        """Tokens cached before a decode step of ``rows``: ``prompt + generated − 1``."""
        context: IntArray = self._prompt[rows] + self._generated[rows] - 1
        return context

    def _grow_decodes(self, decoding: BoolArray | None) -> tuple[IntArray, IntArray, IntArray]:
        """Give each running decode (``decoding`` masks the running rows; None: all of them)
        the block its next token may need, preempting when the pool runs dry.

        Returns the decode rows to schedule (admission order), their cached context and the
        rows preempted (in the order preempted). The common case, enough free blocks for all,
        is one vectorised update; otherwise :meth:`_grow_preempting` replays vLLM's loop.
        """
        running = self._running
        rows = running if decoding is None else running[decoding]
        after = self._prompt[rows] + self._generated[rows]  # cached once the step is done
        if self._wide:  # a wide decode caches its whole chunk
            after = after + self._width[rows] - 1
        # a sequence whose chunk had drafts rejected may hold more blocks than it needs: kept
        need = np.maximum(self.kv.blocks_for_many(after) - self.kv.held[rows], 0)
        total = int(need.sum())
        if total <= self.kv.free:
            if total:
                self.kv.allocate_many(rows, need, total)
            return rows, self._decode_context(rows) if self._wide else after - 1, _EMPTY
        return self._grow_preempting(decoding)

    def _grow_preempting(self, decoding: BoolArray | None) -> tuple[IntArray, IntArray, IntArray]:
        """vLLM's ``_schedule_running`` (v0, recompute mode), as in Vidur's
        ``VLLMReplicaScheduler._get_next_batch``: take the running decodes oldest first; while
        one cannot get the block it needs, preempt the most recently admitted running sequence
        (itself, if it is that one). Only blocks actually needed count (vLLM's block manager v2
        ``can_append_slots``), not one per sequence.
        """
        order: list[int] = self._running.tolist()
        is_decode = [True] * len(order) if decoding is None else decoding.tolist()
        kv = self.kv
        held = kv.held
        scheduled: list[int] = []
        preempted: list[int] = []
        end = len(order)
        i = 0
        while i < end:
            row = order[i]
            i += 1
            if not is_decode[i - 1]:
                continue
            after = int(self._prompt[row] + self._generated[row] + self._width[row] - 1)
            need = max(kv.blocks_for(after) - int(held[row]), 0)
            while need > kv.free:
                if end > i:
                    end -= 1
                    self._preempt(order[end])
                    preempted.append(order[end])
                else:
                    end = i - 1
                    self._preempt(row)
                    preempted.append(row)
                    break
            else:
                if need:
                    kv.allocate(row, need)
                scheduled.append(row)
        self._running = np.array(order[:end], dtype=np.int64)
        for row in preempted:  # newest first, so the queue's front stays in admission order
            self._waiting.appendleft(row)
        rows = np.array(scheduled, dtype=np.int64)
        return rows, self._decode_context(rows), self._id[preempted]

    def _preempt(self, row: int) -> None:
        """Free ``row``'s KV; its next prefill recomputes its prompt and its tokens so far."""
        self.kv.release(row)
        self._state[row] = _PREEMPTED
        self._prefilled[row] = 0
        self._target[row] = self._prompt[row] + self._generated[row]
        self._restarts[row] += 1
        self.preemptions += 1
        if self._width[row] > 1:  # the pending chunk is dropped: the prefill emits one token
            self._wide -= 1
            self._width[row] = 1
            self._advance[row] = 1

    def _batch(
        self,
        decode_rows: IntArray,
        decode_context: IntArray,
        prefill_rows: IntArray,
        prefill_tokens: IntArray,
        prefill_context: IntArray,
        preempted: IntArray,
    ) -> Batch:
        """Decodes first, then prefills (whole prompts or chunks)."""
        ids = self._id
        decodes = len(decode_rows)
        prefills = len(prefill_rows)
        decode_tokens = self._width[decode_rows] if self._wide else np.ones(decodes, np.int64)
        if not prefills:
            return Batch(
                seq_ids=ids[decode_rows],
                is_prefill=np.zeros(decodes, dtype=np.bool_),
                tokens=decode_tokens,
                context_tokens=decode_context,
                preempted=preempted,
                rows=decode_rows,
                num_prefills=0,
                emits_token=np.ones(decodes, dtype=np.bool_),
            )
        rows = np.concatenate((decode_rows, prefill_rows)) if decodes else prefill_rows
        is_prefill = np.ones(decodes + prefills, dtype=np.bool_)
        is_prefill[:decodes] = False
        tokens = np.concatenate((decode_tokens, prefill_tokens))
        context = np.concatenate((decode_context, prefill_context))
        emits = np.ones(decodes + prefills, dtype=np.bool_)
        emits[decodes:] = prefill_context + prefill_tokens == self._target[prefill_rows]
        return Batch(
            seq_ids=ids[rows],
            is_prefill=is_prefill,
            tokens=tokens,
            context_tokens=context,
            preempted=preempted,
            rows=rows,
            num_prefills=prefills,
            emits_token=emits,
        )

    # ---- rows ---------------------------------------------------------------------------------

    def _new_row(self) -> int:
        if self._spare_rows:
            return self._spare_rows.pop()
        row = self._rows_used
        self._rows_used += 1
        if row == len(self._id):
            self._grow_rows(2 * row)
        return row

    def _grow_rows(self, rows: int) -> None:
        for name in (
            "_id",
            "_prompt",
            "_output",
            "_generated",
            "_target",
            "_prefilled",
            "_admission",
            "_restarts",
            "_state",
            "_external",
            "_ready",
            "_width",
            "_advance",
        ):
            old = getattr(self, name)
            new = np.zeros(rows, dtype=old.dtype)  # unused rows are in no queue: never read
            new[: len(old)] = old
            setattr(self, name, new)
        self.kv.resize(rows)

    def _finish(self, rows: IntArray, ids: IntArray) -> None:
        """Free the KV of the sequences in ``rows`` and forget them."""
        self.kv.release_many(rows)
        self._state[rows] = _FINISHED
        running = self._running
        self._running = running[self._state[running] == _RUNNING]
        row_of = self._row_of
        for seq_id in ids.tolist():
            del row_of[seq_id]
        self._spare_rows.extend(rows.tolist())
        self.finished += len(rows)
