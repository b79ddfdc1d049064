"""The ``continuous-batching`` server discipline: iteration-level batching of generative
requests, one SimPy event per server step.

A member of the server-discipline plug-in family (``coinfer.servers``, registered as
``continuous-batching``) with its own parameters (:class:`ContinuousBatchingParams`, given beside
the server's ``discipline``). Besides the family's protocol it implements
:class:`GenerativeDiscipline`, what the engine's generative requests need
(:mod:`coinfer.emulator.engine.generative`): any discipline implementing it can serve them.

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
from typing import Any, Literal, Protocol, Self, runtime_checkable

import numpy as np
import simpy
from pydantic import ConfigDict, Field, ValidationError, model_validator

from coinfer.emulator.compiled import use_compiled
from coinfer.emulator.deployment.spec import ServerSpec
from coinfer.emulator.engine.batching import (
    Batch,
    BatchingParams,
    BatchScheduler,
    Sequence,
    StepResult,
    make_scheduler,
)
from coinfer.emulator.engine.batching.params import BatchLimits
from coinfer.emulator.engine.batching.records import BoolArray, IntArray
from coinfer.emulator.errors import InputError
from coinfer.emulator.inputs import InputModel
from coinfer.emulator.model.kv_memory import kv_block_bytes, kv_blocks_available
from coinfer.emulator.model.profiles import ModelProfile
from coinfer.emulator.model.step_costs import Batch as CostBatch
from coinfer.emulator.model.step_costs import BatchSums, SideCosts
from coinfer.emulator.model.step_time import (
    STEP_TIME_MODELS,
    make_step_time_model,
    phase_step_energy_j,
)
from coinfer.emulator.model.token_exit import exit_profile
from coinfer.emulator.scenario.schema import DisciplineParams

use_compiled(__name__, __file__)  # its compiled build, if built from this source


class StepTimeSpec(InputModel):
    """Which step-time model times a serving step, with its parameters (``docs/step-time.md``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field(default="roofline", description="step-time model: roofline, table or fitted")
    params: dict[str, Any] = Field(
        default_factory=dict, description="the model's parameters (see docs/step-time.md)"
    )

    @model_validator(mode="after")
    def _known_model(self) -> Self:
        cls = STEP_TIME_MODELS.get(self.model)
        if cls is None:
            raise ValueError(
                f"model: got {self.model!r}, expected one of {', '.join(STEP_TIME_MODELS)}"
            )
        try:
            cls.Params.model_validate(self.params)
        except ValidationError as err:
            problems = "; ".join(
                f"params.{'.'.join(str(part) for part in e['loc'])}: {e['msg']}"
                for e in err.errors()
            )
            raise ValueError(f"step-time model {self.model!r}: {problems}") from None
        return self


class ContinuousBatchingParams(DisciplineParams, BatchLimits):
    """The parameters of the ``continuous-batching`` server discipline (``docs/generative.md``),
    given beside the server's ``discipline``.

    The batch limits are the schedulers' own (:class:`BatchLimits`). The KV-cache pool holds
    ``(memory · memory_utilisation − weights − activation_reserve_bytes) / block bytes`` blocks
    of ``block_size_tokens`` tokens, the server holding the whole model (every layer's weights
    and KV cache, whatever the requests' split points).
    """

    scheduler: Literal["vllm", "sarathi", "orca"] = Field(
        default="vllm",
        description="vllm: prefill-first, watermark admission, preemption by recomputation; "
        "sarathi: decodes first, prefills in chunks; orca: whole KV reserved on admission, never "
        "a preemption",
    )
    memory_utilisation: float = Field(
        default=0.9,
        gt=0.0,
        le=1.0,
        description="fraction of the server's memory the serving engine takes, in (0, 1]",
    )
    activation_reserve_bytes: float = Field(
        default=0.0, ge=0, description="memory kept for activations besides weights and KV, B"
    )
    stream_chunk_tokens: int = Field(
        default=1,
        ge=1,
        le=2**31,
        description="on-server mode: tokens sent back together on the downlink (1: each token "
        "as soon as it is generated), tokens",
    )
    step_time: StepTimeSpec = Field(
        default_factory=StepTimeSpec, description="the step-time model of the server's steps"
    )


#: ``kept_of(ids)``: each sequence's kept fraction ρ̃ of the server's side, or None when every
#: live sequence is unpruned.
KeptOf = Callable[[IntArray], np.ndarray | None]

#: ``exit_of(ids)``: the block after which each sequence's next decode token leaves (per-token
#: early exit, ``docs/early-exit-and-placement.md``; ``L``: it runs the whole model), or None
#: when no live sequence exits early.
ExitOf = Callable[[IntArray], IntArray | None]

#: ``on_step(server, batch, result, step_s, energy_j, end_s)``: a step of ``step_s`` seconds and
#: ``energy_j`` joules ended at ``end_s`` (s) with ``result``.
StepHook = Callable[[Any, Batch, StepResult, float, float, float], None]


@runtime_checkable
class GenerativeDiscipline(Protocol):
    """What a server discipline implements to serve generative requests (on-server and split
    modes): sequences of the caller's ids admitted, marked ready, stepped.

    ``serves_one_pass``: whether it also serves one-pass requests (``serve``); the engine
    refuses, at set-up, a scenario sending them to one that does not.
    """

    serves_one_pass: bool
    spec: ServerSpec

    def prepare(
        self,
        model: ModelProfile,
        split_of: Callable[[IntArray], IntArray],
        on_step: StepHook,
        kept_of: KeptOf | None = None,
        exit_of: ExitOf | None = None,
    ) -> None:
        """Serve ``model``; ``split_of(ids)`` gives each sequence's split point (the server
        runs blocks ``split+1..L``); ``on_step`` is called after every step; ``kept_of(ids)``
        gives each sequence's kept fraction ρ̃ of the server's side (None: all unpruned);
        ``exit_of(ids)`` each sequence's next token's exit block (None: no early exit)."""
        ...

    def refusal(self, seq: Sequence) -> str | None:
        """Why ``seq`` could never be served, even alone (None: it can)."""
        ...

    def admit(self, seq: Sequence, at_s: float) -> None:
        """Queue ``seq``, arrived at ``at_s`` (s, now)."""
        ...

    def mark_ready(self, seq_id: int, at_s: float, width: int = 1, advance: int = 1) -> None:
        """The device's input for ``seq_id``'s next decode arrived at ``at_s`` (s, now);
        ``width``, ``advance``: a verification chunk of ``width`` tokens that emits
        ``advance`` (speculative decoding; 1, 1: a plain decode)."""
        ...

    def kv_block_tokens(self) -> int:
        """Tokens per KV block (the granularity of a sequence's KV on the server)."""
        ...

    def load(self) -> tuple[int, int, int, int, int, float]:
        """``(running sequences, their cached tokens, prompt tokens not yet prefilled, free KV
        blocks, tokens per block, time left in the step under way, s)`` now."""
        ...

    def live_ids(self) -> list[int]:
        """Ids of the live sequences."""
        ...

    def stream_chunk_tokens(self) -> int:
        """Tokens sent back together on the downlink in on-server mode."""
        ...

    def stats(self) -> dict[str, int]:
        """What the run's statistics report of it (steps, preemptions, KV blocks)."""
        ...

    def check_idle(self) -> None:
        """RuntimeError unless every sequence left and every KV block is free (end of run)."""
        ...


class ContinuousBatchingServer:
    """One server running iteration-level batches of one decoder model (module docstring).

    Made by the engine like any discipline (``(env, spec, on_done)``); the generative requests
    then :meth:`prepare` it for their model. Sequences are named by the caller's ids (the
    engine's slots).
    """

    Params = ContinuousBatchingParams
    serves_one_pass = False

    def __init__(self, env: simpy.Environment, spec: ServerSpec, on_done: Any = None) -> None:
        self.env = env
        self.spec = spec
        params = spec.discipline_params
        self.params = params if isinstance(params, ContinuousBatchingParams) else self.Params()
        self.hardware = spec.hardware
        self._busy = False
        self._free_s = 0.0  # when the last step ended, s
        self._step_end_s = 0.0  # when the step under way (or the last one) ends, s
        self.busy_s = 0.0  #: time integral of the busy fraction (steps run), s
        self.steps = 0  #: steps run
        self.kv_peak_blocks = 0  #: most KV blocks in use at once
        self.scheduler: BatchScheduler | None = None  # set by prepare

    def serve(self, job: Any, service_s: float) -> bool:
        """One-pass requests are not served here (the engine refuses them at set-up)."""
        raise InputError(
            f"server {self.spec.id!r}: discipline continuous-batching serves generative "
            "requests only (device groups with tokens)"
        )

    def prepare(
        self,
        model: ModelProfile,
        split_of: Callable[[IntArray], IntArray],
        on_step: StepHook,
        kept_of: KeptOf | None = None,
        exit_of: ExitOf | None = None,
    ) -> None:
        """Serve ``model``: size the KV pool and make the scheduler (see the module docstring)."""
        spec = self.spec
        params = self.params
        self.model = model
        self._split_of = split_of
        self._on_step = on_step
        self._kept_of = kept_of
        self._exit_of = exit_of
        self._exit_sides: dict[int, SideCosts] = {}
        self.step_model = make_step_time_model(params.step_time.model, params.step_time.params)
        #: the roofline, to share a measured whole-model step among the blocks of a side
        self._roofline = make_step_time_model("roofline")
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
        self.scheduler = make_scheduler(
            params.scheduler,
            BatchingParams(
                num_kv_blocks=blocks,
                **{name: getattr(params, name) for name in BatchLimits.model_fields},
            ),
        )
        self._sides: dict[tuple[int, int], SideCosts] = {}

    # ---- what the engine asks -------------------------------------------------------------

    def status(self) -> tuple[int, int, float]:
        """(sequences waiting, sequences running, 0: the wait is not known in advance)."""
        scheduler = self.scheduler
        if scheduler is None:
            return 0, 0, 0.0
        return scheduler.num_waiting, scheduler.num_running, 0.0

    def load(self) -> tuple[int, int, int, int, int, float]:
        """``(running sequences, their cached tokens, prompt tokens not yet prefilled, free KV
        blocks, tokens per block, time left in the step under way (s, 0 when idle))`` now
        (:meth:`BatchScheduler.load`)."""
        scheduler = self.scheduler
        assert scheduler is not None
        running, cached, waiting = scheduler.load()
        kv = scheduler.kv
        left = max(self._step_end_s - self.env.now, 0.0) if self._busy else 0.0
        return running, cached, waiting, kv.free, kv.block_size, left

    def live_ids(self) -> list[int]:
        """Ids of the live sequences, running then waiting."""
        scheduler = self.scheduler
        assert scheduler is not None
        return scheduler.running_ids() + scheduler.waiting_ids()

    def chunk_step_s(
        self, tokens: int, context_tokens: int, others: int, others_cached: int
    ) -> float:
        """A prediction of the next step with a chunk of ``tokens`` tokens over
        ``context_tokens`` cached ones beside ``others`` running decodes holding
        ``others_cached`` cached tokens in all: the roofline on the whole model, s (what the
        adaptive draft length plans with, ``docs/edge-llm.md``)."""
        assert self.scheduler is not None
        sums = BatchSums(
            prefill_tokens=0.0,
            decode_tokens=float(others + tokens),
            prefill_positions=0.0,
            decode_positions=float(others_cached + others + tokens * (context_tokens + tokens)),
            prefill_emitting=0.0,
            decode_emitting=float(others + 1),
            prefill_cached_tokens=0.0,
            decode_cached_tokens=float(others_cached + context_tokens),
            prefill_sequences=0.0,
            decode_sequences=float(others + 1),
        )
        time_s = self._roofline.step_time_from_sums_s(
            sums, self.side(0, self.model.num_blocks), self.hardware
        )
        assert time_s is not None  # the roofline always times from the sums
        return time_s

    def refusal(self, seq: Sequence) -> str | None:
        """Why ``seq`` could never be served here, even alone (None: it can)."""
        assert self.scheduler is not None
        return self.scheduler.unservable_reason(seq)

    def admit(self, seq: Sequence, at_s: float) -> None:
        """Queue ``seq`` (first come, first served), arrived at ``at_s`` (s, now)."""
        assert self.scheduler is not None
        self.scheduler.admit(seq)
        if not self._busy:
            self._next_step(max(at_s, self._free_s))

    def mark_ready(self, seq_id: int, at_s: float, width: int = 1, advance: int = 1) -> None:
        """The device's input for ``seq_id``'s next decode arrived at ``at_s`` (s, now); a
        verification chunk of ``width`` tokens emitting ``advance`` of them
        (:meth:`BatchScheduler.mark_ready`)."""
        assert self.scheduler is not None
        self.scheduler.mark_ready(seq_id, width, advance)
        if not self._busy:
            self._next_step(max(at_s, self._free_s))

    def kv_block_tokens(self) -> int:
        """Tokens per KV block."""
        return self.params.block_size_tokens

    def stream_chunk_tokens(self) -> int:
        """Tokens sent back together on the downlink in on-server mode."""
        return self.params.stream_chunk_tokens

    def stats(self) -> dict[str, int]:
        """Steps run, preemptions, tokens emitted (each once), peak, total and (at the end)
        still used KV blocks."""
        scheduler = self.scheduler
        if scheduler is None:
            return {"steps": 0, "preemptions": 0, "tokens_emitted": 0, "kv_peak_blocks": 0}
        return {
            "steps": self.steps,
            "preemptions": scheduler.preemptions,
            "tokens_emitted": scheduler.tokens_emitted,
            "kv_peak_blocks": self.kv_peak_blocks,
            "kv_blocks": scheduler.kv.num_blocks,
            "kv_blocks_in_use": scheduler.kv.used,
        }

    def check_idle(self) -> None:
        """RuntimeError unless every sequence left and every KV block is free (end of run)."""
        scheduler = self.scheduler
        if scheduler is not None and (scheduler.has_work or scheduler.kv.used):
            raise RuntimeError(
                f"server {self.spec.id!r} ended with work or KV blocks held "
                f"({scheduler.kv.used} blocks)"
            )

    def side(self, first_block: int, stop_block: int) -> SideCosts:
        """The costs of the model's blocks ``first_block ≤ i < stop_block`` (remembered)."""
        key = (first_block, stop_block)
        side = self._sides.get(key)
        if side is None:
            side = self._sides[key] = SideCosts.of_blocks(self.model, first_block, stop_block)
        return side

    def exit_side(self, exit_block: int) -> SideCosts:
        """The costs of a step whose deepest token leaves after block ``exit_block``: blocks
        ``1..exit_block`` and the output head (:func:`~coinfer.emulator.model.token_exit.
        exit_profile`; remembered)."""
        side = self._exit_sides.get(exit_block)
        if side is None:
            profile = exit_profile(self.model, exit_block)
            side = SideCosts.of_blocks(profile, 0, profile.num_blocks)
            self._exit_sides[exit_block] = side
        return side

    def step_time_s(self, batch: Batch) -> float:
        """The duration of ``batch`` on this server, s.

        Per-token early exit (``exit_of``): a step without prefill work runs the layers up to
        the deepest exit among its tokens, then the output head (the model truncated there,
        :meth:`exit_side`); the tokens that left earlier ride along to that depth (their
        states carried through the layers they skip, CALM's propagation) and cost it like the
        others. A step with prefill work runs every block (a prompt's KV cache is full)."""
        seq_ids = batch.seq_ids
        splits = self._split_of(seq_ids)
        kept = None if self._kept_of is None else self._kept_of(seq_ids)
        stop = self.model.num_blocks
        if self._exit_of is not None and not batch.num_prefills:
            exits = self._exit_of(seq_ids)
            if exits is not None:
                deepest = int(exits.max())
                if deepest < stop - 1:  # every sequence at split 0 (the others exit at L)
                    return self._segment_s(batch, None, self.exit_side(deepest), kept)
        first = int(splits[0])
        if len(splits) == 1 or bool((splits == first).all()):
            return self._segment_s(batch, None, self.side(first, stop), kept)
        total = 0.0
        cuts = np.unique(splits).tolist()
        for k, low in enumerate(cuts):  # segment low..next cut: the sequences cut at <= low
            high = cuts[k + 1] if k + 1 < len(cuts) else stop
            total += self._segment_s(batch, splits <= low, self.side(low, high), kept)
        return total

    def _segment_s(
        self,
        batch: Batch,
        mask: BoolArray | None,
        side: SideCosts,
        kept: np.ndarray | None = None,
    ) -> float:
        """The time of the entries ``mask`` of ``batch`` on ``side``, s (see
        :meth:`_model_segment_s`). A measured model (a table or a fit of whole-model steps,
        :attr:`StepTimeModelBase.times_whole_model`) on a side that runs part of the blocks
        gives the side the share of the measured step that the roofline gives its blocks:
        ``T = T_measured · T_roofline(side) / T_roofline(all blocks)``, on the same batch."""
        measured = self._model_segment_s(batch, mask, side, kept)
        if not self.step_model.times_whole_model or side.num_blocks == self.model.num_blocks:
            return measured
        costs = _cost_batch(batch)
        if mask is not None:
            costs = _masked(costs, mask)
        whole = self.side(0, self.model.num_blocks)
        part_s = self._roofline.step_time_s(costs, side, self.hardware)
        whole_s = self._roofline.step_time_s(costs, whole, self.hardware)
        return measured * part_s / whole_s if whole_s > 0 else measured

    def _model_segment_s(
        self,
        batch: Batch,
        mask: BoolArray | None,
        side: SideCosts,
        kept: np.ndarray | None = None,
    ) -> float:
        """The time of the entries ``mask`` of ``batch`` (None: all) on ``side``, s: from the
        batch's sums when the model can (:meth:`step_time_from_sums_s`), else from the batch.

        ``kept``: each entry's kept fraction ρ̃ (None: all 1). Pruned variants are nested
        sub-networks (a prefix of the full width): the step reads the weights of the widest
        member of the segment and each entry's FLOPs scale with its own ρ̃. When every member
        keeps the same fraction, the step is that of the pruned side (:meth:`SideCosts.pruned`).
        """
        hardware = self.hardware
        if kept is not None:
            members = kept if mask is None else kept[mask]
            widest = float(members.max())
            if bool((members == widest).all()):
                side = side.pruned(widest)
            else:
                nested = _cost_batch(batch)
                if mask is not None:
                    nested = _masked(nested, mask)
                return self.step_model.nested_step_time_s(nested, members, side, hardware)
        if mask is None:
            sums = batch_sums(batch)
            fast = self.step_model.step_time_from_sums_s(sums, side, hardware)
            if fast is not None:
                return fast
        costs = _cost_batch(batch)
        if mask is not None:
            costs = _masked(costs, mask)
        return self.step_model.step_time_s(costs, side, hardware)

    # ---- the steps ------------------------------------------------------------------------

    def _next_step(self, start_s: float) -> None:
        scheduler = self.scheduler
        assert scheduler is not None
        batch = scheduler.next_batch()
        if batch is None:
            self._busy = False
            return
        self._busy = True
        used = scheduler.kv.used
        if used > self.kv_peak_blocks:
            self.kv_peak_blocks = used
        step_s = self.step_time_s(batch)
        phase: Literal["prefill", "decode"] = "prefill" if batch.num_prefills else "decode"
        energy_j = phase_step_energy_j(phase, step_s, self.hardware)
        end_s = start_s + step_s
        self._step_end_s = end_s
        timer = self.env.timeout(max(end_s - self.env.now, 0.0))
        timer.callbacks.append(lambda _event: self._step_done(batch, step_s, energy_j, end_s))

    def _step_done(self, batch: Batch, step_s: float, energy_j: float, end_s: float) -> None:
        assert self.scheduler is not None
        result = self.scheduler.complete_step(batch)
        self._free_s = end_s
        self.steps += 1
        self.busy_s += step_s
        self._on_step(self, batch, result, step_s, energy_j, end_s)
        self._next_step(end_s)


def batch_sums(batch: Batch) -> BatchSums:
    """The sums of a scheduler's batch (decodes first, then prefills) as the cost models see
    them: the numbers :meth:`~coinfer.emulator.model.step_costs.Batch.sums` gives for it, from
    a few integer sums."""
    prefills = batch.num_prefills
    decodes = len(batch) - prefills
    context = batch.context_tokens
    decode_cached = float(context[:decodes].sum()) if decodes else 0.0
    decode_tokens = float(decodes)
    decode_positions = decode_cached + decodes
    if decodes and batch.tokens[:decodes].max() > 1:  # wide decodes (speculative verification)
        widths = batch.tokens[:decodes]
        decode_tokens = float(widths.sum())
        decode_positions = float((widths * (context[:decodes] + widths)).sum())
    if not prefills:
        return BatchSums(
            prefill_tokens=0.0,
            decode_tokens=decode_tokens,
            prefill_positions=0.0,
            decode_positions=decode_positions,
            prefill_emitting=0.0,
            decode_emitting=float(decodes),
            prefill_cached_tokens=0.0,
            decode_cached_tokens=decode_cached,
            prefill_sequences=0.0,
            decode_sequences=float(decodes),
        )
    tokens = batch.tokens[decodes:]
    cached = context[decodes:]
    emits = batch.emits_token
    return BatchSums(
        prefill_tokens=float(tokens.sum()),
        decode_tokens=decode_tokens,
        prefill_positions=float((tokens * (cached + tokens)).sum()),
        decode_positions=decode_positions,
        prefill_emitting=float(prefills if emits is None else emits[decodes:].sum()),
        decode_emitting=float(decodes),
        prefill_cached_tokens=float(cached.sum()),
        decode_cached_tokens=decode_cached,
        prefill_sequences=float(prefills),
        decode_sequences=float(decodes),
    )


def _masked(costs: CostBatch, mask: BoolArray) -> CostBatch:
    """The entries ``mask`` of ``costs``."""
    return CostBatch(
        new_tokens=costs.new_tokens[mask],
        cached_tokens=costs.cached_tokens[mask],
        is_prefill=costs.is_prefill[mask],
        emits_token=costs.emits_token[mask],
    )


def _cost_batch(batch: Batch) -> CostBatch:
    """The scheduler's batch as the cost models' :class:`CostBatch`."""
    emits = batch.emits_token
    return CostBatch(
        new_tokens=batch.tokens,
        cached_tokens=batch.context_tokens,
        is_prefill=batch.is_prefill,
        emits_token=np.ones(len(batch), dtype=np.bool_) if emits is None else emits,
    )
