"""The three batching schedulers step by step, on cases small enough to follow by hand.

Every trajectory uses the notation of :mod:`tests.emulator.batching_helpers`: ``"A:p8@0"`` is
sequence A prefilling 8 tokens over 0 cached, ``"A:d@12"`` is A decoding one token over 12
cached; then the sequences that emitted a token, finished, and were preempted in that step.
Blocks hold 4 tokens unless said otherwise. A sequence that has generated ``g`` tokens decodes
over ``prompt + g − 1`` cached tokens and holds ``ceil((prompt + g) / 4)`` blocks while doing so.
"""

from __future__ import annotations

import pytest

from coinfer.emulator.engine.batching import (
    SCHEDULERS,
    BatchingParams,
    OrcaScheduler,
    SarathiScheduler,
    SeqState,
    Sequence,
    SequenceRefusedError,
    SequenceState,
    StepOrderError,
    VllmScheduler,
    make_scheduler,
)
from coinfer.emulator.errors import InputError
from tests.emulator.batching_helpers import seq, trajectory


def params(**changes) -> BatchingParams:
    base = {
        "block_size_tokens": 4,
        "num_kv_blocks": 10,
        "watermark": 0.0,
        "max_batched_tokens": 64,
        "max_sequences": 8,
        "chunk_size_tokens": 64,
    }
    return BatchingParams(**(base | changes))


# ---- vllm -------------------------------------------------------------------------------------


def test_vllm_preempts_the_newest_sequence_when_the_pool_runs_dry_and_recomputes_it_later():
    """Three sequences of 8 prompt and 8 output tokens in a pool of 10 blocks.

    Step 1 prefills all three (2 blocks each, 4 left). Step 2 takes a third block each (their
    9th token), 1 left. At step 6 each needs a fourth block (13th token): A takes the last
    one, B has none, so C, the most recently admitted, is preempted and its 3 blocks go to B.
    C waits (its recomputation needs 4 blocks, 2 are free) until A and B finish at step 8;
    step 9 prefills its prompt and the 5 tokens it had generated (13 tokens) and emits its 6th
    token, not its 1st again; it finishes with exactly 8.
    """
    scheduler = VllmScheduler(params(watermark=0.1))
    steps = trajectory(scheduler, {1: [seq("A", 8, 8), seq("B", 8, 8), seq("C", 8, 8)]})
    assert steps == [
        (1, "A:p8@0 B:p8@0 C:p8@0", "ABC", "", ""),
        (2, "A:d@8 B:d@8 C:d@8", "ABC", "", ""),
        (3, "A:d@9 B:d@9 C:d@9", "ABC", "", ""),
        (4, "A:d@10 B:d@10 C:d@10", "ABC", "", ""),
        (5, "A:d@11 B:d@11 C:d@11", "ABC", "", ""),
        (6, "A:d@12 B:d@12", "AB", "", "C"),
        (7, "A:d@13 B:d@13", "AB", "", ""),
        (8, "A:d@14 B:d@14", "AB", "AB", ""),
        (9, "C:p13@0", "C", "", ""),
        (10, "C:d@13", "C", "", ""),
        (11, "C:d@14", "C", "C", ""),
    ]
    assert (scheduler.preemptions, scheduler.tokens_emitted, scheduler.kv.used) == (1, 24, 0)


def test_vllm_runs_prefills_alone_and_admits_only_above_the_watermark():
    """A watermark of 0.2 keeps 2 of the 10 blocks free at admission.

    A and B (16-token prompts, 4 blocks each) are admitted together, leaving 2; C (one block)
    would leave 1 < 2 and waits, head of the queue, blocking D behind it. When D arrives before
    step 3 nothing can be admitted either. A finishes at step 3 (4 blocks back, 6 free): step 4
    is a prefill-only step for C and D while B's decode waits, then all decode together.
    """
    scheduler = VllmScheduler(params(watermark=0.2))
    steps = trajectory(
        scheduler,
        {
            1: [seq("A", 16, 3), seq("B", 16, 4), seq("C", 4, 2)],
            3: [seq("D", 1, 2)],
        },
    )
    assert steps == [
        (1, "A:p16@0 B:p16@0", "AB", "", ""),
        (2, "A:d@16 B:d@16", "AB", "", ""),
        (3, "A:d@17 B:d@17", "AB", "A", ""),
        (4, "C:p4@0 D:p1@0", "CD", "", ""),
        (5, "B:d@18 C:d@4 D:d@1", "BCD", "BCD", ""),
    ]


def test_vllm_admits_only_while_the_prompts_fit_the_token_budget_and_the_sequence_cap():
    scheduler = VllmScheduler(params(max_batched_tokens=10, max_sequences=2))
    steps = trajectory(scheduler, {1: [seq("A", 6, 2), seq("B", 4, 1), seq("C", 1, 1)]})
    assert steps == [
        (1, "A:p6@0 B:p4@0", "AB", "B", ""),  # 10 tokens: C would make 11 and 3 sequences
        (2, "C:p1@0", "C", "C", ""),  # prefill first: A's decode waits one step
        (3, "A:d@6", "A", "A", ""),
    ]


def test_vllm_evicts_newer_sequences_one_by_one_and_requeues_them_in_admission_order():
    """Pool of 4 blocks of 2 tokens; A (prompt 3, 5 tokens out), then B and C (prompt 2, 3 out).

    Step 2 is prefill-only for B and C (one block each, pool full) while A waits. At step 3
    B needs a second block: C, the newest, is preempted. At step 4 A needs its third block:
    B, now the newest, is preempted too and goes in front of C, so that the queue keeps
    admission order. A never yields (it is the oldest) and finishes at step 6; B and C are then
    recomputed together: B over its prompt and 2 generated tokens (its last chunk emits its
    3rd and last token), C over its prompt and 1 token.
    """
    scheduler = VllmScheduler(params(block_size_tokens=2, num_kv_blocks=4, max_sequences=3))
    steps = trajectory(scheduler, {1: [seq("A", 3, 5)], 2: [seq("B", 2, 3), seq("C", 2, 3)]})
    assert steps == [
        (1, "A:p3@0", "A", "", ""),
        (2, "B:p2@0 C:p2@0", "BC", "", ""),
        (3, "A:d@3 B:d@2", "AB", "", "C"),
        (4, "A:d@4", "A", "", "B"),
        (5, "A:d@5", "A", "", ""),
        (6, "A:d@6", "A", "A", ""),
        (7, "B:p4@0 C:p3@0", "BC", "B", ""),
        (8, "C:d@3", "C", "C", ""),
    ]
    assert scheduler.preemptions == 2


# ---- sarathi ----------------------------------------------------------------------------------


def test_sarathi_chunks_prefills_into_the_token_budget_and_mixes_them_with_decodes():
    """A budget of 8 tokens a step and chunks of at most 6.

    Step 1: A's first chunk (6 of 10), then B gets the 2 tokens left. Step 2: A's last 4 and
    B's last 3 complete both prefills (each emits its first token), and C is admitted with the
    single token left. Step 3 is mixed: A and B decode first, C's prefill takes 2 of the 6
    tokens left and completes. Nobody's decode ever waits for a prefill.
    """
    scheduler = SarathiScheduler(params(max_batched_tokens=8, max_sequences=4, chunk_size_tokens=6))
    steps = trajectory(scheduler, {1: [seq("A", 10, 3), seq("B", 5, 2), seq("C", 3, 4)]})
    assert steps == [
        (1, "A:p6@0 B:p2@0", "", "", ""),
        (2, "A:p4@6 B:p3@2 C:p1@0", "AB", "", ""),
        (3, "A:d@10 B:d@5 C:p2@1", "ABC", "B", ""),
        (4, "A:d@11 C:d@3", "AC", "A", ""),
        (5, "C:d@4", "C", "", ""),
        (6, "C:d@5", "C", "C", ""),
    ]


def test_sarathi_gives_a_prefill_only_the_budget_the_decodes_leave():
    """Budget 4: three decodes leave one token a step to D's 8-token prompt, until they end."""
    scheduler = SarathiScheduler(params(max_batched_tokens=4, max_sequences=4, chunk_size_tokens=4))
    steps = trajectory(
        scheduler, {1: [seq("A", 2, 4), seq("B", 2, 4), seq("C", 2, 4)], 3: [seq("D", 8, 1)]}
    )
    assert steps == [
        (1, "A:p2@0 B:p2@0", "AB", "", ""),
        (2, "A:d@2 B:d@2 C:p2@0", "ABC", "", ""),
        (3, "A:d@3 B:d@3 C:d@2 D:p1@0", "ABC", "", ""),
        (4, "A:d@4 B:d@4 C:d@3 D:p1@1", "ABC", "AB", ""),
        (5, "C:d@4 D:p3@2", "C", "C", ""),
        (6, "D:p3@5", "D", "D", ""),
    ]


def test_sarathi_preempts_a_sequence_part_way_through_its_prefill_and_starts_it_over():
    """Pool of 6 blocks: A (prompt 4) takes 1, B (prompt 20) its whole prompt's 5 on admission.
    At step 2 A's decode needs a second block: B, newest, is preempted with 4 of its 20 tokens
    prefilled, which are lost. It waits for A to finish, then prefills from 0, 4 tokens a step.
    """
    scheduler = SarathiScheduler(
        params(num_kv_blocks=6, max_batched_tokens=8, max_sequences=4, chunk_size_tokens=4)
    )
    steps = trajectory(scheduler, {1: [seq("A", 4, 3), seq("B", 20, 1)]})
    assert steps == [
        (1, "A:p4@0 B:p4@0", "A", "", ""),
        (2, "A:d@4", "A", "", "B"),
        (3, "A:d@5", "A", "A", ""),
        (4, "B:p4@0", "", "", ""),
        (5, "B:p4@4", "", "", ""),
        (6, "B:p4@8", "", "", ""),
        (7, "B:p4@12", "", "", ""),
        (8, "B:p4@16", "B", "B", ""),
    ]


# ---- orca -------------------------------------------------------------------------------------


def test_orca_reserves_each_sequences_peak_on_admission_and_never_preempts():
    """Budget 16 tokens. A and B (prompt 8, 9 out) reserve ceil(16 / 4) = 4 blocks each. C
    (prompt 4, 2 out: 2 blocks) joins the running decodes at step 2 in a mixed batch. D (prompt
    8, 5 out) needs 3 blocks at admission but only 2 are free after C: it waits until A and B
    finish, although its prompt alone (2 blocks) would fit, as vLLM would admit it.
    """
    scheduler = OrcaScheduler(params(max_batched_tokens=16, max_sequences=4))
    steps = trajectory(
        scheduler,
        {1: [seq("A", 8, 9), seq("B", 8, 9)], 2: [seq("C", 4, 2)], 4: [seq("D", 8, 5)]},
    )
    assert steps == [
        (1, "A:p8@0 B:p8@0", "AB", "", ""),
        (2, "A:d@8 B:d@8 C:p4@0", "ABC", "", ""),
        (3, "A:d@9 B:d@9 C:d@4", "ABC", "C", ""),
        (4, "A:d@10 B:d@10", "AB", "", ""),
        (5, "A:d@11 B:d@11", "AB", "", ""),
        (6, "A:d@12 B:d@12", "AB", "", ""),
        (7, "A:d@13 B:d@13", "AB", "", ""),
        (8, "A:d@14 B:d@14", "AB", "", ""),
        (9, "A:d@15 B:d@15", "AB", "AB", ""),
        (10, "D:p8@0", "D", "", ""),
        (11, "D:d@8", "D", "", ""),
        (12, "D:d@9", "D", "", ""),
        (13, "D:d@10", "D", "", ""),
        (14, "D:d@11", "D", "D", ""),
    ]
    assert scheduler.preemptions == 0


# ---- the interface ----------------------------------------------------------------------------


def test_a_sequence_is_refused_when_it_could_not_run_even_alone():
    """Pool of 10 blocks of 4 tokens, watermark 1 block, 16 tokens a step."""
    p = params(watermark=0.1, max_batched_tokens=16)
    too_long = Sequence(1, prompt_tokens=12, output_tokens=26)  # peaks at 37 tokens: 10 blocks
    assert make_scheduler("orca", p).unservable_reason(too_long) is None  # whole pool: 10
    with pytest.raises(
        SequenceRefusedError, match=r"sequence 1 refused by sarathi: .* = 10 blocks"
    ):
        make_scheduler("sarathi", p).admit(too_long)
    recomputed = Sequence(2, prompt_tokens=10, output_tokens=8)  # 17 tokens after preemption
    assert make_scheduler("sarathi", p).unservable_reason(recomputed) is None
    assert make_scheduler("orca", p).unservable_reason(recomputed) is None
    assert make_scheduler("vllm", p).unservable_reason(recomputed) == (
        "a prefill after a preemption may cover prompt + output - 1 = 17 tokens; "
        "expected at most max_batched_tokens = 16"
    )
    long_prompt = Sequence(3, prompt_tokens=17, output_tokens=1)
    assert make_scheduler("orca", p).unservable_reason(long_prompt) == (
        "its prompt of 17 tokens is prefilled in one step; expected at most max_batched_tokens = 16"
    )
    assert make_scheduler("vllm", params(watermark=0.1)).unservable_reason(too_long) == (
        "its KV cache peaks at prompt + output - 1 = 37 tokens = 10 blocks of 4 tokens; "
        "expected at most 9 blocks (10 in the pool less 1 of watermark)"
    )


def test_a_live_id_cannot_be_admitted_twice_but_a_finished_one_can():
    scheduler = make_scheduler("vllm", params())
    scheduler.admit(seq("A", 4, 1))
    with pytest.raises(ValueError, match="sequence 65 is already admitted and not finished"):
        scheduler.admit(seq("A", 2, 2))
    scheduler.complete_step(scheduler.next_batch())
    scheduler.admit(seq("A", 2, 2))
    assert scheduler.waiting_ids() == [ord("A")]


def test_batches_are_handed_out_and_back_one_at_a_time():
    scheduler = make_scheduler("sarathi", params())
    assert scheduler.next_batch() is None  # nothing to run
    scheduler.admit(seq("A", 4, 2))
    batch = scheduler.next_batch()
    with pytest.raises(StepOrderError, match="before complete_step of the previous batch"):
        scheduler.next_batch()
    scheduler.complete_step(batch)
    with pytest.raises(StepOrderError, match="expects the batch of the last next_batch"):
        scheduler.complete_step(batch)


def test_a_snapshot_shows_a_preempted_sequence_waiting_to_recompute_its_tokens():
    """The first vLLM story, stopped after step 6 (C preempted having generated 5 tokens)."""
    scheduler = VllmScheduler(params(watermark=0.1))
    for name in "ABC":
        scheduler.admit(seq(name, 8, 8))
    for _ in range(6):
        scheduler.complete_step(scheduler.next_batch())
    assert scheduler.running_ids() == [ord("A"), ord("B")]
    assert scheduler.waiting_ids() == [ord("C")]
    assert scheduler.sequence(ord("C")) == SequenceState(
        id=ord("C"),
        prompt_tokens=8,
        output_tokens=8,
        state=SeqState.PREEMPTED,
        prefill_tokens=13,
        prefilled=0,
        generated=5,
        kv_blocks=0,
        admission=2,
        restarts=1,
    )
    assert scheduler.sequence(ord("A")).kv_blocks == 4  # ceil((8 + 6) / 4)
    assert (scheduler.num_running, scheduler.num_waiting, scheduler.kv.used) == (2, 1, 8)


def test_the_registry_names_the_three_schedulers_and_refuses_others():
    assert {name: cls.__name__ for name, cls in SCHEDULERS.items()} == {
        "vllm": "VllmScheduler",
        "sarathi": "SarathiScheduler",
        "orca": "OrcaScheduler",
    }
    with pytest.raises(InputError, match="unknown batching scheduler 'fcfs'; expected one of: "):
        make_scheduler("fcfs", params())


def test_the_load_a_new_sequence_would_join():
    """Running sequences, their cached tokens, and the prompt tokens not yet prefilled."""
    from coinfer.emulator.engine.batching import BatchingParams, Sequence, make_scheduler

    params = BatchingParams(
        block_size_tokens=16,
        num_kv_blocks=1000,
        max_batched_tokens=2048,
        max_sequences=8,
        watermark=0.0,
        chunk_size_tokens=512,
    )
    scheduler = make_scheduler("vllm", params)
    assert scheduler.load() == (0, 0, 0)
    scheduler.admit(Sequence(1, 100, 5))
    scheduler.admit(Sequence(2, 300, 5))
    assert scheduler.load() == (0, 0, 400)  # both wait, 400 prompt tokens
    scheduler.complete_step(scheduler.next_batch())  # vLLM prefills both at once
    # both decode next over prompt + 1 generated - 1 cached tokens
    assert scheduler.load() == (2, 400, 0)
    scheduler.complete_step(scheduler.next_batch())
    assert scheduler.load() == (2, 402, 0)
