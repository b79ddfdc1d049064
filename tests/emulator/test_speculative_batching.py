"""Wide decodes: the verification chunks of speculative decoding inside the continuous batch.

A speculative sequence is admitted with ``external_input`` (the device drafts between its
rounds). ``mark_ready(id, width=w, advance=k)`` makes its next decode a chunk of ``w`` tokens
(the last token and ``w − 1`` drafts) over the cached context, emitting ``k`` tokens at once
(the accepted drafts and the target's own). Blocks of 4 tokens; ``A:v3@4`` is A verifying a
chunk of 3 tokens over 4 cached.
"""

from __future__ import annotations

import pytest

from coinfer.emulator.engine.batching import BatchingParams, Sequence, make_scheduler
from coinfer.emulator.engine.batching_server import batch_sums
from coinfer.emulator.model.step_costs import Batch as CostBatch


def params(**changes) -> BatchingParams:
    base = {
        "block_size_tokens": 4,
        "num_kv_blocks": 40,
        "watermark": 0.0,
        "max_batched_tokens": 64,
        "max_sequences": 8,
        "chunk_size_tokens": 64,
    }
    return BatchingParams(**(base | changes))


def spec_seq(name: str, prompt: int, output: int) -> Sequence:
    return Sequence(ord(name), prompt_tokens=prompt, output_tokens=output, external_input=True)


def step(scheduler):
    """One step: the batch (``v`` marks a decode of several tokens), and per sequence that
    emitted, the tokens it gained."""
    batch = scheduler.next_batch()
    result = scheduler.complete_step(batch)
    entries = []
    for i, prefill, tokens, context in zip(
        batch.seq_ids.tolist(),
        batch.is_prefill.tolist(),
        batch.tokens.tolist(),
        batch.context_tokens.tolist(),
        strict=True,
    ):
        kind = f"p{tokens}" if prefill else ("d" if tokens == 1 else f"v{tokens}")
        entries.append(f"{chr(i)}:{kind}@{context}")
    gained = [1] * len(result.emitted) if result.advanced is None else result.advanced.tolist()
    emitted = " ".join(
        f"{chr(i)}+{k}" for i, k in zip(result.emitted.tolist(), gained, strict=True)
    )
    return " ".join(entries), emitted


@pytest.mark.parametrize("name", ["vllm", "sarathi", "orca"])
def test_a_verification_chunk_emits_the_accepted_drafts_and_one_more(name):
    """A (speculative) and B (on the server) share every step. A's prefill emits its first
    token; its round of 3 drafts is verified as one 4-token chunk over the 4 cached tokens and
    yields 3 tokens (2 accepted + 1); then a round of 2 drafts, all accepted, yields the last
    3; B decodes one token per step beside it."""
    scheduler = make_scheduler(name, params())
    scheduler.admit(spec_seq("A", 4, 7))
    scheduler.admit(Sequence(ord("B"), 4, 5))
    assert step(scheduler) == ("A:p4@0 B:p4@0", "A+1 B+1")
    scheduler.mark_ready(ord("A"), width=4, advance=3)
    assert step(scheduler) == ("A:v4@4 B:d@4", "A+3 B+1")
    assert scheduler.sequence(ord("A")).generated == 4
    assert not scheduler.sequence(ord("A")).ready
    scheduler.mark_ready(ord("A"), width=3, advance=3)
    assert step(scheduler) == ("A:v3@7 B:d@5", "A+3 B+1")
    assert step(scheduler) == ("B:d@6", "B+1")
    assert step(scheduler) == ("B:d@7", "B+1")
    assert not scheduler.has_work and scheduler.kv.used == 0
    assert scheduler.tokens_emitted == 7 + 5


def test_the_rejected_positions_keep_their_blocks_until_the_next_chunk_reuses_them():
    """A chunk of 4 over 4 cached tokens needs 8 positions, 2 blocks; with one draft accepted
    only 6 stay valid, and the next chunk of 2 (positions up to 8) needs no new block."""
    scheduler = make_scheduler("vllm", params())
    scheduler.admit(spec_seq("A", 4, 20))
    step(scheduler)
    assert scheduler.sequence(ord("A")).kv_blocks == 1
    scheduler.mark_ready(ord("A"), width=4, advance=2)
    step(scheduler)
    assert scheduler.sequence(ord("A")).kv_blocks == 2
    scheduler.mark_ready(ord("A"), width=2, advance=1)
    assert step(scheduler) == ("A:v2@6", "A+1")
    assert scheduler.sequence(ord("A")).kv_blocks == 2


def test_a_plain_decode_after_a_rejected_chunk_keeps_the_blocks_it_holds():
    """A chunk of 8 over 4 cached tokens takes 3 blocks; none accepted, 5 positions stay valid.
    The next decode, a plain one (the server decoding alone), needs 2 blocks and holds 3: it
    takes none and gives none back (the sweep that found this allocated −1)."""
    for name in ("vllm", "sarathi"):
        scheduler = make_scheduler(name, params())
        scheduler.admit(spec_seq("A", 4, 20))
        step(scheduler)
        scheduler.mark_ready(ord("A"), width=8, advance=1)
        step(scheduler)
        scheduler.mark_ready(ord("A"))
        assert step(scheduler) == ("A:d@5", "A+1")
        assert scheduler.sequence(ord("A")).kv_blocks == 3
        assert scheduler.kv.used == 3


def test_a_chunk_past_the_output_or_an_advance_beyond_the_chunk_is_refused():
    scheduler = make_scheduler("vllm", params())
    scheduler.admit(spec_seq("A", 4, 4))
    step(scheduler)
    with pytest.raises(ValueError, match="width=5, advance=2; expected 1 <= advance <= width <= 3"):
        scheduler.mark_ready(ord("A"), width=5, advance=2)
    with pytest.raises(ValueError, match="width=2, advance=3"):
        scheduler.mark_ready(ord("A"), width=2, advance=3)


def test_a_preempted_chunk_is_dropped_and_its_recomputation_emits_one_token():
    """A pool of 3 blocks: A (on the server) and B (speculative) hold one each. B's chunk of 4
    needs a second block, A's decode takes the last: B, the newest, is preempted with its chunk
    pending. Once A is done, B's prefill over its prompt and first token emits one token (not
    the chunk's 4), and B waits for its next round."""
    scheduler = make_scheduler("vllm", params(num_kv_blocks=3))
    scheduler.admit(Sequence(ord("A"), 4, 3))
    scheduler.admit(spec_seq("B", 4, 9))
    assert step(scheduler) == ("A:p4@0 B:p4@0", "A+1 B+1")
    scheduler.mark_ready(ord("B"), width=4, advance=4)
    assert step(scheduler) == ("A:d@4", "A+1")
    assert scheduler.preemptions == 1
    assert step(scheduler) == ("A:d@5", "A+1")
    assert step(scheduler) == ("B:p5@0", "B+1")
    assert scheduler.sequence(ord("B")).generated == 2
    assert not scheduler.sequence(ord("B")).ready
    scheduler.mark_ready(ord("B"), width=2, advance=2)
    assert step(scheduler) == ("B:v2@5", "B+2")


def test_a_step_of_wide_decodes_is_timed_as_the_cost_models_time_it():
    """The batching server's sums of a batch with chunks equal the cost model's sums of the
    same entries (n tokens over c cached each)."""
    scheduler = make_scheduler("sarathi", params())
    for name in "ABC":
        scheduler.admit(spec_seq(name, 5, 9))
    scheduler.complete_step(scheduler.next_batch())
    scheduler.mark_ready(ord("A"), width=4, advance=1)
    scheduler.mark_ready(ord("B"), width=1, advance=1)
    scheduler.mark_ready(ord("C"), width=6, advance=6)
    batch = scheduler.next_batch()
    assert batch.tokens.tolist() == [4, 1, 6]
    costs = CostBatch.of(batch.tokens, batch.context_tokens, False)
    assert batch_sums(batch) == costs.sums()
    result = scheduler.complete_step(batch)
    assert result.advanced.tolist() == [1, 1, 6]
    assert [scheduler.sequence(ord(n)).generated for n in "ABC"] == [2, 2, 7]


def test_chunks_count_their_tokens_in_sarathis_budget():
    """A budget of 8 tokens: a 6-token chunk and a plain decode leave 1 for a new prompt."""
    scheduler = make_scheduler("sarathi", params(max_batched_tokens=8, chunk_size_tokens=8))
    scheduler.admit(spec_seq("A", 4, 9))
    scheduler.admit(spec_seq("B", 4, 9))
    scheduler.complete_step(scheduler.next_batch())
    scheduler.mark_ready(ord("A"), width=6, advance=2)
    scheduler.mark_ready(ord("B"))
    scheduler.admit(Sequence(ord("C"), 5, 2))
    batch, _ = step(scheduler)
    assert batch == "A:v6@4 B:d@4 C:p1@0"
