"""KV-cache memory: paged blocks on a server, and whether a side of a split fits on its hardware."""

import numpy as np
import pytest

from coinfer.emulator.model.catalog import ModelCatalog
from coinfer.emulator.model.hardware import HardwareCatalog
from coinfer.emulator.model.kv_memory import (
    VLLM_BLOCK_SIZE_TOKENS,
    VLLM_MEMORY_UTILISATION,
    kv_block_bytes,
    kv_blocks_available,
    kv_cache_blocks,
    side_fits,
    side_memory_bytes,
)
from coinfer.emulator.model.step_costs import SideCosts

MODELS = ModelCatalog.builtin()
HARDWARE = HardwareCatalog.builtin()
LLAMA = MODELS.get("llama-2-7b")
WHOLE_LLAMA = SideCosts.for_split(LLAMA, 0, "server")

#: Llama-2-7B's KV cache: K and V, 32 layers, 4096 wide, fp16 (0.5 MiB per token).
LLAMA_KV_BYTES_PER_TOKEN = 2 * 32 * 4096 * 2


def test_the_defaults_are_vllms():
    assert (VLLM_BLOCK_SIZE_TOKENS, VLLM_MEMORY_UTILISATION) == (16, 0.9)


def test_blocks_on_an_a100_by_hand():
    """floor((80 GB · 0.9 − 6,738,415,616 · 2 B of weights) / (16 · 0.5 MiB)) blocks."""
    expected = int((80e9 * 0.9 - 6_738_415_616 * 2) // (16 * LLAMA_KV_BYTES_PER_TOKEN))
    assert kv_blocks_available(WHOLE_LLAMA, HARDWARE.get("a100")) == expected == 6976


def test_the_activation_reserve_and_the_block_size_are_honoured():
    a100 = HARDWARE.get("a100")
    reserve = 2e9
    fewer = kv_blocks_available(WHOLE_LLAMA, a100, activation_reserve_bytes=reserve)
    expected = int((80e9 * 0.9 - 6_738_415_616 * 2 - reserve) // (16 * LLAMA_KV_BYTES_PER_TOKEN))
    assert fewer == expected
    small = kv_blocks_available(WHOLE_LLAMA, a100, block_size_tokens=8)
    assert small == int((80e9 * 0.9 - 6_738_415_616 * 2) // (8 * LLAMA_KV_BYTES_PER_TOKEN))


def test_only_the_layers_of_the_side_count():
    """At split 17 the server keeps layers 16..31 (16 of 32) and their KV cache only."""
    server = SideCosts.for_split(LLAMA, 17, "server")
    assert kv_block_bytes(server) == 16 * LLAMA_KV_BYTES_PER_TOKEN / 2
    assert kv_blocks_available(server, HARDWARE.get("a100")) > 2 * kv_blocks_available(
        WHOLE_LLAMA, HARDWARE.get("a100")
    )


def test_grouped_query_attention_shrinks_the_blocks_fourfold():
    llama3 = SideCosts.for_split(MODELS.get("llama-3-8b"), 0, "server")
    assert kv_block_bytes(llama3) == kv_block_bytes(WHOLE_LLAMA) / 4  # 8 KV heads of 32


def test_no_blocks_when_the_weights_do_not_fit():
    llama13 = SideCosts.for_split(MODELS.get("llama-2-13b"), 0, "server")  # 26 GB > 0.9 · 24 GB
    assert kv_blocks_available(llama13, HARDWARE.get("l4")) == 0


def test_the_formula_is_vectorised():
    blocks = kv_cache_blocks([80e9, 40e9, 10e9], 13.5e9, 8 * 2**20, 0.9, 0.0)
    np.testing.assert_array_equal(blocks, [(72e9 - 13.5e9) // 2**23, (36e9 - 13.5e9) // 2**23, 0])


def test_a_side_without_attention_layers_has_no_kv_pool():
    embeddings_only = SideCosts.for_split(LLAMA, 1, "device")
    with pytest.raises(ValueError, match="store no KV cache"):
        kv_blocks_available(embeddings_only, HARDWARE.get("jetson-agx-orin"))


def test_paged_memory_rounds_each_sequence_up_to_whole_blocks():
    weights = WHOLE_LLAMA.resident_weight_bytes
    assert side_memory_bytes(WHOLE_LLAMA, 17) == weights + 17 * LLAMA_KV_BYTES_PER_TOKEN
    paged = side_memory_bytes(WHOLE_LLAMA, 17, sequences=3, block_size_tokens=16)
    assert paged == weights + 3 * 2 * 16 * LLAMA_KV_BYTES_PER_TOKEN


class TestDeviceFit:
    def test_fp16_llama_2_7b_does_not_fit_an_8_gb_orin_nano_but_4_bit_weights_do(self):
        nano = HARDWARE.get("jetson-orin-nano")
        assert not side_fits(WHOLE_LLAMA, nano, prompt_tokens=512, output_tokens=256)
        four_bit = SideCosts.for_split(LLAMA, 0, "server", weight_bits=4)
        assert side_fits(four_bit, nano, prompt_tokens=512, output_tokens=256)

    def test_the_device_half_of_a_split_needs_only_its_layers(self):
        phone = HARDWARE.get("phone-soc")  # 12 GiB
        device = SideCosts.for_split(LLAMA, 9, "device")  # embeddings + 8 layers
        needed = side_memory_bytes(device, 4096 + 1024)
        assert needed == device.resident_weight_bytes + (4096 + 1024) * 8 * 2 * 4096 * 2
        assert side_fits(device, phone, prompt_tokens=4096, output_tokens=1024)
        assert not side_fits(WHOLE_LLAMA, phone, prompt_tokens=4096, output_tokens=1024)

    def test_the_fit_is_exact_at_the_boundary(self):
        orin = HARDWARE.get("jetson-agx-orin")
        device = SideCosts.for_split(LLAMA, 9, "device")
        spare = orin.memory_bytes - device.resident_weight_bytes
        tokens = int(spare // device.kv_bytes_per_token)
        assert side_fits(device, orin, prompt_tokens=tokens, output_tokens=0)
        assert not side_fits(device, orin, prompt_tokens=tokens, output_tokens=1)
