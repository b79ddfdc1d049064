"""Invariants of the batching schedulers on random workloads (hypothesis).

Each example draws the pool, the limits and a workload (prompt and output lengths, and the step
before which each sequence arrives), runs a scheduler to the end and checks, at every step:

* the pool is never overdrawn and the per-sequence counts add up to the blocks in use;
* every batch entry's blocks cover what the step caches (``context + tokens``);
* batches respect ``max_sequences`` and ``max_batched_tokens``;
* what a batch says about each sequence agrees with a model kept by the test from the batches
  alone: a prefill continues from where its last chunk ended, a decode runs over
  ``prompt + emitted − 1`` cached tokens, a prefill emits exactly when it has covered the prompt
  and every token emitted before, and a preempted sequence starts its prefill over;

and at the end, token conservation: every sequence emitted exactly its output tokens, its
first once, finished once, and the pool is empty; and the run ends within a number of steps that
no starvation could meet (:func:`step_bound`). Per scheduler: ``vllm`` never mixes prefills and
decodes in a step; ``orca`` holds each sequence's reservation while it runs and never preempts.
With one sequence at a time, every scheduler serves in first-come-first-served order, each
sequence in a number of steps known in advance.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coinfer.emulator.engine.batching import (
    BatchingParams,
    BatchScheduler,
    Sequence,
    make_scheduler,
)

NAMES = ("vllm", "sarathi", "orca")


@st.composite
def params(draw: st.DrawFn, max_sequences: int | None = None) -> BatchingParams:
    """Pools of 24 to 128 tokens and budgets of 24 to 64: most sequences (up to 39 cached
    tokens) fit alone, and about a third of the examples preempt some."""
    block = draw(st.integers(1, 8))
    sequences = max_sequences or draw(st.integers(1, 8))
    return BatchingParams(
        block_size_tokens=block,
        num_kv_blocks=draw(st.integers(-(-24 // block), 128 // block)),
        watermark=draw(st.sampled_from([0.0, 0.05, 0.1, 0.2])),
        max_sequences=sequences,
        max_batched_tokens=draw(st.integers(max(sequences, 24), 64)),
        chunk_size_tokens=draw(st.integers(1, 16)),
    )


#: (arrival step, prompt tokens, output tokens) per sequence
workloads = st.lists(
    st.tuples(st.integers(0, 12), st.integers(1, 24), st.integers(1, 16)), min_size=1, max_size=12
)


def step_bound(name: str, served: dict[int, Sequence]) -> int:
    """Most steps (idle ones aside) the scheduler may take if no sequence starves.

    The oldest unfinished sequence is never preempted (it fits alone), and when it is waiting
    nothing runs, so it is admitted at once. Under ``orca`` it emits a token every step: at
    most ``Σ output`` steps. Under ``sarathi`` every step gives it a prefill token or a decode:
    it has at most ``prompt + output − 1`` tokens to prefill and ``output − 1`` decodes left
    once oldest, so at most ``Σ (prompt + 2 · output)``. Under ``vllm`` every decode step emits
    one of its tokens (at most ``Σ output`` decode steps) and every prefill-only step admits a
    sequence: at most ``n`` first admissions plus one per preemption, at most ``n`` per decode
    step; hence at most ``(n + 1) · Σ output + n``.
    """
    n = len(served)
    total_out = sum(s.output_tokens for s in served.values())
    if name == "orca":
        return total_out
    if name == "sarathi":
        return sum(s.prompt_tokens + 2 * s.output_tokens for s in served.values())
    return (n + 1) * total_out + n


@dataclass
class Run:
    """What :func:`run_checked` saw: the sequences served and, per step, the batch's ids and
    its number of prefill entries."""

    served: dict[int, Sequence]
    scheduler: BatchScheduler
    batches: list[list[int]] = field(default_factory=list)
    prefills: list[int] = field(default_factory=list)


def run_checked(name: str, p: BatchingParams, workload: list[tuple[int, int, int]]) -> Run:
    """Run ``workload`` to the end under every check of the module docstring."""
    scheduler = make_scheduler(name, p)
    arrivals = [
        (step, s)
        for step, s in sorted(
            (
                (step, Sequence(i, prompt, output))
                for i, (step, prompt, output) in enumerate(workload)
            ),
            key=lambda arrival: (arrival[0], arrival[1].id),
        )
        if scheduler.unservable_reason(s) is None
    ]
    run = Run(served={s.id: s for _, s in arrivals}, scheduler=scheduler)
    served = run.served
    bound = step_bound(name, served)
    emitted: Counter[int] = Counter()
    first: Counter[int] = Counter()
    finished: Counter[int] = Counter()
    cached = dict.fromkeys(served, 0)  # tokens cached per sequence, from the batches alone
    kv = scheduler.kv
    clock = 0  # steps, idle ones included
    i = 0
    while i < len(arrivals) or scheduler.has_work:
        while i < len(arrivals) and arrivals[i][0] <= clock:
            scheduler.admit(arrivals[i][1])
            i += 1
        clock += 1
        batch = scheduler.next_batch()
        if batch is None:
            continue
        assert len(run.batches) < bound, "a sequence starves"
        ids = batch.seq_ids.tolist()
        run.batches.append(ids)
        run.prefills.append(batch.num_prefills)
        assert len(set(ids)) == len(ids) <= p.max_sequences
        assert batch.num_tokens <= p.max_batched_tokens
        assert scheduler.num_running <= p.max_sequences
        assert 0 <= kv.used <= kv.num_blocks
        kv.check()
        for seq_id in batch.preempted.tolist():
            assert seq_id not in ids
            assert scheduler.sequence(seq_id).kv_blocks == 0
            cached[seq_id] = 0
        entries = batch.entries()
        for seq_id, phase, tokens, context in entries:
            s = served[seq_id]
            assert context == cached[seq_id]
            held = scheduler.sequence(seq_id).kv_blocks
            assert held >= kv.blocks_for(context + tokens)
            if name == "orca":
                assert held == kv.blocks_for(s.prompt_tokens + s.output_tokens - 1)
            if phase == "decode":
                assert tokens == 1
                assert context == s.prompt_tokens + emitted[seq_id] - 1
            else:
                assert 1 <= tokens <= s.prompt_tokens + emitted[seq_id] - context
            cached[seq_id] += tokens
        result = scheduler.complete_step(batch)
        got = result.emitted.tolist()
        for seq_id, phase, _, _ in entries:
            covers = cached[seq_id] == served[seq_id].prompt_tokens + emitted[seq_id]
            assert (seq_id in got) == (phase == "decode" or covers)
        emitted.update(got)
        first.update(result.first.tolist())
        finished.update(result.finished.tolist())
        assert result.first.tolist() == [j for j in got if emitted[j] == 1]
        assert result.finished.tolist() == [j for j in got if emitted[j] == served[j].output_tokens]
    assert emitted == {j: s.output_tokens for j, s in served.items()}
    assert first == finished == dict.fromkeys(served, 1)
    assert (kv.used, scheduler.num_running, scheduler.num_waiting) == (0, 0, 0)
    kv.check()
    assert scheduler.tokens_emitted == sum(emitted.values())
    assert scheduler.finished == len(served)
    return run


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=150, deadline=None)
@given(p=params(), workload=workloads)
def test_tokens_are_conserved_and_the_pool_never_overdrawn(name, p, workload):
    run_checked(name, p, workload)


@settings(max_examples=150, deadline=None)
@given(p=params(), workload=workloads)
def test_vllm_steps_are_all_prefill_or_all_decode(p, workload):
    run = run_checked("vllm", p, workload)
    assert all(
        prefills in (0, len(ids)) for ids, prefills in zip(run.batches, run.prefills, strict=True)
    )


@settings(max_examples=150, deadline=None)
@given(p=params(), workload=workloads)
def test_orca_never_preempts(p, workload):
    assert run_checked("orca", p, workload).scheduler.preemptions == 0


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=100, deadline=None)
@given(p=params(max_sequences=1), workload=workloads)
def test_one_sequence_at_a_time_is_first_come_first_served(name, p, workload):
    """With ``max_sequences = 1`` each sequence runs alone from its first step to its last, in
    arrival order (ties by admission), and takes a number of steps fixed by its own lengths:
    ``output`` (a whole-prompt prefill, then ``output − 1`` decodes), or for sarathi
    ``ceil(prompt / min(chunk, budget)) + output − 1``. Its service time is thus independent of
    the others: the server is a single FCFS queue (M/G/1 under Poisson arrivals)."""
    run = run_checked(name, p, workload)
    served = run.served
    assert run.scheduler.preemptions == 0
    order = [s.id for s in sorted(served.values(), key=lambda s: (_arrival(workload, s.id), s.id))]
    chunk = min(p.chunk_size_tokens, p.max_batched_tokens)
    expected = []
    for seq_id in order:
        s = served[seq_id]
        prefill_steps = -(-s.prompt_tokens // chunk) if name == "sarathi" else 1
        expected += [[seq_id]] * (prefill_steps + s.output_tokens - 1)
    assert run.batches == expected


def _arrival(workload: list[tuple[int, int, int]], seq_id: int) -> int:
    return workload[seq_id][0]
