"""Drivers for the batching schedulers in tests: a step loop and a timed loop, no SimPy.

Sequences in the narrative tests are named by one letter (its code point is the id). A step of
a trajectory is ``(step, batch, emitted, finished, preempted)``, with the batch written entry by
entry: ``"A:p8@0"`` is sequence A prefilling 8 tokens over 0 cached, ``"A:d@12"`` is A decoding
one token over 12 cached; ``emitted``, ``finished`` and ``preempted`` list letters in batch order
(preempted: in the order preempted).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping

import numpy as np

from coinfer.emulator.engine.batching import Batch, BatchScheduler, Sequence


def seq(name: str, prompt: int, output: int) -> Sequence:
    """The sequence named by one letter."""
    return Sequence(ord(name), prompt_tokens=prompt, output_tokens=output)


def _letters(ids: Iterable[int]) -> str:
    return "".join(chr(i) for i in ids)


def describe(batch: Batch) -> str:
    """The batch in the compact notation of this module."""
    return " ".join(
        f"{chr(i)}:p{tokens}@{context}" if prefill else f"{chr(i)}:d@{context}"
        for i, prefill, tokens, context in zip(
            batch.seq_ids.tolist(),
            batch.is_prefill.tolist(),
            batch.tokens.tolist(),
            batch.context_tokens.tolist(),
            strict=True,
        )
    )


def trajectory(
    scheduler: BatchScheduler, arrivals: Mapping[int, list[Sequence]]
) -> list[tuple[int, str, str, str, str]]:
    """Run to the end; ``arrivals[k]`` are admitted just before step ``k`` (steps from 1)."""
    log = []
    step = 1
    last = max(arrivals)
    while step <= last or scheduler.has_work:
        for sequence in arrivals.get(step, []):
            scheduler.admit(sequence)
        batch = scheduler.next_batch()
        if batch is None:
            step += 1
            continue
        result = scheduler.complete_step(batch)
        log.append(
            (
                step,
                describe(batch),
                _letters(result.emitted.tolist()),
                _letters(result.finished.tolist()),
                _letters(result.preempted.tolist()),
            )
        )
        step += 1
    return log


def serve(
    scheduler: BatchScheduler,
    arrivals: list[tuple[float, Sequence]],
    step_s: Callable[[Batch], float],
) -> dict[int, list[float]]:
    """Serve ``(arrival time s, sequence)`` pairs (sorted by time) with steps lasting
    ``step_s(batch)`` seconds; the times (s) at which each sequence emitted its tokens."""
    emitted: dict[int, list[float]] = defaultdict(list)
    now = 0.0
    i = 0
    while i < len(arrivals) or scheduler.has_work:
        while i < len(arrivals) and arrivals[i][0] <= now:
            scheduler.admit(arrivals[i][1])
            i += 1
        batch = scheduler.next_batch()
        if batch is None:
            now = arrivals[i][0]
            continue
        now += step_s(batch)
        for seq_id in scheduler.complete_step(batch).emitted.tolist():
            emitted[seq_id].append(now)
    return dict(emitted)


def inter_token_gaps(emitted: Mapping[int, list[float]]) -> np.ndarray:
    """Times between consecutive tokens of each sequence, all sequences together, s."""
    return np.concatenate([np.diff(times) for times in emitted.values()])
