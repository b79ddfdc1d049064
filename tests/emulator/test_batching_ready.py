"""Sequences whose decodes wait for an input from outside the server (split inference).

In split mode the server runs the last layers only: each decode needs the hidden vector the
device computes from the token the server just emitted. A sequence admitted with
``external_input`` is therefore *not ready* after each token it emits (but its last), until
``mark_ready``: it keeps its KV blocks, sits out the batches, and a waiting one holds up
admission. Notation of :mod:`tests.emulator.batching_helpers`; blocks of 4 tokens.
"""

from __future__ import annotations

import pytest

from coinfer.emulator.engine.batching import (
    BatchingParams,
    Sequence,
    StepOrderError,
    make_scheduler,
)
from tests.emulator.batching_helpers import describe, seq


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


def split_seq(name: str, prompt: int, output: int) -> Sequence:
    return Sequence(ord(name), prompt_tokens=prompt, output_tokens=output, external_input=True)


def step(scheduler) -> tuple[str, str, str]:
    """One step: the batch, the sequences that emitted and those that finished."""
    batch = scheduler.next_batch()
    if batch is None:
        return "", "", ""
    result = scheduler.complete_step(batch)
    letters = lambda ids: "".join(chr(i) for i in ids.tolist())  # noqa: E731
    return describe(batch), letters(result.emitted), letters(result.finished)


@pytest.mark.parametrize("name", ["vllm", "sarathi", "orca"])
def test_a_split_sequence_decodes_only_once_its_input_arrived(name):
    """A (split) and B (on the server) start together. After the prefill A waits for its
    hidden vector: B decodes alone until ``mark_ready(A)``, then both decode again. With only
    A left, waiting, there is no batch at all (None), until its input arrives."""
    scheduler = make_scheduler(name, params())
    scheduler.admit(split_seq("A", 4, 3))
    scheduler.admit(seq("B", 4, 4))
    assert step(scheduler) == ("A:p4@0 B:p4@0", "AB", "")
    assert scheduler.num_unready == 1 and not scheduler.sequence(ord("A")).ready
    assert step(scheduler) == ("B:d@4", "B", "")
    scheduler.mark_ready(ord("A"))
    assert step(scheduler) == ("A:d@4 B:d@5", "AB", "")
    scheduler.mark_ready(ord("A"))
    assert step(scheduler) == ("A:d@5 B:d@6", "AB", "AB")
    assert scheduler.num_unready == 0 and not scheduler.has_work and scheduler.kv.used == 0


def test_with_every_sequence_waiting_for_its_input_there_is_no_batch():
    scheduler = make_scheduler("vllm", params())
    scheduler.admit(split_seq("A", 4, 2))
    assert step(scheduler) == ("A:p4@0", "A", "")
    assert scheduler.has_work and scheduler.next_batch() is None
    scheduler.mark_ready(ord("A"))
    assert step(scheduler) == ("A:d@4", "A", "A")


def test_the_last_token_leaves_nothing_to_wait_for():
    """A sequence's last token is never processed: it finishes ready, with its KV freed."""
    scheduler = make_scheduler("sarathi", params())
    scheduler.admit(split_seq("A", 4, 1))
    assert step(scheduler) == ("A:p4@0", "A", "A")
    assert scheduler.num_unready == 0 and scheduler.kv.used == 0


def test_marking_a_sequence_that_does_not_wait_is_refused():
    scheduler = make_scheduler("vllm", params())
    scheduler.admit(split_seq("A", 4, 3))
    with pytest.raises(StepOrderError, match="not waiting"):
        scheduler.mark_ready(ord("A"))
    with pytest.raises(KeyError):
        scheduler.mark_ready(ord("Z"))


def test_a_preempted_sequence_waiting_for_its_input_is_recomputed_only_once_it_arrives():
    """vLLM, 5 blocks: A (split) and B both hold 2 blocks after their 8-token prefills. B's
    9th token needs a third block while A waits: 1 free, B takes it. A's decode then needs a
    third block too, none is free: B, the newest, is preempted and A decodes. B, back at the
    front of the queue, is recomputed as soon as A finishes; A's own input gated its every
    decode."""
    scheduler = make_scheduler("vllm", params(num_kv_blocks=5))
    scheduler.admit(split_seq("A", 8, 3))
    scheduler.admit(seq("B", 8, 3))
    assert step(scheduler) == ("A:p8@0 B:p8@0", "AB", "")
    assert step(scheduler) == ("B:d@8", "B", "")  # A waits; B takes the last free block
    scheduler.mark_ready(ord("A"))
    batch = scheduler.next_batch()
    assert describe(batch) == "A:d@8" and [chr(i) for i in batch.preempted.tolist()] == ["B"]
    scheduler.complete_step(batch)
    scheduler.mark_ready(ord("A"))
    assert step(scheduler) == ("A:d@9", "A", "A")
    # B's recomputation covers its prompt and its 2 tokens and emits its 3rd, its last
    assert step(scheduler) == ("B:p10@0", "B", "B")
    assert scheduler.preemptions == 1 and scheduler.kv.used == 0


def test_a_waiting_sequence_that_is_not_ready_holds_up_admission():
    """vLLM, 4 blocks. B (8 + 6 tokens) and A (split, 4 + 4) start together; A waits for its
    input while B decodes. B's 13th token needs a 4th block: A, the newest, is preempted while
    waiting. C then arrives behind A: nothing is admitted (first come, first served) until A's
    input arrives; then A is recomputed over its prompt and its token, beside C."""
    scheduler = make_scheduler("vllm", params(num_kv_blocks=4))
    scheduler.admit(seq("B", 8, 6))
    scheduler.admit(split_seq("A", 4, 4))
    assert step(scheduler) == ("B:p8@0 A:p4@0", "BA", "")
    for context in (8, 9, 10, 11):
        assert step(scheduler) == (f"B:d@{context}", "B", "")
    batch = scheduler.next_batch()
    assert describe(batch) == "B:d@12" and [chr(i) for i in batch.preempted.tolist()] == ["A"]
    assert [chr(i) for i in scheduler.complete_step(batch).finished.tolist()] == ["B"]
    scheduler.admit(seq("C", 4, 1))
    assert scheduler.next_batch() is None and scheduler.num_waiting == 2
    scheduler.mark_ready(ord("A"))
    assert step(scheduler) == ("A:p5@0 C:p4@0", "AC", "C")
