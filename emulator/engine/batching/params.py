"""The parameters of an iteration-level batching scheduler, with units, ranges and help text.

One declaration serves validation, documentation and (later) the scenario schema: every field
names its unit and its range, and a bad value is refused with a message naming the field. The
defaults follow vLLM's (block size 16, 256 sequences, 1 % watermark).
"""

from __future__ import annotations

from typing import Self

from pydantic import ConfigDict, Field, model_validator

from coinfer.emulator.inputs import InputModel


class BatchLimits(InputModel):
    """The batch limits and KV-block size a user sets for the ``vllm``, ``sarathi`` and ``orca``
    schedulers (each uses the fields its docstring names); the ``continuous-batching`` server
    discipline takes them as its own parameters."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    block_size_tokens: int = Field(
        default=16,
        ge=1,
        le=65_536,
        description="tokens held by one KV-cache block (vLLM's block_size), tokens",
    )
    max_batched_tokens: int = Field(
        default=2048,
        ge=1,
        le=2**40,
        description="most tokens processed in one step: prompt or chunk tokens plus one per "
        "decode (vLLM's max_num_batched_tokens, Sarathi's token budget), tokens",
    )
    max_sequences: int = Field(
        default=256,
        ge=1,
        le=2**31,
        description="most sequences running at once, hence in one batch (vLLM's max_num_seqs)",
    )
    watermark: float = Field(
        default=0.01,
        ge=0.0,
        lt=1.0,
        description="fraction of the pool a new or restarted sequence must leave free when it "
        "is admitted (vllm, sarathi), dimensionless in [0, 1)",
    )
    chunk_size_tokens: int = Field(
        default=512,
        ge=1,
        le=2**40,
        description="most prompt tokens of one sequence prefilled in one step (sarathi), tokens",
    )

    @model_validator(mode="after")
    def _decodes_fit_the_token_budget(self) -> Self:
        if self.max_sequences > self.max_batched_tokens:
            raise ValueError(
                f"max_sequences = {self.max_sequences} decodes would not fit in "
                f"max_batched_tokens = {self.max_batched_tokens}; expected "
                "max_sequences <= max_batched_tokens"
            )
        return self


class BatchingParams(BatchLimits):
    """A scheduler's parameters: the :class:`BatchLimits` and the size of the KV-cache pool."""

    num_kv_blocks: int = Field(
        ge=1,
        le=2**40,
        description="KV-cache blocks in the server's pool (computed outside from the memory "
        "left after the weights), blocks",
    )

    @property
    def watermark_blocks(self) -> int:
        """Blocks an admission must leave free: ``int(watermark · num_kv_blocks)`` (as vLLM)."""
        return int(self.watermark * self.num_kv_blocks)
