"""The ``continuous-batching`` server discipline: iteration-level batching of generative
requests, one SimPy event per server step.

The server runs one scheduler (:mod:`coinfer.emulator.engine.batching`: ``vllm``, ``sarathi``
or ``orca``) over a KV-cache pool sized once at set-up (:func:`~coinfer.emulator.model.
kv_memory.kv_blocks_available`): the server holds the whole model, every layer's weights, and
each block holds the keys and values of every layer for ``block_size_tokens`` tokens, whatever
the split of the request using it (a split request, whose server side is shorter, is counted as
if it cached every layer: a bound on the safe side, and one pool for requests of any split).

While the scheduler has a batch to run, the server is busy: it asks for the batch, times it
with its step-time model (:mod:`coinfer.emulator.model.step_time`), waits that long with a
single timeout, hands the batch back (every decode in it gains one token at once) and reports
the step to the engine (``on_step``); then the next. When no sequence can run (none waits, or
every one waits for its device's next hidden vector) it idles until :meth:`admit` or
:meth:`mark_ready` wakes it. Times are carried as the values computed (a step ends at its start
plus its duration), not re-read from the SimPy clock.

A step whose sequences were cut at different split points runs the layers they share once:
the server's layers are cut into segments at each split present, and each segment is timed by
the model on the sequences that run it (with the roofline, each segment reads its weights
once). The energy of a step is its time × the phase power of the server
(:func:`~coinfer.emulator.model.step_time.step_energy_j`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import simpy

from coinfer.emulator.deployment.spec import ServerSpec
from coinfer.emulator.engine.batching import (
    Batch,
    BatchingParams,
    BatchScheduler,
    Sequence,
    StepResult,
    make_scheduler,
)
from coinfer.emulator.engine.batching.records import IntArray
from coinfer.emulator.errors import InputError
from coinfer.emulator.model.kv_memory import kv_block_bytes, kv_blocks_available
from coinfer.emulator.model.profiles import ModelProfile
from coinfer.emulator.model.step_costs import Batch as CostBatch
from coinfer.emulator.model.step_costs import SideCosts
from coinfer.emulator.model.step_time import make_step_time_model, step_energy_j
from coinfer.emulator.scenario.schema import ContinuousBatchingParams

#: ``on_step(server, batch, result, step_s, energy_j, end_s)``: a step of ``step_s`` seconds and
#: ``energy_j`` joules ended at ``end_s`` (s) with ``result``.
StepHook = Callable[["ContinuousBatchingServer", Batch, StepResult, float, float, float], None]


class ContinuousBatchingServer:
    """One server running iteration-level batches of one decoder model (module docstring).

    Sequences are named by the caller's ids (the engine's slots); ``split_of(ids)`` gives each
    one's split point (the server runs layers ``split+1..L``).
    """

    def __init__(
        self,
        env: simpy.Environment,
        spec: ServerSpec,
        params: ContinuousBatchingParams,
        model: ModelProfile,
        split_of: Callable[[IntArray], IntArray],
        on_step: StepHook,
    ) -> None:
        self.env = env
        self.spec = spec
        self.params = params
        self.model = model
        self._split_of = split_of
        self._on_step = on_step
        self.hardware = spec.hardware
        self.step_model = make_step_time_model(params.step_time.model, params.step_time.params)
        whole = SideCosts.for_split(model, 0, "server")
        blocks = kv_blocks_available(
            whole,
            self.hardware,
            block_size_tokens=params.block_size_tokens,
            memory_utilisation=params.memory_utilisation,
            activation_reserve_bytes=params.activation_reserve_bytes,
        )
        if blocks < 1:
            raise InputError(
                f"server {spec.id!r}: model {model.name!r} leaves no room for a KV cache on "
                f"{self.hardware.name!r}: {whole.resident_weight_bytes:.4g} B of weights and "
                f"{params.activation_reserve_bytes:.4g} B of reserve in "
                f"{params.memory_utilisation:g} of {self.hardware.memory_bytes:.4g} B; expected "
                "a larger server, or a larger memory_utilisation",
                path=f"servers[{spec.index}]",
            )
        #: bytes of one KV block (every layer of the model, block_size_tokens tokens), B
        self.block_bytes = kv_block_bytes(whole, params.block_size_tokens)
        self.scheduler: BatchScheduler = make_scheduler(
            params.scheduler,
            BatchingParams(
                block_size_tokens=params.block_size_tokens,
                num_kv_blocks=blocks,
                max_batched_tokens=params.max_batched_tokens,
                max_sequences=params.max_sequences,
                watermark=params.watermark,
                chunk_size_tokens=params.chunk_size_tokens,
            ),
        )
        self._sides: dict[tuple[int, int], SideCosts] = {}
        self._busy = False
        self.busy_s = 0.0  #: time integral of the busy fraction (steps run), s
        self.steps = 0  #: steps run
        self.kv_peak_blocks = 0  #: most KV blocks in use at once

    # ---- what the engine asks -------------------------------------------------------------

    def status(self) -> tuple[int, int, float]:
        """(sequences waiting, sequences running, 0: the wait is not known in advance)."""
        scheduler = self.scheduler
        return scheduler.num_waiting, scheduler.num_running, 0.0

    def refusal(self, seq: Sequence) -> str | None:
        """Why ``seq`` could never be served here, even alone (None: it can)."""
        return self.scheduler.unservable_reason(seq)

    def admit(self, seq: Sequence, at_s: float) -> None:
        """Queue ``seq`` (first come, first served), arrived at ``at_s`` (s, now)."""
        self.scheduler.admit(seq)
        if not self._busy:
            self._next_step(at_s)

    def mark_ready(self, seq_id: int, at_s: float) -> None:
        """The device's input for ``seq_id``'s next decode arrived at ``at_s`` (s, now)."""
        self.scheduler.mark_ready(seq_id)
        if not self._busy:
            self._next_step(at_s)

    def side(self, first_block: int, stop_block: int) -> SideCosts:
        """The costs of the model's blocks ``first_block ≤ i < stop_block`` (remembered)."""
        key = (first_block, stop_block)
        side = self._sides.get(key)
        if side is None:
            side = self._sides[key] = SideCosts.of_blocks(self.model, first_block, stop_block)
        return side

    def step_time_s(self, batch: Batch) -> tuple[float, CostBatch]:
        """The duration of ``batch`` on this server (s), and the batch as the cost models see
        it."""
        emits = batch.emits_token
        costs = CostBatch(
            new_tokens=batch.tokens,
            cached_tokens=batch.context_tokens,
            is_prefill=batch.is_prefill,
            emits_token=np.ones(len(batch), dtype=np.bool_) if emits is None else emits,
        )
        splits = self._split_of(batch.seq_ids)
        stop = self.model.num_blocks
        first = int(splits[0])
        if len(splits) == 1 or bool((splits == first).all()):
            side = self.side(first, stop)
            return self.step_model.step_time_s(costs, side, self.hardware), costs
        total = 0.0
        cuts = np.unique(splits).tolist()
        for k, low in enumerate(cuts):  # segment low..next cut: the sequences cut at <= low
            high = cuts[k + 1] if k + 1 < len(cuts) else stop
            mask = splits <= low
            segment = CostBatch(
                new_tokens=costs.new_tokens[mask],
                cached_tokens=costs.cached_tokens[mask],
                is_prefill=costs.is_prefill[mask],
                emits_token=costs.emits_token[mask],
            )
            total += self.step_model.step_time_s(segment, self.side(low, high), self.hardware)
        return total, costs

    # ---- the steps ------------------------------------------------------------------------

    def _next_step(self, start_s: float) -> None:
        batch = self.scheduler.next_batch()
        if batch is None:
            self._busy = False
            return
        self._busy = True
        used = self.scheduler.kv.used
        if used > self.kv_peak_blocks:
            self.kv_peak_blocks = used
        step_s, costs = self.step_time_s(batch)
        energy_j = step_energy_j(costs, step_s, self.hardware)
        end_s = start_s + step_s
        timer = self.env.timeout(max(end_s - self.env.now, 0.0))
        timer.callbacks.append(lambda _event: self._step_done(batch, step_s, energy_j, end_s))

    def _step_done(self, batch: Batch, step_s: float, energy_j: float, end_s: float) -> None:
        result = self.scheduler.complete_step(batch)
        self.steps += 1
        self.busy_s += step_s
        self._on_step(self, batch, result, step_s, energy_j, end_s)
        self._next_step(end_s)
