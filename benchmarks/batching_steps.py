"""Batching scheduler speed: steps per second with 256 sequences in the batch.

For each scheduler, keeps ``--batch`` sequences in the server (prompt 512 tokens, 256 to 1,023
tokens out, a new sequence admitted whenever one finishes; a pool large enough that nothing is
preempted) and times ``--steps`` calls of ``next_batch`` + ``complete_step``, after a warm-up
that fills the batch; seq-steps/s counts batch entries (a decode or a prefill each) per second.
Also times pure decode steps (nobody finishes or arrives), the floor of a step's cost. The
reference, measured in the same run, is SimPy's bare event rate (a process yielding timeouts):
the later engine spends one such event per server iteration, so the ratio says what the
scheduler adds to an iteration. Each rate is the best of ``--repeat`` runs.

Run:  python benchmarks/batching_steps.py [--batch 256] [--steps 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import simpy

from coinfer.emulator.engine.batching import SCHEDULERS, BatchingParams, Sequence, make_scheduler

PROMPT = 512  #: prompt tokens of every sequence
BLOCK = 16  #: tokens per KV block


def simpy_events_per_s(events: int) -> float:
    """Timeouts per second of one SimPy process doing nothing else."""
    env = simpy.Environment()

    def ticker(env: simpy.Environment):
        for _ in range(events):
            yield env.timeout(1.0)

    env.process(ticker(env))
    started = time.perf_counter()
    env.run()
    return events / (time.perf_counter() - started)


def params(batch: int, max_output: int) -> BatchingParams:
    """A pool that holds ``batch`` sequences at their peak, and budgets that admit them."""
    blocks = batch * -(-(PROMPT + max_output) // BLOCK)
    return BatchingParams(
        block_size_tokens=BLOCK,
        num_kv_blocks=blocks,
        max_sequences=batch,
        max_batched_tokens=max(2048, PROMPT + max_output),
        chunk_size_tokens=512,
        watermark=0.0,
    )


def steady_steps_per_s(name: str, batch: int, steps: int, seed: int = 1) -> tuple[float, float]:
    """Steps per second and mean sequences per step, with arrivals replacing departures."""
    rng = np.random.default_rng(seed)
    outputs = iter(rng.integers(256, 1024, size=10 * steps + batch).tolist())
    scheduler = make_scheduler(name, params(batch, 1024))
    next_id = 0
    for _ in range(batch):
        scheduler.admit(Sequence(next_id, PROMPT, next(outputs)))
        next_id += 1

    def run(count: int) -> int:
        nonlocal next_id
        entries = 0
        for _ in range(count):
            work = scheduler.next_batch()
            assert work is not None
            entries += len(work)
            for _ in scheduler.complete_step(work).finished.tolist():
                scheduler.admit(Sequence(next_id, PROMPT, next(outputs)))
                next_id += 1
        return entries

    run(steps // 4)  # warm-up: the batch fills and the finishes spread out
    started = time.perf_counter()
    entries = run(steps)
    return steps / (time.perf_counter() - started), entries / steps


def decode_steps_per_s(name: str, batch: int, steps: int) -> float:
    """Steps per second of a batch of ``batch`` decodes that never finish during the timing."""
    output = steps + 16
    scheduler = make_scheduler(name, params(batch, output))
    for i in range(batch):
        scheduler.admit(Sequence(i, PROMPT, output))
    while scheduler.sequence(batch - 1).generated == 0:  # until every prefill is done
        scheduler.complete_step(scheduler.next_batch())
    started = time.perf_counter()
    for _ in range(steps):
        scheduler.complete_step(scheduler.next_batch())
    return steps / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--simpy-events", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    reference = max(simpy_events_per_s(args.simpy_events) for _ in range(args.repeat))
    print(f"SimPy bare timeouts: {reference:,.0f} events/s")
    print(
        f"{'scheduler':10} {'decode steps/s':>15} {'ratio':>7} {'steady steps/s':>15} "
        f"{'ratio':>7} {'seqs/step':>10} {'seq-steps/s':>12}"
    )
    for name in SCHEDULERS:
        decode = max(decode_steps_per_s(name, args.batch, args.steps) for _ in range(args.repeat))
        runs = [steady_steps_per_s(name, args.batch, args.steps) for _ in range(args.repeat)]
        steady, per_step = max(runs)
        print(
            f"{name:10} {decode:15,.0f} {decode / reference:7.3f} {steady:15,.0f} "
            f"{steady / reference:7.3f} {per_step:10.1f} {steady * per_step:12,.0f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
