"""Model profiles generated from architecture hyperparameters by documented formulas.

Nothing here is typed in per layer: every block's parameters, FLOPs and activation size follow
from a handful of hyperparameters (hidden size, layers, heads, ...) by the formulas below, which
``docs/model-profiles.md`` explains. Counting conventions:

* 1 multiply-add (MAC) = 2 FLOPs. Only matrix products are counted (linear layers, attention
  score and value products, convolutions); normalisation, activation functions, softmax, bias
  additions, residual additions and pooling are left out (they are O(tokens·width), well under
  1% of the total for every shipped model).
* A linear layer ``d_in → d_out`` applied to ``T`` tokens costs ``2·T·d_in·d_out`` FLOPs.
* Attention with ``T_q`` query tokens over ``T_kv`` key tokens costs ``2·2·T_q·T_kv·d_attn``
  FLOPs (scores ``QKᵀ`` and the weighted sum of ``V``). Causal masking is not discounted:
  prefill counts the full ``S×S`` product, as dense kernels and common counters do.
* A convolution costs ``2·k_h·k_w·(C_in/groups)·C_out·H_out·W_out`` FLOPs.
* Activations are ``elements × activation_bits``; text inputs are token ids of 32 bits, images
  are 8-bit RGB (``3·H·W·8`` bits).
* Tied input/output embeddings are counted once (at the input embedding), as published totals do.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from coinfer.emulator.inputs import InputModel
from coinfer.emulator.model.profiles import Block, ModelProfile, TokenCosts

TOKEN_ID_BITS = 32
PIXEL_BITS = 8


class TransformerConfig(InputModel):
    """Hyperparameters of a BERT-, GPT-, OPT-, Llama- or Phi-style transformer stack."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["encoder", "decoder"] = Field(description="Encoder (BERT) or decoder (GPT).")
    vocab_size: int = Field(gt=0, description="Vocabulary size (tokens).")
    hidden_size: int = Field(gt=0, description="Model width d.")
    num_layers: int = Field(gt=0, description="Number of transformer layers.")
    num_heads: int = Field(gt=0, description="Attention (query) heads.")
    num_kv_heads: int | None = Field(
        default=None,
        gt=0,
        description="Key/value heads (grouped-query attention); default = heads.",
    )
    ffn_size: int = Field(gt=0, description="Inner width of the feed-forward network.")
    gated_mlp: bool = Field(default=False, description="SwiGLU-style MLP with three matrices.")
    bias: bool = Field(default=True, description="Linear layers carry biases.")
    norm: Literal["layernorm", "rmsnorm"] = Field(
        default="layernorm", description="LayerNorm (weight+bias) or RMSNorm (weight only)."
    )
    parallel_block: bool = Field(
        default=False, description="Attention and MLP share one input norm (GPT-J/Phi style)."
    )
    learned_positions: int = Field(
        default=0, ge=0, description="Rows of a learned position embedding (0 = rotary/none)."
    )
    token_types: int = Field(default=0, ge=0, description="Token-type embedding rows (BERT: 2).")
    embedding_norm: bool = Field(default=False, description="A norm right after the embeddings.")
    final_norm: bool = Field(default=True, description="A norm after the last layer.")
    lm_head: bool = Field(default=True, description="A language-model head producing logits.")
    tied_head: bool = Field(default=True, description="LM head shares the input embedding matrix.")
    head_bias: bool = Field(default=False, description="LM head has a bias vector.")
    pooler: bool = Field(default=False, description="BERT pooler (dense d→d with tanh on [CLS]).")

    @model_validator(mode="after")
    def _check_heads(self) -> TransformerConfig:
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size {self.hidden_size} is not divisible by num_heads")
        if self.num_kv_heads is not None and self.num_heads % self.num_kv_heads:
            raise ValueError(f"num_heads {self.num_heads} is not divisible by num_kv_heads")
        return self

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def kv_width(self) -> int:
        """Width of the key (and of the value) projection: ``kv_heads · head_dim``."""
        return (self.num_kv_heads or self.num_heads) * self.head_dim

    @property
    def norm_params(self) -> int:
        return 2 * self.hidden_size if self.norm == "layernorm" else self.hidden_size

    # ---- one layer ---------------------------------------------------------------------

    def layer_linear_weights(self) -> int:
        """Weights of one layer's matrices: Q, K, V, O and the MLP."""
        d, kv = self.hidden_size, self.kv_width
        attention = d * d + 2 * d * kv + d * d
        mlp = (3 if self.gated_mlp else 2) * d * self.ffn_size
        return attention + mlp

    def layer_params(self) -> int:
        """Parameters of one layer: matrices, biases and norms."""
        d, kv, ffn = self.hidden_size, self.kv_width, self.ffn_size
        biases = 0
        if self.bias:
            biases = (d + 2 * kv + d) + ((2 if self.gated_mlp else 1) * ffn + d)
        norms = (1 if self.parallel_block else 2) * self.norm_params
        return self.layer_linear_weights() + biases + norms

    def layer_flops(self, query_tokens: int, context_tokens: int) -> float:
        """FLOPs of one layer for ``query_tokens`` new tokens attending to ``context_tokens``."""
        linear = 2.0 * query_tokens * self.layer_linear_weights()
        attention = 4.0 * query_tokens * context_tokens * self.hidden_size
        return linear + attention

    def layer_kv_bytes_per_token(self, activation_bits: int) -> float:
        """KV-cache bytes one token adds to one layer: keys and values of width ``kv_width``."""
        return 2.0 * self.kv_width * activation_bits / 8.0

    # ---- embeddings and head -----------------------------------------------------------

    def embedding_params(self) -> int:
        d = self.hidden_size
        rows = self.vocab_size + self.learned_positions + self.token_types
        return rows * d + (self.norm_params if self.embedding_norm else 0)

    def head_params(self) -> int:
        d = self.hidden_size
        params = self.norm_params if self.final_norm else 0
        if self.lm_head and not self.tied_head:
            params += self.vocab_size * d
        if self.lm_head and self.head_bias:
            params += self.vocab_size
        if self.pooler:
            params += d * d + d
        return params

    def head_flops(self, logit_positions: int) -> float:
        flops = 0.0
        if self.lm_head:
            flops += 2.0 * logit_positions * self.hidden_size * self.vocab_size
        if self.pooler:
            flops += 2.0 * self.hidden_size * self.hidden_size
        return flops

    def head_output_elements(self, logit_positions: int) -> int:
        if self.lm_head:
            return logit_positions * self.vocab_size
        return self.hidden_size * (1 if self.pooler else logit_positions)

    @property
    def has_head_block(self) -> bool:
        return self.lm_head or self.pooler or self.final_norm

    # ---- per serving step (generative decoders) ---------------------------------------------

    def embedding_token_costs(self, activation_bits: int) -> TokenCosts:
        """Embeddings: no FLOPs; each new token reads its rows (token, position, type) and
        writes its hidden state."""
        rows_per_token = 1 + int(self.learned_positions > 0) + int(self.token_types > 0)
        return TokenCosts(
            flops_per_token=0.0,
            flops_per_token_per_position=0.0,
            flops_per_sequence=0.0,
            weight_params_per_step=float(self.norm_params if self.embedding_norm else 0),
            weight_params_per_token=float(rows_per_token * self.hidden_size),
            activation_bytes_per_token=self._hidden_state_bytes_moved(activation_bits),
        )

    def layer_token_costs(self, activation_bits: int) -> TokenCosts:
        """One layer: :meth:`layer_flops` per new token and per attended position; every
        parameter is read once per step."""
        return TokenCosts(
            flops_per_token=2.0 * self.layer_linear_weights(),
            flops_per_token_per_position=4.0 * self.hidden_size,
            flops_per_sequence=0.0,
            weight_params_per_step=float(self.layer_params()),
            activation_bytes_per_token=self._hidden_state_bytes_moved(activation_bits),
        )

    def head_token_costs(self, activation_bits: int) -> TokenCosts:
        """Final norm and LM head: logits for the emitting position of each sequence; a tied
        head reads the input embedding matrix (counted in the embeddings' parameters)."""
        tied_matrix = self.vocab_size * self.hidden_size if self.lm_head and self.tied_head else 0
        return TokenCosts(
            flops_per_token=0.0,
            flops_per_token_per_position=0.0,
            flops_per_sequence=self.head_flops(1),
            weight_params_per_step=float(self.head_params() + tied_matrix),
            activation_bytes_per_sequence=2.0
            * self.head_output_elements(1)
            * activation_bits
            / 8.0,
        )

    def _hidden_state_bytes_moved(self, activation_bits: int) -> float:
        """One token's hidden state written once and read once: ``2·d·bits/8`` B."""
        return 2.0 * self.hidden_size * activation_bits / 8.0


def transformer_blocks(
    config: TransformerConfig,
    query_tokens: int,
    context_tokens: int,
    activation_bits: int,
    logit_positions: int,
) -> tuple[Block, ...]:
    """Blocks ``embeddings, layer.0 .. layer.{L-1}, head`` of one pass of a transformer stack."""
    d = config.hidden_size
    hidden_bits = float(query_tokens * d * activation_bits)
    decoder = config.kind == "decoder"
    kv = config.layer_kv_bytes_per_token(activation_bits) if decoder else 0.0
    layer_costs = config.layer_token_costs(activation_bits) if decoder else None
    blocks = [
        Block(
            name="embeddings",
            params=config.embedding_params(),
            flops=0.0,
            activation_bits=hidden_bits,
            token_costs=config.embedding_token_costs(activation_bits) if decoder else None,
        )
    ]
    blocks += [
        Block(
            name=f"layer.{i}",
            params=config.layer_params(),
            flops=config.layer_flops(query_tokens, context_tokens),
            activation_bits=hidden_bits,
            kv_cache_bytes_per_token=kv,
            token_costs=layer_costs,
        )
        for i in range(config.num_layers)
    ]
    if config.has_head_block:
        blocks.append(
            Block(
                name="head",
                params=config.head_params(),
                flops=config.head_flops(logit_positions),
                activation_bits=float(
                    config.head_output_elements(logit_positions) * activation_bits
                ),
                token_costs=config.head_token_costs(activation_bits) if decoder else None,
            )
        )
    return tuple(blocks)


def transformer_profile(
    name: str,
    config: TransformerConfig,
    *,
    sequence_length: int,
    activation_bits: int = 32,
    weight_bits: int = 32,
    description: str = "",
    source: str = "",
) -> ModelProfile:
    """Profile of a transformer encoder (one pass over ``sequence_length`` tokens) or decoder.

    For a decoder the main profile is the prefill of a ``sequence_length``-token prompt (logits
    for the last position only, as a serving engine computes them) and :attr:`ModelProfile.decode`
    is one decode step attending to ``sequence_length + 1`` positions.
    """
    s = sequence_length
    decode = None
    if config.kind == "decoder":
        decode = ModelProfile(
            name=f"{name}:decode",
            family="decoder",
            description=f"one decode step of {name} at context {s + 1}",
            source=source,
            input_bits=TOKEN_ID_BITS,
            blocks=transformer_blocks(config, 1, s + 1, activation_bits, logit_positions=1),
            weight_bits=weight_bits,
            activation_bits=activation_bits,
            sequence_length=1,
        )
    return ModelProfile(
        name=name,
        family=config.kind,
        description=description,
        source=source,
        input_bits=float(s * TOKEN_ID_BITS),
        blocks=transformer_blocks(
            config, s, s, activation_bits, logit_positions=1 if config.kind == "decoder" else s
        ),
        weight_bits=weight_bits,
        activation_bits=activation_bits,
        sequence_length=s,
        decode=decode,
    )


# ------------------------------------------------------------------------------------------
# Encoder–decoder (BART): only the encoder is split; the decoder always runs on the server.
# ------------------------------------------------------------------------------------------


class EncoderDecoderConfig(InputModel):
    """Hyperparameters of a BART-style encoder–decoder with shared, tied token embeddings."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    vocab_size: int = Field(gt=0)
    hidden_size: int = Field(gt=0)
    encoder_layers: int = Field(gt=0)
    decoder_layers: int = Field(gt=0)
    num_heads: int = Field(gt=0)
    ffn_size: int = Field(gt=0)
    learned_positions: int = Field(
        default=0, ge=0, description="Rows of each (encoder and decoder) position embedding."
    )

    def _encoder_layer(self) -> TransformerConfig:
        return TransformerConfig(
            kind="encoder",
            vocab_size=self.vocab_size,
            hidden_size=self.hidden_size,
            num_layers=self.encoder_layers,
            num_heads=self.num_heads,
            ffn_size=self.ffn_size,
        )

    def encoder_layer_params(self) -> int:
        return self._encoder_layer().layer_params()

    def decoder_layer_params(self) -> int:
        """Self-attention, cross-attention and MLP, with biases and three LayerNorms."""
        d = self.hidden_size
        attention = 4 * (d * d + d)
        return 2 * attention + (2 * d * self.ffn_size + self.ffn_size + d) + 3 * 2 * d

    def decoder_layer_flops(self, target_tokens: int, source_tokens: int) -> float:
        d, ffn = self.hidden_size, self.ffn_size
        self_attention = 2.0 * target_tokens * 4 * d * d + 4.0 * target_tokens * target_tokens * d
        cross_projections = 2.0 * (target_tokens * 2 * d * d + source_tokens * 2 * d * d)
        cross_attention = 4.0 * target_tokens * source_tokens * d
        mlp = 2.0 * target_tokens * 2 * d * ffn
        return self_attention + cross_projections + cross_attention + mlp


def encoder_decoder_profile(
    name: str,
    config: EncoderDecoderConfig,
    *,
    sequence_length: int,
    activation_bits: int = 32,
    weight_bits: int = 32,
    description: str = "",
    source: str = "",
) -> ModelProfile:
    """Profile ``embeddings, encoder.0..N-1, decoder`` with splits only inside the encoder.

    The decoder runs one teacher-forced pass over ``sequence_length`` target tokens (as in
    summarisation training or scoring) and produces logits for every position with the tied
    embedding matrix. The shared token embedding is counted once, on the device side.
    """
    d, s = config.hidden_size, sequence_length
    hidden_bits = float(s * d * activation_bits)
    encoder = config._encoder_layer()
    embeddings = Block(
        name="embeddings",
        params=config.vocab_size * d + config.learned_positions * d + 2 * d,
        flops=0.0,
        activation_bits=hidden_bits,
    )
    encoder_blocks = [
        Block(
            name=f"encoder.{i}",
            params=config.encoder_layer_params(),
            flops=encoder.layer_flops(s, s),
            activation_bits=hidden_bits,
        )
        for i in range(config.encoder_layers)
    ]
    decoder = Block(
        name="decoder",
        params=config.learned_positions * d
        + 2 * d
        + config.decoder_layers * config.decoder_layer_params(),
        flops=config.decoder_layers * config.decoder_layer_flops(s, s)
        + 2.0 * s * d * config.vocab_size,
        activation_bits=float(s * config.vocab_size * activation_bits),
    )
    return ModelProfile(
        name=name,
        family="encoder-decoder",
        description=description,
        source=source,
        input_bits=float(s * TOKEN_ID_BITS),
        blocks=(embeddings, *encoder_blocks, decoder),
        max_split=1 + config.encoder_layers,
        weight_bits=weight_bits,
        activation_bits=activation_bits,
        sequence_length=s,
    )


# ------------------------------------------------------------------------------------------
# Vision transformer
# ------------------------------------------------------------------------------------------


class ViTConfig(InputModel):
    """Hyperparameters of a ViT image classifier (Dosovitskiy et al., 2021)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    patch_size: int = Field(gt=0)
    hidden_size: int = Field(gt=0)
    num_layers: int = Field(gt=0)
    num_heads: int = Field(gt=0)
    ffn_size: int = Field(gt=0)
    num_classes: int = Field(default=1000, gt=0)
    channels: int = Field(default=3, gt=0)


def vit_profile(
    name: str,
    config: ViTConfig,
    *,
    image_size: int = 224,
    activation_bits: int = 32,
    weight_bits: int = 32,
    description: str = "",
    source: str = "",
) -> ModelProfile:
    """Profile ``patch_embed, layer.0..L-1, head`` of a ViT at ``image_size`` pixels.

    The position embedding has ``patches + 1`` rows (the class token), so it scales with the
    image size; the head is the final LayerNorm plus the classifier on the class token.
    """
    if image_size % config.patch_size:
        raise ValueError(
            f"image_size: got {image_size}, expected a multiple of the patch size "
            f"{config.patch_size}"
        )
    d, p = config.hidden_size, config.patch_size
    patches = (image_size // p) ** 2
    tokens = patches + 1
    layer = TransformerConfig(
        kind="encoder",
        vocab_size=1,
        hidden_size=d,
        num_layers=config.num_layers,
        num_heads=config.num_heads,
        ffn_size=config.ffn_size,
    )
    hidden_bits = float(tokens * d * activation_bits)
    patch_weights = p * p * config.channels * d
    blocks = [
        Block(
            name="patch_embed",
            params=patch_weights + d + d + tokens * d,  # conv + bias, class token, positions
            flops=2.0 * patches * patch_weights,
            activation_bits=hidden_bits,
        )
    ]
    blocks += [
        Block(
            name=f"layer.{i}",
            params=layer.layer_params(),
            flops=layer.layer_flops(tokens, tokens),
            activation_bits=hidden_bits,
        )
        for i in range(config.num_layers)
    ]
    blocks.append(
        Block(
            name="head",
            params=2 * d + d * config.num_classes + config.num_classes,
            flops=2.0 * d * config.num_classes,
            activation_bits=float(config.num_classes * activation_bits),
        )
    )
    return ModelProfile(
        name=name,
        family="vision",
        description=description,
        source=source,
        input_bits=float(config.channels * image_size * image_size * PIXEL_BITS),
        blocks=tuple(blocks),
        weight_bits=weight_bits,
        activation_bits=activation_bits,
        image_size=image_size,
    )


# ------------------------------------------------------------------------------------------
# ResNet (bottleneck, torchvision's v1.5 with the stride on the 3x3 convolution)
# ------------------------------------------------------------------------------------------


class ResNetConfig(InputModel):
    """Hyperparameters of a bottleneck ResNet (He et al., 2016; torchvision layout)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stage_blocks: tuple[int, ...] = Field(min_length=1, description="Bottlenecks per stage.")
    base_width: int = Field(default=64, gt=0, description="Width of the first stage.")
    expansion: int = Field(
        default=4, gt=0, description="Output width / inner width of a bottleneck."
    )
    num_classes: int = Field(default=1000, gt=0)
    channels: int = Field(default=3, gt=0)


def _conv_out(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


class _Conv:
    """Accumulates parameters and FLOPs of convolution + batch-norm layers."""

    def __init__(self) -> None:
        self.params = 0
        self.flops = 0.0

    def add(self, c_in: int, c_out: int, kernel: int, out_hw: int) -> None:
        self.params += kernel * kernel * c_in * c_out + 2 * c_out  # weights (no bias) + BN
        self.flops += 2.0 * kernel * kernel * c_in * c_out * out_hw * out_hw


def resnet_profile(
    name: str,
    config: ResNetConfig,
    *,
    image_size: int = 224,
    activation_bits: int = 32,
    weight_bits: int = 32,
    description: str = "",
    source: str = "",
) -> ModelProfile:
    """Profile ``stem, layer{i}.{j} (one block per bottleneck), head`` of a ResNet."""
    stem = _Conv()
    hw = _conv_out(image_size, 7, 2, 3)
    stem.add(config.channels, config.base_width, 7, hw)
    hw = _conv_out(hw, 3, 2, 1)  # max pool
    blocks = [
        Block(
            name="stem",
            params=stem.params,
            flops=stem.flops,
            activation_bits=float(config.base_width * hw * hw * activation_bits),
        )
    ]
    c_in = config.base_width
    for stage, count in enumerate(config.stage_blocks):
        width = config.base_width * 2**stage
        c_out = width * config.expansion
        for j in range(count):
            stride = 2 if (stage > 0 and j == 0) else 1
            out_hw = _conv_out(hw, 3, stride, 1)
            conv = _Conv()
            conv.add(c_in, width, 1, hw)
            conv.add(width, width, 3, out_hw)
            conv.add(width, c_out, 1, out_hw)
            if j == 0:
                conv.add(c_in, c_out, 1, out_hw)  # projection shortcut
            blocks.append(
                Block(
                    name=f"layer{stage + 1}.{j}",
                    params=conv.params,
                    flops=conv.flops,
                    activation_bits=float(c_out * out_hw * out_hw * activation_bits),
                )
            )
            c_in, hw = c_out, out_hw
    blocks.append(
        Block(
            name="head",
            params=c_in * config.num_classes + config.num_classes,
            flops=2.0 * c_in * config.num_classes,
            activation_bits=float(config.num_classes * activation_bits),
        )
    )
    return ModelProfile(
        name=name,
        family="vision",
        description=description,
        source=source,
        input_bits=float(config.channels * image_size * image_size * PIXEL_BITS),
        blocks=tuple(blocks),
        weight_bits=weight_bits,
        activation_bits=activation_bits,
        image_size=image_size,
    )


# ------------------------------------------------------------------------------------------
# The paper's presets: totals spread evenly over the blocks (model document, section 7)
# ------------------------------------------------------------------------------------------


def even_profile(
    name: str,
    *,
    total_params: float,
    total_flops: float,
    num_blocks: int,
    device_side_params: float,
    payload_bits: float,
    input_bits: float | None = None,
    server_tail_blocks: int = 0,
    family: Literal["encoder", "encoder-decoder"] = "encoder",
    weight_bits: int = 32,
    sequence_length: int | None = None,
    description: str = "",
    source: str = "",
) -> ModelProfile:
    """A profile with parameters and FLOPs spread evenly over ``num_blocks`` splittable blocks.

    ``device_side_params`` (the embeddings, with negligible FLOPs) are added to the first block,
    so they sit on the device for every split ``l ≥ 1``. ``server_tail_blocks`` more blocks of
    the same size (e.g. BART's decoder layers) are merged into one final block that always runs
    on the server. Every split ``0 < l < L`` uploads ``payload_bits``; split 0 uploads the raw
    input, ``input_bits`` (default: ``payload_bits`` too).
    """
    layers = num_blocks + server_tail_blocks
    params_per_layer = (total_params - device_side_params) / layers
    flops_per_layer = total_flops / layers
    blocks = [
        Block(
            name=f"block.{i + 1}",
            params=params_per_layer + (device_side_params if i == 0 else 0.0),
            flops=flops_per_layer,
            activation_bits=payload_bits,
        )
        for i in range(num_blocks)
    ]
    if server_tail_blocks:
        blocks.append(
            Block(
                name="decoder",
                params=params_per_layer * server_tail_blocks,
                flops=flops_per_layer * server_tail_blocks,
                activation_bits=payload_bits,
            )
        )
    return ModelProfile(
        name=name,
        family=family,
        description=description,
        source=source,
        input_bits=payload_bits if input_bits is None else input_bits,
        blocks=tuple(blocks),
        max_split=num_blocks if server_tail_blocks else None,
        weight_bits=weight_bits,
        activation_bits=32,
        sequence_length=sequence_length,
    )
