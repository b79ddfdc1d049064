"""Model profiles: a model as a sequence of blocks, and what each split point costs.

A profile lists the model's blocks in execution order. Each block has its parameter count, its
forward FLOPs, and the size of the activation it outputs, which is what the device uploads if
the model is cut right after it. Cutting at split point ``l`` (``0 ≤ l ≤ L``) runs blocks
``1..l`` on the device and ``l+1..L`` on the server:

* ``q(l)``, ``N(l)``: parameters and FLOPs on the device (sums over the first ``l`` blocks);
* ``s(l) = n − q(l)``, ``Ñ(l)``: the same on the server;
* ``θ(l)``: bits uploaded: the raw input for ``l = 0``, block ``l``'s output activation for
  ``0 < l < L``, and nothing for ``l = L`` (fully on device; the result's downlink is separate).

Decoder (generative) models carry a second profile, :attr:`ModelProfile.decode`, for one decode
step at the prompt's context length, and the KV-cache bytes that each token adds per block. Their
blocks also carry :class:`TokenCosts`: how a block's FLOPs and memory traffic grow with the
tokens of one serving step (new tokens, attended positions, sequences), which the step-time
models of :mod:`coinfer.emulator.model.step_time` need for batches of any shape.
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Literal, NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

ModelFamily = Literal["encoder", "decoder", "encoder-decoder", "vision", "custom"]


class SplitTable(NamedTuple):
    """Per-split-point costs as Python lists indexed by split point ``l = 0..L``."""

    device_params: list[float]
    server_params: list[float]
    device_flops: list[float]
    server_flops: list[float]
    payload_bits: list[float]


class TokenCosts(BaseModel):
    """How one block's work grows with the tokens of one serving step (generative models).

    A sequence that processes ``n`` new tokens in a step, with ``c`` tokens already in its KV
    cache, makes the block do

        ``flops_per_token·n + flops_per_token_per_position·n·(c + n) + flops_per_sequence·s``

    FLOPs, where ``s`` is 1 if the sequence emits a token this step (its logits are computed)
    and 0 otherwise. Each new token attends to all ``c + n`` positions: causal masking is not
    discounted, the convention of :mod:`~coinfer.emulator.model.architectures`, so that the
    block's ``flops`` at pass size ``S`` equal ``S·flops_per_token + S²·flops_per_token_per_position
    + flops_per_sequence`` exactly.

    Weights are counted in parameters (the step-time model chooses the bits per weight); the
    bytes of activations are at the profile's activation precision.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    flops_per_token: float = Field(
        ge=0, description="FLOPs per new token that do not depend on the context (matrix products)"
    )
    flops_per_token_per_position: float = Field(
        ge=0, description="FLOPs per new token per attended position (attention scores and values)"
    )
    flops_per_sequence: float = Field(
        ge=0, description="FLOPs per sequence that emits a token (the LM head on its last position)"
    )
    weight_params_per_step: float = Field(
        ge=0,
        description="parameters read once per step whatever the batch (matrices and norms; a "
        "tied LM head reads the embedding matrix), count",
    )
    weight_params_per_token: float = Field(
        default=0.0,
        ge=0,
        description="parameters read once per new token (the rows of an embedding table), count",
    )
    activation_bytes_per_token: float = Field(
        default=0.0,
        ge=0,
        description="activation bytes one new token moves through memory: the block's output "
        "hidden state written once and read once by the next block, B",
    )
    activation_bytes_per_sequence: float = Field(
        default=0.0,
        ge=0,
        description="activation bytes per sequence that emits a token: its logits written once "
        "and read once by sampling, B",
    )

    def flops(self, new_tokens: int, cached_tokens: int, emits_token: bool = True) -> float:
        """FLOPs of this block for one sequence in one step (the formula above)."""
        n, c = float(new_tokens), float(cached_tokens)
        per_sequence = self.flops_per_sequence if emits_token else 0.0
        return (
            self.flops_per_token * n
            + self.flops_per_token_per_position * n * (c + n)
            + (per_sequence)
        )


class Block(BaseModel):
    """One block of a model, in execution order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, description="Block name, e.g. 'layer.3'.")
    params: float = Field(ge=0, description="Parameters in the block (count).")
    flops: float = Field(
        ge=0, description="Forward FLOPs of the block for one pass (1 MAC = 2 FLOPs)."
    )
    activation_bits: float = Field(
        ge=0,
        description="Size of the block's output activation in bits (uploaded if cut after it).",
    )
    kv_cache_bytes_per_token: float = Field(
        default=0.0, ge=0, description="KV-cache bytes this block stores per token (decoders), B."
    )
    token_costs: TokenCosts | None = Field(
        default=None,
        description="How the block's work grows with a serving step's tokens (generative "
        "decoders); needed by the step-time models.",
    )


class ExitHead(BaseModel):
    """An early-exit head after a block: the share of requests that stop there.

    ``probability`` is unconditional: the fraction of all requests that exit at this head
    (the heads' probabilities add up to at most 1; the rest run the whole model). The head's
    own compute (a pooler and a classifier, about ``2·d² + 2·d·classes`` FLOPs for BERT) is
    not counted (docs/early-exit-and-placement.md).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    after_block: int = Field(ge=1, description="the head follows this block (1..L)")
    probability: float = Field(
        ge=0, le=1, description="share of all requests that exit at this head, 1"
    )


class ModelProfile(BaseModel):
    """A model cut into blocks, with everything the reference model needs per split point.

    Arrays indexed by split point ``l = 0..L`` are exposed as read-only numpy arrays
    (:attr:`device_params`, :attr:`device_flops`, :attr:`server_params`, :attr:`server_flops`,
    :attr:`payload_bits`), computed once per profile.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, description="Profile name used in scenarios and on the CLI.")
    family: ModelFamily = Field(description="Architecture family.")
    description: str = Field(default="", description="One line on what the profile is.")
    source: str = Field(default="", description="Where the hyperparameters and totals come from.")
    input_bits: float = Field(
        gt=0, description="Raw input size θ(0) in bits (uploaded at split 0)."
    )
    blocks: tuple[Block, ...] = Field(min_length=1, description="Blocks in execution order.")
    max_split: int | None = Field(
        default=None,
        ge=0,
        description="Largest allowed split point (default: the number of blocks). Blocks after it "
        "always run on the server, e.g. BART's decoder when only the encoder is split.",
    )
    weight_bits: int = Field(
        default=32, gt=0, le=64, description="Storage bits per weight, b of the distortion bound."
    )
    activation_bits: int = Field(
        default=32, gt=0, le=64, description="Bits per activation element used for θ(l)."
    )
    entropy_bits_per_param: float = Field(
        default=-2.70,
        description="Differential entropy of one weight in bits, h/n of the distortion bound "
        "(default: Laplace fit with standard deviation 0.04).",
    )
    sequence_length: int | None = Field(
        default=None, gt=0, description="Tokens per pass (prompt length for decoders)."
    )
    image_size: int | None = Field(default=None, gt=0, description="Image side in pixels (vision).")
    decode: ModelProfile | None = Field(
        default=None,
        description="Profile of one decode step at the prompt's context length (decoders only).",
    )
    exits: tuple[ExitHead, ...] = Field(
        default=(),
        description="Early-exit heads, in block order: after which block, and the share of "
        "requests that stop there (one-pass requests; docs/early-exit-and-placement.md).",
    )

    @model_validator(mode="after")
    def _check_split_and_names(self) -> ModelProfile:
        if self.max_split is not None and self.max_split > len(self.blocks):
            raise ValueError(
                f"max_split {self.max_split} exceeds the number of blocks ({len(self.blocks)})"
            )
        names = [b.name for b in self.blocks]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate block names: {', '.join(duplicates)}")
        if self.decode is not None and len(self.decode.blocks) != len(self.blocks):
            raise ValueError(
                f"decode profile has {len(self.decode.blocks)} blocks, expected {len(self.blocks)}"
            )
        _check_exits(self.exits, len(self.blocks))
        return self

    # ---- totals --------------------------------------------------------------------------

    @cached_property  # read per request by the engine and check_decision: computed once
    def num_blocks(self) -> int:
        """Number of blocks ``L``."""
        return len(self.blocks)

    @cached_property
    def last_split(self) -> int:
        """Largest allowed split point (``L`` unless :attr:`max_split` restricts it)."""
        return self.num_blocks if self.max_split is None else self.max_split

    @cached_property
    def split_points(self) -> np.ndarray:
        """Allowed split points ``0..last_split``."""
        return _frozen(np.arange(self.last_split + 1))

    @cached_property
    def total_params(self) -> float:
        """Total parameter count ``n``."""
        return float(sum(b.params for b in self.blocks))

    @cached_property
    def total_flops(self) -> float:
        """FLOPs of one full forward pass."""
        return float(sum(b.flops for b in self.blocks))

    @cached_property
    def kv_cache_bytes_per_token(self) -> float:
        """KV-cache bytes one token adds across all blocks (0 for non-decoders)."""
        return float(sum(b.kv_cache_bytes_per_token for b in self.blocks))

    # ---- per split point -----------------------------------------------------------------

    @cached_property
    def device_params(self) -> np.ndarray:
        """``q(l)``: parameters on the device for each split point ``l = 0..L``."""
        return _frozen(_prefix_sums([b.params for b in self.blocks]))

    @cached_property
    def server_params(self) -> np.ndarray:
        """``s(l) = n − q(l)``: parameters on the server for each split point."""
        return _frozen(self.total_params - self.device_params)

    @cached_property
    def device_flops(self) -> np.ndarray:
        """``N(l)``: device FLOPs for each split point ``l = 0..L``."""
        return _frozen(_prefix_sums([b.flops for b in self.blocks]))

    @cached_property
    def server_flops(self) -> np.ndarray:
        """``Ñ(l)``: server FLOPs for each split point ``l = 0..L``."""
        return _frozen(np.maximum(self.total_flops - self.device_flops, 0.0))

    @cached_property
    def payload_bits(self) -> np.ndarray:
        """``θ(l)``: bits uploaded per split point (``θ(L) = 0``: nothing leaves the device)."""
        theta = np.array([self.input_bits] + [b.activation_bits for b in self.blocks], dtype=float)
        theta[-1] = 0.0
        return _frozen(theta)

    @cached_property
    def split_table(self) -> SplitTable:
        """The per-split arrays as plain Python lists, for fast scalar lookups per request."""
        return SplitTable(
            device_params=self.device_params.tolist(),
            server_params=self.server_params.tolist(),
            device_flops=self.device_flops.tolist(),
            server_flops=self.server_flops.tolist(),
            payload_bits=self.payload_bits.tolist(),
        )

    # ---- early exit ----------------------------------------------------------------------

    def with_exits(self, exits: tuple[ExitHead, ...]) -> ModelProfile:
        """This profile with the early-exit heads ``exits`` (checked as in the profile)."""
        return ModelProfile.model_validate({**self.model_dump(exclude={"exits"}), "exits": exits})

    def truncated(self, blocks: int) -> ModelProfile:
        """The model cut after block ``blocks`` (``1..L``): what a request that exits there
        runs. Its last block's output is not uploaded (``θ = 0`` at its last split), and it has
        no exits and no decode profile."""
        if not 1 <= blocks <= self.num_blocks:
            raise ValueError(f"blocks: got {blocks}, expected an integer in 1..{self.num_blocks}")
        data = self.model_dump(exclude={"blocks", "max_split", "exits", "decode"})
        return ModelProfile.model_validate({**data, "blocks": self.blocks[:blocks]})

    @cached_property
    def exit_law(self) -> tuple[tuple[int, ...], tuple[float, ...]]:
        """The block a request stops after, and its probability: the heads' blocks, then
        ``L`` (no early exit) with the rest of the probability. Empty without exits."""
        if not self.exits:
            return (), ()
        blocks = (*(head.after_block for head in self.exits), self.num_blocks)
        early = [head.probability for head in self.exits]
        return blocks, (*early, max(0.0, 1.0 - math.fsum(early)))

    @cached_property
    def exit_tables(self) -> dict[int, SplitTable]:
        """The split table of the model truncated after each exit head's block (by block)."""
        return {
            head.after_block: self.truncated(head.after_block).split_table for head in self.exits
        }

    def split_summary(self, split: int) -> dict[str, float]:
        """Device/server parameters and FLOPs and the payload at one split point."""
        self.check_split(split)
        return {
            "split": split,
            "device_params": float(self.device_params[split]),
            "server_params": float(self.server_params[split]),
            "device_flops": float(self.device_flops[split]),
            "server_flops": float(self.server_flops[split]),
            "payload_bits": float(self.payload_bits[split]),
        }

    def check_split(self, split: int) -> None:
        """Raise ``ValueError`` naming the profile if ``split`` is not an allowed split point."""
        if not 0 <= split <= self.last_split:
            raise ValueError(
                f"split: got {split} for model {self.name!r}, expected an integer in "
                f"0..{self.last_split}"
            )


def _check_exits(exits: tuple[ExitHead, ...], num_blocks: int) -> None:
    """Exit heads in increasing block order, inside the model, probabilities adding up to ≤ 1."""
    blocks = [head.after_block for head in exits]
    if any(b > num_blocks for b in blocks):
        raise ValueError(
            f"exits: after_block {max(blocks)} exceeds the number of blocks ({num_blocks})"
        )
    if blocks != sorted(set(blocks)):
        raise ValueError(f"exits: got after_block {blocks}, expected increasing, distinct blocks")
    total = math.fsum(head.probability for head in exits)
    if total > 1.0 + 1e-12:
        raise ValueError(f"exits: probabilities add up to {total:g}, expected at most 1")


def _prefix_sums(values: list[float]) -> np.ndarray:
    return np.concatenate(([0.0], np.cumsum(np.asarray(values, dtype=float))))


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array
