"""KV-cache memory: how many paged KV blocks a server holds, and whether a side fits at all.

A serving engine keeps every cached token's keys and values, in every layer it runs, in memory
beside the weights. vLLM (Kwon et al., SOSP 2023) pages the cache in blocks of
``block_size_tokens`` tokens and sizes the pool once, at start-up::

    blocks = floor((memory · utilisation − weight bytes − activation reserve) / bytes per block)
    bytes per block = block_size_tokens · kv_bytes_per_token(this side's layers)

where ``utilisation`` is the fraction of the memory the engine may take and the activation
reserve is the peak activation memory of a forward pass (vLLM measures it by profiling one pass
at the largest batch). A device running its side of a split for its own request needs its
weights plus the KV cache of its layers for the prompt and every output token.

Only the layers of the side count: a split at ``l`` puts the KV cache of layers ``1..l`` on the
device and of ``l+1..L`` on the server (:attr:`SideCosts.kv_bytes_per_token`). SI units: bytes.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from coinfer.emulator.model.hardware_spec import HardwareSpec
from coinfer.emulator.model.step_costs import SideCosts

#: vLLM's default ``gpu_memory_utilization`` (vLLM engine arguments, docs.vllm.ai).
VLLM_MEMORY_UTILISATION = 0.9
#: vLLM's default ``block_size`` on CUDA, tokens per KV block (vLLM engine arguments).
VLLM_BLOCK_SIZE_TOKENS = 16


def kv_cache_blocks(
    memory_bytes: ArrayLike,
    weight_bytes: ArrayLike,
    bytes_per_block: ArrayLike,
    memory_utilisation: ArrayLike = VLLM_MEMORY_UTILISATION,
    activation_reserve_bytes: ArrayLike = 0.0,
) -> np.ndarray:
    """KV blocks that fit: ``floor((M·u − W − R) / b)``, never below 0; arguments broadcast."""
    free = (
        np.asarray(memory_bytes, dtype=float) * np.asarray(memory_utilisation, dtype=float)
        - np.asarray(weight_bytes, dtype=float)
        - np.asarray(activation_reserve_bytes, dtype=float)
    )
    blocks = np.floor(np.maximum(free, 0.0) / np.asarray(bytes_per_block, dtype=float))
    return np.asarray(blocks.astype(np.int64))


def kv_block_bytes(side: SideCosts, block_size_tokens: int = VLLM_BLOCK_SIZE_TOKENS) -> float:
    """Bytes of one KV block of ``block_size_tokens`` tokens in ``side``'s layers."""
    _check_block_size(block_size_tokens)
    return side.kv_bytes_per_token * block_size_tokens


def kv_blocks_available(
    side: SideCosts,
    hardware: HardwareSpec,
    *,
    block_size_tokens: int = VLLM_BLOCK_SIZE_TOKENS,
    memory_utilisation: float = VLLM_MEMORY_UTILISATION,
    activation_reserve_bytes: float = 0.0,
) -> int:
    """KV blocks ``hardware`` holds for ``side`` after its weights and the activation reserve.

    Defaults are vLLM's (16-token blocks, 90 % of the memory). A side without attention layers
    stores no KV cache and raises ``ValueError``.
    """
    if not 0.0 < memory_utilisation <= 1.0:
        raise ValueError(f"memory_utilisation: got {memory_utilisation}, expected in (0, 1]")
    if activation_reserve_bytes < 0:
        raise ValueError(f"activation_reserve_bytes: got {activation_reserve_bytes}, expected ≥ 0")
    if side.kv_bytes_per_token <= 0:
        raise ValueError(
            f"blocks {side.first_block}..{side.stop_block} of model {side.profile_name!r} store "
            "no KV cache; expected a side with attention layers"
        )
    return int(
        kv_cache_blocks(
            hardware.memory_bytes,
            side.resident_weight_bytes,
            kv_block_bytes(side, block_size_tokens),
            memory_utilisation,
            activation_reserve_bytes,
        )
    )


def side_memory_bytes(
    side: SideCosts, cached_tokens: int, sequences: int = 1, block_size_tokens: int = 1
) -> float:
    """Weights plus the KV cache of ``sequences`` sequences of ``cached_tokens`` tokens, B.

    With ``block_size_tokens > 1`` each sequence's cache is rounded up to whole blocks (paged).
    """
    _check_block_size(block_size_tokens)
    if cached_tokens < 0 or sequences < 0:
        raise ValueError(
            f"cached_tokens, sequences: got {cached_tokens}, {sequences}, expected both ≥ 0"
        )
    blocks = math.ceil(cached_tokens / block_size_tokens)
    return side.resident_weight_bytes + sequences * blocks * kv_block_bytes(side, block_size_tokens)


def side_fits(
    side: SideCosts,
    hardware: HardwareSpec,
    prompt_tokens: int,
    output_tokens: int,
    *,
    sequences: int = 1,
    memory_utilisation: float = 1.0,
    activation_reserve_bytes: float = 0.0,
    block_size_tokens: int = 1,
) -> bool:
    """Whether ``side``'s weights and the KV cache of its layers for ``prompt_tokens +
    output_tokens`` tokens (per sequence) fit in ``memory_utilisation`` of ``hardware``'s memory.

    The default is a device serving its own request: one sequence, the whole memory, no paging.
    Counting the last output token's keys and values (never needed) keeps the check on the
    safe side by one token.
    """
    if not 0.0 < memory_utilisation <= 1.0:
        raise ValueError(f"memory_utilisation: got {memory_utilisation}, expected in (0, 1]")
    needed = side_memory_bytes(side, prompt_tokens + output_tokens, sequences, block_size_tokens)
    return needed + activation_reserve_bytes <= hardware.memory_bytes * memory_utilisation


def _check_block_size(block_size_tokens: int) -> None:
    if block_size_tokens < 1:
        raise ValueError(f"block_size_tokens: got {block_size_tokens}, expected ≥ 1")
