"""A serving step's batch, and the per-step cost coefficients of one side of a split.

The sums of a batch and the coefficients of a side are what every step-time model reads; these
tests pin them against brute-force loops over sequences and blocks, and against the split
convention of the reference model (device runs blocks 1..l, server l+1..L).
"""

import numpy as np
import pytest

from coinfer.emulator.model.catalog import ModelCatalog
from coinfer.emulator.model.step_costs import Batch, SideCosts

CATALOG = ModelCatalog.builtin()
LLAMA = CATALOG.get("llama-2-7b")


def mixed_batch(seed: int = 0) -> Batch:
    """Two prompt chunks (one final, one not) and five decodes at assorted contexts."""
    rng = np.random.default_rng(seed)
    chunks = Batch.prefill([256, 100], cached_tokens=[0, 512], emits_token=[False, True])
    return Batch.concat(chunks, Batch.decode(rng.integers(0, 4000, size=5)))


class TestBatch:
    def test_decode_and_prefill_constructors(self):
        decode = Batch.decode([10, 20])
        assert decode.new_tokens.tolist() == [1, 1]
        assert decode.cached_tokens.tolist() == [10, 20]
        assert not decode.is_prefill.any() and decode.emits_token.all()
        prompt = Batch.prefill(300)
        assert (prompt.size, prompt.phase, prompt.cached_tokens.tolist()) == (1, "prefill", [0])

    def test_the_phase_of_a_step(self):
        assert Batch.decode([5]).phase == "decode"
        assert Batch.concat(Batch.decode([5]), Batch.prefill(8)).phase == "prefill"
        assert Batch.concat().phase == "idle" and Batch.concat().size == 0

    def test_sums_match_a_loop_over_sequences(self):
        batch = mixed_batch()
        sums = batch.sums()
        rows = list(
            zip(
                batch.new_tokens.tolist(),
                batch.cached_tokens.tolist(),
                batch.is_prefill.tolist(),
                batch.emits_token.tolist(),
                strict=True,
            )
        )
        for phase, prefix in ((True, "prefill"), (False, "decode")):
            mine = [(n, c, e) for n, c, p, e in rows if p == phase]
            assert getattr(sums, f"{prefix}_tokens") == sum(n for n, _, _ in mine)
            assert getattr(sums, f"{prefix}_positions") == sum(n * (c + n) for n, c, _ in mine)
            assert getattr(sums, f"{prefix}_emitting") == sum(e for _, _, e in mine)
            assert getattr(sums, f"{prefix}_cached_tokens") == sum(c for _, c, _ in mine)
            assert getattr(sums, f"{prefix}_sequences") == len(mine)
        assert sums.attended_positions == sum(n + c for n, c, _, _ in rows)

    def test_arrays_are_read_only_copies(self):
        cached = np.array([3, 4])
        batch = Batch.decode(cached)
        cached[0] = 99
        assert batch.cached_tokens.tolist() == [3, 4]
        with pytest.raises(ValueError, match="read-only"):
            batch.cached_tokens[0] = 7

    @pytest.mark.parametrize(
        ("arguments", "message"),
        [
            (([0], [5], True), "new_tokens: got 0, expected at least 1"),
            (([1], [-1], False), "cached_tokens: got -1, expected ≥ 0"),
            (([1.5], [0], True), "new_tokens: got .1.5., expected whole numbers"),
            (([1, 2], [0, 1, 2], True), "got shapes"),
        ],
    )
    def test_bad_batches_are_refused_with_the_field_named(self, arguments, message):
        with pytest.raises(ValueError, match=message):
            Batch.of(*arguments)


class TestSideCosts:
    def test_the_sides_of_every_split_add_up_to_the_whole_model(self):
        whole = SideCosts.for_split(LLAMA, 0, "server")
        for split in LLAMA.split_points:
            device = SideCosts.for_split(LLAMA, int(split), "device")
            server = SideCosts.for_split(LLAMA, int(split), "server")
            assert device.num_blocks == split and server.num_blocks == LLAMA.num_blocks - split
            for field in (
                "flops_per_token",
                "flops_per_token_per_position",
                "flops_per_sequence",
                "weight_bytes_per_step",
                "weight_bytes_per_token",
                "kv_bytes_per_token",
                "resident_weight_bytes",
            ):
                total = getattr(device, field) + getattr(server, field)
                assert total == pytest.approx(getattr(whole, field), rel=1e-12), (split, field)

    def test_the_device_side_runs_blocks_one_to_l(self):
        device = SideCosts.for_split(LLAMA, 3, "device")  # embeddings, layer.0, layer.1
        assert (device.first_block, device.stop_block) == (0, 3)
        assert device.kv_bytes_per_token == 2 * (2 * 4096 * 2)  # two layers, K and V in fp16
        assert device.flops_per_sequence == 0  # the LM head stays on the server

    def test_resident_weights_are_every_parameter_at_the_chosen_bits(self):
        assert SideCosts.for_split(LLAMA, 0, "server").resident_weight_bytes == 6_738_415_616 * 2
        four_bit = SideCosts.for_split(LLAMA, 0, "server", weight_bits=4)
        assert four_bit.resident_weight_bytes == 6_738_415_616 / 2
        assert four_bit.weight_bits == 4

    def test_flops_match_a_loop_over_sequences_and_blocks(self):
        batch = mixed_batch(seed=3)
        side = SideCosts.for_split(LLAMA, 10, "server")
        prefill, decode = side.flops_by_phase(batch.sums())
        expected = {True: 0.0, False: 0.0}
        for block in LLAMA.blocks[10:]:
            for n, c, p, e in zip(
                batch.new_tokens,
                batch.cached_tokens,
                batch.is_prefill,
                batch.emits_token,
                strict=True,
            ):
                expected[bool(p)] += block.token_costs.flops(int(n), int(c), bool(e))
        assert prefill == pytest.approx(expected[True], rel=1e-12)
        assert decode == pytest.approx(expected[False], rel=1e-12)

    def test_memory_traffic_of_one_decode_by_hand(self):
        side = SideCosts.for_split(LLAMA, 0, "server")
        traffic = side.memory_traffic(Batch.decode([99]).sums())
        # weights once, plus one embedding row of 4096 fp16 weights
        assert traffic.weight_bytes == side.weight_bytes_per_step + 4096 * 2
        # read 100 positions' keys and values, write the new token's: 32 layers, K and V, fp16
        assert traffic.kv_cache_bytes == (100 + 1) * 32 * 2 * 4096 * 2
        # hidden state out of 33 blocks, written and read; logits written and read
        assert traffic.activation_bytes == 33 * 2 * 4096 * 2 + 2 * 32000 * 2

    def test_a_profile_without_token_costs_is_refused_naming_the_block(self):
        with pytest.raises(ValueError, match="'bert-base' block 'embeddings' has no token costs"):
            SideCosts.for_split(CATALOG.get("bert-base"), 0, "server")

    @pytest.mark.parametrize(
        ("call", "message"),
        [
            (lambda: SideCosts.for_split(LLAMA, 35, "server"), "split: got 35"),
            (lambda: SideCosts.for_split(LLAMA, 3, "cloud"), "side: got 'cloud'"),
            (lambda: SideCosts.of_blocks(LLAMA, 5, 2), "blocks: got 5..2"),
            (lambda: SideCosts.for_split(LLAMA, 0, "server", weight_bits=0), "weight_bits"),
        ],
    )
    def test_bad_arguments_are_refused(self, call, message):
        with pytest.raises(ValueError, match=message):
            call()
