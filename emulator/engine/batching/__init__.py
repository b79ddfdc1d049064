"""Iteration-level (continuous) batching of generative sequences on one server.

Engine-independent state machines: no SimPy here. The server's SimPy process admits sequences on
arrival and, once per iteration, asks for a batch, waits the step time the step-time model gives
for that batch, and hands the batch back::

    scheduler = make_scheduler("sarathi", BatchingParams(num_kv_blocks=2048))
    scheduler.admit(Sequence(id=7, prompt_tokens=512, output_tokens=128))
    while (batch := scheduler.next_batch()) is not None:
        step_s = step_time(batch)              # tokens and cached context per sequence
        result = scheduler.complete_step(batch)  # result.emitted, .first, .finished, .preempted

Three schedulers share that interface (:class:`BatchScheduler`), registered by name:

* ``vllm`` (:class:`VllmScheduler`): prefill-first, watermark admission, preemption of the most
  recently admitted sequence by recomputation;
* ``sarathi`` (:class:`SarathiScheduler`): decodes first, then chunked prefills in the token
  budget left (stall-free mixed batches);
* ``orca`` (:class:`OrcaScheduler`): whole KV reserved on admission, never a preemption.

Each follows Vidur's replica scheduler of the same name (microsoft/vidur,
``vidur/scheduler/replica_scheduler/``); their docstrings say where and how they differ.
"""

from __future__ import annotations

from coinfer.emulator.engine.batching.base import (
    BatchScheduler,
    SequenceRefusedError,
    StepOrderError,
)
from coinfer.emulator.engine.batching.kv import KvBlockManager, KvPoolError
from coinfer.emulator.engine.batching.orca import OrcaScheduler
from coinfer.emulator.engine.batching.params import BatchingParams
from coinfer.emulator.engine.batching.records import (
    Batch,
    SeqState,
    Sequence,
    SequenceState,
    StepResult,
)
from coinfer.emulator.engine.batching.sarathi import SarathiScheduler
from coinfer.emulator.engine.batching.vllm import VllmScheduler
from coinfer.emulator.errors import unknown_name_error

#: The built-in schedulers by name (the later scenario schema's discriminator).
SCHEDULERS: dict[str, type[BatchScheduler]] = {
    cls.name: cls for cls in (VllmScheduler, SarathiScheduler, OrcaScheduler)
}


def make_scheduler(name: str, params: BatchingParams) -> BatchScheduler:
    """A new scheduler of the registered ``name`` with ``params``; ``InputError`` if unknown."""
    try:
        cls = SCHEDULERS[name]
    except KeyError:
        raise unknown_name_error("batching scheduler", name, SCHEDULERS) from None
    return cls(params)


__all__ = [
    "SCHEDULERS",
    "Batch",
    "BatchScheduler",
    "BatchingParams",
    "KvBlockManager",
    "KvPoolError",
    "OrcaScheduler",
    "SarathiScheduler",
    "SeqState",
    "Sequence",
    "SequenceRefusedError",
    "SequenceState",
    "StepOrderError",
    "StepResult",
    "VllmScheduler",
    "make_scheduler",
]
