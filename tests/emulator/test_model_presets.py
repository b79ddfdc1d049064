"""Built-in profiles reproduce published parameter and FLOP totals from hyperparameters alone."""

import numpy as np
import pytest

from coinfer.emulator.model.catalog import ModelCatalog

CATALOG = ModelCatalog.builtin()

# Published parameter counts (model cards, torchvision/timm documentation, the papers).
PUBLISHED_PARAMS = {
    "llama-2-7b": 6.74e9,
    "llama-2-13b": 13.0e9,
    "llama-3-8b": 8.03e9,
    "mistral-7b": 7.24e9,
    "tinyllama-1.1b": 1.1e9,
    "smollm2-135m": 134.5e6,
    "phi-2": 2.78e9,
    "opt-1.3b": 1.32e9,
    "gpt2": 124e6,
    "gpt2-medium": 355e6,
    "gpt2-large": 774e6,
    "gpt2-xl": 1.558e9,
    "bert-base": 109.48e6,
    "bart-base": 139.42e6,
    "vit-b-16": 86.6e6,
    "vit-l-16": 304.3e6,
    "resnet-50": 25.6e6,
    "resnet-101": 44.5e6,
}

# Multiply-adds of one 224×224 image (torchvision's reported "GFLOPS", which count MACs).
PUBLISHED_GMACS_224 = {"resnet-50": 4.09, "resnet-101": 7.80, "vit-b-16": 17.56, "vit-l-16": 61.55}


@pytest.mark.parametrize(("name", "published"), sorted(PUBLISHED_PARAMS.items()))
def test_parameter_count_matches_the_published_total_within_1_percent(name, published):
    assert CATALOG.get(name).total_params == pytest.approx(published, rel=0.01)


@pytest.mark.parametrize(("name", "gmacs"), sorted(PUBLISHED_GMACS_224.items()))
def test_vision_multiply_adds_match_the_published_total_within_1_percent(name, gmacs):
    assert CATALOG.get(name).total_flops / 2 == pytest.approx(gmacs * 1e9, rel=0.01)


def test_exact_counts_where_the_checkpoint_is_known():
    assert CATALOG.get("gpt2").total_params == 124_439_808
    assert CATALOG.get("bert-base").total_params == 109_482_240
    assert CATALOG.get("bart-base").total_params == 139_420_416
    assert CATALOG.get("llama-2-7b").total_params == 6_738_415_616
    assert CATALOG.get("resnet-50").total_params == 25_557_032
    assert CATALOG.get("vit-b-16").total_params == 86_567_656


class TestPaperPresets:
    def test_bert_paper_totals_and_layout(self):
        bert = CATALOG.get("bert-paper")
        assert bert.total_params == pytest.approx(109.48e6, rel=1e-12)
        assert bert.total_flops == pytest.approx(21.77e9, rel=1e-12)
        assert list(bert.split_points) == list(range(13))
        # embeddings (23,837,184 parameters) sit on the device from split 1 on
        per_block = (109.48e6 - 23_837_184) / 12
        assert bert.device_params[1] == pytest.approx(23_837_184 + per_block)
        assert bert.device_params[4] == pytest.approx(23_837_184 + 4 * per_block)
        assert bert.device_flops[4] == pytest.approx(4 * 21.77e9 / 12)
        # split 0 uploads the raw input, 128 token ids of 32 bits (the server runs the embedding
        # lookup); every cut between blocks one 768-wide fp32 vector (project choices, issue 8)
        assert bert.payload_bits[0] == 128 * 32
        np.testing.assert_array_equal(bert.payload_bits[1:-1], 24_576)
        assert bert.payload_bits[-1] == 0

    def test_bart_paper_splits_only_the_encoder(self):
        bart = CATALOG.get("bart-paper")
        assert bart.total_params == pytest.approx(139.42e6, rel=1e-12)
        assert bart.total_flops == pytest.approx(6.44e9, rel=1e-12)
        assert list(bart.split_points) == list(range(7))
        # even when the whole encoder runs on the device, the decoder's half stays on the server
        assert bart.server_flops[6] == pytest.approx(6.44e9 / 2)
        assert bart.payload_bits[6] == 24_576
        assert bart.payload_bits[0] == 128 * 32  # token ids, as for BERT


class TestDecoders:
    def test_prefill_and_decode_step_are_both_described(self):
        llama = CATALOG.get("llama-2-7b")
        assert llama.sequence_length == 512
        assert llama.decode is not None and llama.decode.num_blocks == llama.num_blocks
        # one decode step = 2 FLOPs per matrix weight (all but the input embedding and the
        # RMSNorm gains) plus attention over 513 positions in each of the 32 layers
        norms = 2 * 32 * 4096 + 4096
        matrix_weights = llama.total_params - 32000 * 4096 - norms
        attention = 32 * 4 * 513 * 4096
        assert llama.decode.total_flops == pytest.approx(2 * matrix_weights + attention, rel=1e-12)

    def test_prefill_costs_about_two_flops_per_weight_per_token(self):
        gpt = CATALOG.get("gpt2-xl", sequence_length=64)
        per_token = gpt.total_flops / 64
        non_embedding = gpt.total_params - (50257 + 1024) * 1600
        assert per_token == pytest.approx(2 * non_embedding, rel=0.03)

    def test_kv_cache_bytes_per_token_match_the_published_figures(self):
        # fp16: 2 (K and V) · layers · kv_heads · head_dim · 2 bytes
        assert CATALOG.get("llama-2-7b").kv_cache_bytes_per_token == 2 * 32 * 4096 * 2  # 0.5 MiB
        assert CATALOG.get("llama-3-8b").kv_cache_bytes_per_token == 2 * 32 * 1024 * 2  # GQA
        assert CATALOG.get("bert-base").kv_cache_bytes_per_token == 0

    def test_activation_after_a_layer_is_tokens_times_width(self):
        llama = CATALOG.get("llama-2-7b", sequence_length=100)
        assert llama.payload_bits[5] == 100 * 4096 * 16  # fp16 hidden state
        assert llama.decode.payload_bits[5] == 4096 * 16
        assert llama.payload_bits[0] == 100 * 32  # token ids


class TestPassSize:
    def test_attention_makes_flops_superlinear_in_sequence_length(self):
        short = CATALOG.get("bert-base", sequence_length=128).total_flops
        long = CATALOG.get("bert-base", sequence_length=512).total_flops
        assert long > 4 * short

    def test_parameters_do_not_depend_on_sequence_length(self):
        assert (
            CATALOG.get("gpt2", sequence_length=32).total_params
            == CATALOG.get("gpt2", sequence_length=1024).total_params
        )

    def test_resnet_activations_shrink_with_depth(self):
        resnet = CATALOG.get("resnet-50")
        assert resnet.payload_bits[0] == 3 * 224 * 224 * 8
        assert resnet.payload_bits[1] == 64 * 56 * 56 * 32  # after stem and max-pool
        assert resnet.payload_bits[-2] == 2048 * 7 * 7 * 32  # after the last bottleneck

    def test_vit_takes_other_image_sizes(self):
        vit384 = CATALOG.get("vit-b-16", image_size=384)
        assert vit384.payload_bits[1] == (24 * 24 + 1) * 768 * 32
        assert vit384.total_flops > CATALOG.get("vit-b-16").total_flops
