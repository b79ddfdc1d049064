"""Per-block token costs: how a decoder block's work grows with a serving step's tokens.

The step-time models need FLOPs and bytes for batches of any shape (chunks of prompts, decodes
at any context), while a profile describes one prefill pass and one decode step. The token costs
must reproduce both of them exactly, for every decoder preset and every block.
"""

import pytest

from coinfer.emulator.model.catalog import ModelCatalog
from coinfer.emulator.model.presets import LLAMA_2_7B, LLAMA_3_8B

CATALOG = ModelCatalog.builtin()
DECODERS = [
    "gpt2",
    "gpt2-xl",
    "opt-1.3b",
    "llama-2-7b",
    "llama-2-13b",
    "llama-3-8b",
    "mistral-7b",
    "phi-2",
    "tinyllama-1.1b",
]


@pytest.mark.parametrize("name", DECODERS)
@pytest.mark.parametrize("prompt_tokens", [1, 77, 512])
def test_token_costs_reproduce_the_prefill_and_the_decode_profile_exactly(name, prompt_tokens):
    """Prefill of S tokens = S new tokens over no cache; the decode step = 1 new over S cached."""
    profile = CATALOG.get(name, sequence_length=prompt_tokens)
    for prefill, decode in zip(profile.blocks, profile.decode.blocks, strict=True):
        costs = prefill.token_costs
        assert costs is not None and decode.token_costs == costs
        assert costs.flops(prompt_tokens, 0) == prefill.flops
        assert costs.flops(1, prompt_tokens) == decode.flops


def test_a_layer_costs_two_flops_per_matrix_weight_plus_four_d_per_attended_position():
    layer = CATALOG.get("llama-2-7b").blocks[1].token_costs
    d, ffn = 4096, 11008
    assert layer.flops_per_token == 2 * (4 * d * d + 3 * d * ffn)
    assert layer.flops_per_token_per_position == 4 * d
    assert layer.flops_per_sequence == 0
    # a decode at context 1000 attends to 1001 positions
    assert layer.flops(1, 1000) == 2 * (4 * d * d + 3 * d * ffn) + 4 * d * 1001


def test_the_lm_head_runs_once_per_emitting_sequence_not_per_token():
    head = CATALOG.get("llama-2-7b").blocks[-1].token_costs
    assert head.flops(512, 0) == head.flops(1, 511) == 2 * 4096 * 32000
    # a prompt chunk that is not the prompt's last computes no logits
    assert head.flops(512, 0, emits_token=False) == 0


def test_every_weight_is_read_once_per_step_except_the_embedding_rows():
    llama = CATALOG.get("llama-2-7b")
    embeddings, layer, head = llama.blocks[0], llama.blocks[1], llama.blocks[-1]
    assert embeddings.token_costs.weight_params_per_step == 0
    assert embeddings.token_costs.weight_params_per_token == 4096  # one row, rotary positions
    assert layer.token_costs.weight_params_per_step == layer.params
    assert head.token_costs.weight_params_per_step == head.params  # untied: norm + LM head


def test_a_tied_head_reads_the_embedding_matrix():
    gpt2 = CATALOG.get("gpt2")
    head = gpt2.blocks[-1]
    assert head.token_costs.weight_params_per_step == head.params + 50257 * 768
    # token row and learned position row
    assert gpt2.blocks[0].token_costs.weight_params_per_token == 2 * 768


def test_activation_traffic_is_the_hidden_state_written_and_read_once():
    llama = CATALOG.get("llama-2-7b")  # fp16 activations
    assert llama.blocks[1].token_costs.activation_bytes_per_token == 2 * 4096 * 2
    assert llama.blocks[-1].token_costs.activation_bytes_per_sequence == 2 * 32000 * 2


def test_encoders_and_vision_models_carry_no_token_costs():
    for name in ("bert-base", "vit-b-16", "resnet-50", "bert-paper"):
        assert all(block.token_costs is None for block in CATALOG.get(name).blocks)


def test_llama_presets_carry_the_published_hyperparameters():
    """meta-llama/Llama-2-7b-hf and Meta-Llama-3-8B config.json: hidden_size,
    num_hidden_layers, num_attention_heads, num_key_value_heads, intermediate_size,
    vocab_size."""
    assert (
        LLAMA_2_7B.hidden_size,
        LLAMA_2_7B.num_layers,
        LLAMA_2_7B.num_heads,
        LLAMA_2_7B.num_kv_heads,
        LLAMA_2_7B.ffn_size,
        LLAMA_2_7B.vocab_size,
    ) == (4096, 32, 32, None, 11008, 32000)
    assert (
        LLAMA_3_8B.hidden_size,
        LLAMA_3_8B.num_layers,
        LLAMA_3_8B.num_heads,
        LLAMA_3_8B.num_kv_heads,
        LLAMA_3_8B.ffn_size,
        LLAMA_3_8B.vocab_size,
    ) == (4096, 32, 32, 8, 14336, 128256)
