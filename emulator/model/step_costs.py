"""What one serving step asks of one side of a split: the batch, and the side's cost coefficients.

Generative serving advances a batch of sequences by one *step*: each sequence processes ``n``
new tokens (a chunk of its prompt in the prefill phase, one token in the decode phase) on top of
``c`` tokens already in its KV cache. :class:`Batch` holds these per-sequence numbers as numpy
arrays, one entry per sequence.

:class:`SideCosts` sums the :class:`~coinfer.emulator.model.profiles.TokenCosts` of the blocks one
side runs (a split at ``l`` runs blocks ``1..l`` on the device and ``l+1..L`` on the server) into
a handful of coefficients, so that a step's FLOPs and bytes are a few dot products whatever the
batch size:

* FLOPs ``= F_tok·Σn + F_pos·Σn·(c+n) + F_seq·(sequences that emit a token)``, kept apart by phase
  because prefill and decode reach different fractions of the peak;
* bytes ``= W_step + W_tok·Σn + kv·(Σ(c+n) + Σn) + a_tok·Σn + a_seq·(emitting sequences)``:
  every weight read once per step (embedding rows once per token), the KV cache of every attended
  position read once and the new tokens' keys and values written once, activations written and
  read once.

SI units: FLOPs, bytes, seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from coinfer.emulator.model.profiles import ModelProfile

Side = Literal["device", "server"]
BatchPhase = Literal["idle", "prefill", "decode"]


def _token_counts(name: str, values: np.ndarray) -> np.ndarray:
    """``values`` as a fresh 1-D int64 array; non-whole numbers are refused."""
    array = np.array(values, ndmin=1)
    if array.dtype.kind == "f" and not np.array_equal(array, np.floor(array)):
        raise ValueError(f"{name}: got {array.tolist()}, expected whole numbers of tokens")
    if array.dtype.kind not in "iuf":
        raise ValueError(f"{name}: got {array.tolist()}, expected numbers of tokens")
    return array.astype(np.int64)


@dataclass(frozen=True)
class Batch:
    """The sequences of one serving step, one array entry per sequence.

    Build it with :meth:`of`, :meth:`decode`, :meth:`prefill` and :meth:`concat`; the arrays are
    read-only once built.
    """

    new_tokens: np.ndarray
    """Tokens each sequence processes this step, ``n ≥ 1`` (int64)."""
    cached_tokens: np.ndarray
    """Tokens already in each sequence's KV cache before this step, ``c ≥ 0`` (int64)."""
    is_prefill: np.ndarray
    """True for a sequence in its prefill phase (a prompt chunk), False for a decode (bool)."""
    emits_token: np.ndarray
    """True if the sequence samples a token this step: every decode, and the last chunk of a
    prompt; a non-final chunk computes no logits (bool)."""

    def __post_init__(self) -> None:
        set_field = object.__setattr__
        set_field(self, "new_tokens", _token_counts("new_tokens", self.new_tokens))
        set_field(self, "cached_tokens", _token_counts("cached_tokens", self.cached_tokens))
        set_field(self, "is_prefill", np.array(self.is_prefill, dtype=bool, ndmin=1))
        set_field(self, "emits_token", np.array(self.emits_token, dtype=bool, ndmin=1))
        arrays = (self.new_tokens, self.cached_tokens, self.is_prefill, self.emits_token)
        if len({a.shape for a in arrays}) != 1 or self.new_tokens.ndim != 1:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise ValueError(
                f"batch arrays (new_tokens, cached_tokens, is_prefill, emits_token): got shapes "
                f"{shapes}, expected four equal 1-D shapes"
            )
        if self.new_tokens.size and self.new_tokens.min() < 1:
            raise ValueError(
                f"new_tokens: got {self.new_tokens.min()}, expected at least 1 per sequence"
            )
        if self.cached_tokens.size and self.cached_tokens.min() < 0:
            raise ValueError(f"cached_tokens: got {self.cached_tokens.min()}, expected ≥ 0")
        for array in arrays:
            array.setflags(write=False)

    # ---- construction ----------------------------------------------------------------------

    @classmethod
    def of(
        cls,
        new_tokens: ArrayLike,
        cached_tokens: ArrayLike,
        is_prefill: ArrayLike,
        emits_token: ArrayLike = True,
    ) -> Batch:
        """A batch from per-sequence values; scalars broadcast (``emits_token``: all, default)."""
        values = [np.asarray(v) for v in (new_tokens, cached_tokens, is_prefill, emits_token)]
        lengths = {v.size for v in values if v.ndim}
        if len(lengths) > 1:
            shapes = ", ".join(str(v.shape) for v in values)
            raise ValueError(
                f"batch arrays (new_tokens, cached_tokens, is_prefill, emits_token): got shapes "
                f"{shapes}, expected equal lengths or scalars"
            )
        size = lengths.pop() if lengths else 1
        new, cached, prefill, emits = (v if v.ndim else np.full(size, v) for v in values)
        return cls(new_tokens=new, cached_tokens=cached, is_prefill=prefill, emits_token=emits)

    @classmethod
    def decode(cls, cached_tokens: ArrayLike) -> Batch:
        """One decode per entry of ``cached_tokens``: one new token each, each emits a token."""
        return cls.of(1, cached_tokens, False)

    @classmethod
    def prefill(
        cls,
        prompt_tokens: ArrayLike,
        cached_tokens: ArrayLike = 0,
        emits_token: ArrayLike = True,
    ) -> Batch:
        """Prompt chunks of ``prompt_tokens`` new tokens after ``cached_tokens`` earlier ones.

        ``emits_token`` is True for a prompt's last chunk (the default: whole prompts).
        """
        return cls.of(prompt_tokens, cached_tokens, True, emits_token)

    @classmethod
    def concat(cls, *batches: Batch) -> Batch:
        """One batch holding the sequences of ``batches`` in order (e.g. chunks plus decodes)."""
        if not batches:
            return cls.of(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), False)
        return cls(
            new_tokens=np.concatenate([b.new_tokens for b in batches]),
            cached_tokens=np.concatenate([b.cached_tokens for b in batches]),
            is_prefill=np.concatenate([b.is_prefill for b in batches]),
            emits_token=np.concatenate([b.emits_token for b in batches]),
        )

    # ---- summaries -------------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Number of sequences in the batch."""
        return int(self.new_tokens.size)

    @property
    def phase(self) -> BatchPhase:
        """``prefill`` if any sequence prefills, ``decode`` if all decode, ``idle`` if empty."""
        if self.size == 0:
            return "idle"
        return "prefill" if bool(self.is_prefill.any()) else "decode"

    def sums(self) -> BatchSums:
        """The per-phase sums every cost model needs (see :class:`BatchSums`); computed once."""
        return self._sums

    @cached_property
    def _sums(self) -> BatchSums:
        phase = self.is_prefill.astype(np.intp)  # 0 decode, 1 prefill: bins of bincount
        n, c = self.new_tokens, self.cached_tokens

        def by_phase(weights: np.ndarray | None) -> tuple[float, float]:
            decode, prefill = np.bincount(phase, weights=weights, minlength=2).tolist()
            return float(prefill), float(decode)

        tokens = by_phase(n)
        positions = by_phase(n * (c + n))
        emitting = by_phase(self.emits_token)
        cached = by_phase(c)
        sequences = by_phase(None)
        return BatchSums(
            prefill_tokens=tokens[0],
            decode_tokens=tokens[1],
            prefill_positions=positions[0],
            decode_positions=positions[1],
            prefill_emitting=emitting[0],
            decode_emitting=emitting[1],
            prefill_cached_tokens=cached[0],
            decode_cached_tokens=cached[1],
            prefill_sequences=sequences[0],
            decode_sequences=sequences[1],
        )

    def kept_sums(self, kept: ArrayLike) -> BatchSums:
        """The sums of :meth:`sums` with the new tokens and the emitting sequences weighted by
        each sequence's kept fraction ``kept`` (the other fields unweighted): what the
        parameter-proportional FLOPs of a step of pruned sequences are counted on
        (:meth:`SideCosts.flops_by_phase_nested`)."""
        weights = np.broadcast_to(np.asarray(kept, dtype=float), self.new_tokens.shape)
        phase = self.is_prefill.astype(np.intp)

        def by_phase(values: np.ndarray) -> tuple[float, float]:
            decode, prefill = np.bincount(phase, weights=values, minlength=2).tolist()
            return float(prefill), float(decode)

        tokens = by_phase(weights * self.new_tokens)
        emitting = by_phase(weights * self.emits_token)
        return self.sums()._replace(
            prefill_tokens=tokens[0],
            decode_tokens=tokens[1],
            prefill_emitting=emitting[0],
            decode_emitting=emitting[1],
        )


class BatchSums(NamedTuple):
    """Sums over a batch's sequences, split by phase (all counts, as floats).

    ``*_tokens`` is ``Σn`` (new tokens), ``*_positions`` is ``Σn·(c+n)`` (query-key pairs of
    attention), ``*_emitting`` counts sequences that sample a token, ``*_cached_tokens`` is
    ``Σc`` and ``*_sequences`` counts sequences.
    """

    prefill_tokens: float
    decode_tokens: float
    prefill_positions: float
    decode_positions: float
    prefill_emitting: float
    decode_emitting: float
    prefill_cached_tokens: float
    decode_cached_tokens: float
    prefill_sequences: float
    decode_sequences: float

    @property
    def tokens(self) -> float:
        """All new tokens of the step, ``Σn``."""
        return self.prefill_tokens + self.decode_tokens

    @property
    def attended_positions(self) -> float:
        """Positions whose keys and values the step reads, ``Σ(c + n)``."""
        return self.tokens + self.prefill_cached_tokens + self.decode_cached_tokens

    @property
    def emitting(self) -> float:
        """Sequences that sample a token this step."""
        return self.prefill_emitting + self.decode_emitting


class MemoryTraffic(NamedTuple):
    """Bytes one step moves between memory and the chip, by kind."""

    weight_bytes: float
    kv_cache_bytes: float
    activation_bytes: float

    @property
    def total_bytes(self) -> float:
        """All bytes moved in the step."""
        return self.weight_bytes + self.kv_cache_bytes + self.activation_bytes


@dataclass(frozen=True, slots=True)
class SideCosts:
    """Per-step cost coefficients of the blocks ``first_block ≤ i < stop_block`` of a profile.

    Build it with :meth:`for_split` (one side of a split point) or :meth:`of_blocks` (any run of
    blocks). Weights are counted at ``weight_bits`` per parameter (default: the profile's); the
    KV cache and activations at the profile's activation precision.
    """

    profile_name: str
    first_block: int
    stop_block: int
    weight_bits: int
    flops_per_token: float
    """FLOPs per new token independent of context (matrix products), summed over the blocks."""
    flops_per_token_per_position: float
    """FLOPs per new token per attended position (attention), summed over the blocks."""
    flops_per_sequence: float
    """FLOPs per sequence that emits a token (the LM head, if on this side)."""
    weight_bytes_per_step: float
    """Weight bytes read once per step whatever the batch, B."""
    weight_bytes_per_token: float
    """Weight bytes read per new token (embedding rows), B."""
    kv_bytes_per_token: float
    """KV-cache bytes one token occupies in this side's layers, B."""
    activation_bytes_per_token: float
    """Activation bytes one new token moves through this side's blocks, B."""
    activation_bytes_per_sequence: float
    """Activation bytes per emitting sequence (logits), B."""
    resident_weight_bytes: float
    """Bytes of the parameters held in memory (each parameter once), B."""

    @property
    def num_blocks(self) -> int:
        """Blocks this side runs in every step."""
        return self.stop_block - self.first_block

    @classmethod
    def of_blocks(
        cls,
        profile: ModelProfile,
        first_block: int,
        stop_block: int,
        weight_bits: int | None = None,
    ) -> SideCosts:
        """Coefficients of ``profile.blocks[first_block:stop_block]`` (0-based, stop excluded).

        Every block in the range must carry token costs (decoder profiles do); otherwise a
        ``ValueError`` names the profile and the block.
        """
        if not 0 <= first_block <= stop_block <= profile.num_blocks:
            raise ValueError(
                f"blocks: got {first_block}..{stop_block} for model {profile.name!r}, expected "
                f"0 ≤ first ≤ stop ≤ {profile.num_blocks}"
            )
        bits = profile.weight_bits if weight_bits is None else weight_bits
        if not 1 <= bits <= 64:
            raise ValueError(f"weight_bits: got {bits}, expected an integer in 1..64")
        bytes_per_weight = bits / 8.0
        totals = np.zeros(7)
        resident_params = 0.0
        kv = 0.0
        for block in profile.blocks[first_block:stop_block]:
            costs = block.token_costs
            if costs is None:
                raise ValueError(
                    f"model {profile.name!r} block {block.name!r} has no token costs; the "
                    "step-time models need a generative (decoder) profile"
                )
            totals += (
                costs.flops_per_token,
                costs.flops_per_token_per_position,
                costs.flops_per_sequence,
                costs.weight_params_per_step,
                costs.weight_params_per_token,
                costs.activation_bytes_per_token,
                costs.activation_bytes_per_sequence,
            )
            resident_params += block.params
            kv += block.kv_cache_bytes_per_token
        return cls(
            profile_name=profile.name,
            first_block=first_block,
            stop_block=stop_block,
            weight_bits=bits,
            flops_per_token=float(totals[0]),
            flops_per_token_per_position=float(totals[1]),
            flops_per_sequence=float(totals[2]),
            weight_bytes_per_step=float(totals[3]) * bytes_per_weight,
            weight_bytes_per_token=float(totals[4]) * bytes_per_weight,
            kv_bytes_per_token=kv,
            activation_bytes_per_token=float(totals[5]),
            activation_bytes_per_sequence=float(totals[6]),
            resident_weight_bytes=resident_params * bytes_per_weight,
        )

    @classmethod
    def for_split(
        cls, profile: ModelProfile, split: int, side: Side, weight_bits: int | None = None
    ) -> SideCosts:
        """The side ``side`` of split point ``split``: the device runs blocks ``1..split``, the
        server ``split+1..L`` (1-based, as in ``docs/reference-model.md``)."""
        profile.check_split(split)
        if side == "device":
            return cls.of_blocks(profile, 0, split, weight_bits)
        if side == "server":
            return cls.of_blocks(profile, split, profile.num_blocks, weight_bits)
        raise ValueError(f"side: got {side!r}, expected 'device' or 'server'")

    # ---- one step ----------------------------------------------------------------------------

    def flops_by_phase(self, sums: BatchSums) -> tuple[float, float]:
        """``(prefill FLOPs, decode FLOPs)`` of one step of the batch summarised by ``sums``."""
        prefill = (
            self.flops_per_token * sums.prefill_tokens
            + self.flops_per_token_per_position * sums.prefill_positions
            + self.flops_per_sequence * sums.prefill_emitting
        )
        decode = (
            self.flops_per_token * sums.decode_tokens
            + self.flops_per_token_per_position * sums.decode_positions
            + self.flops_per_sequence * sums.decode_emitting
        )
        return prefill, decode

    def pruned(self, kept: float) -> SideCosts:
        """This side with a fraction ``kept`` (ρ ∈ [0, 1]) of its parameters kept.

        Pruning removes parameters (the widths of the matrix products, as a nested sub-network
        keeps a prefix of each), so what is proportional to the parameters scales by ``kept``:
        the matrix-product and LM-head FLOPs, the weight bytes read per step and per token, and
        the resident weights. The attention over cached positions, the KV cache of a token and
        the activations keep their size. ``kept == 1`` returns this very object (unchanged to
        the bit).
        """
        if kept == 1.0:
            return self
        if not 0.0 <= kept <= 1.0:
            raise ValueError(f"kept: got {kept!r}, expected a kept fraction in [0, 1]")
        return replace(
            self,
            flops_per_token=self.flops_per_token * kept,
            flops_per_sequence=self.flops_per_sequence * kept,
            weight_bytes_per_step=self.weight_bytes_per_step * kept,
            weight_bytes_per_token=self.weight_bytes_per_token * kept,
            resident_weight_bytes=self.resident_weight_bytes * kept,
        )

    def flops_by_phase_nested(self, sums: BatchSums, kept_sums: BatchSums) -> tuple[float, float]:
        """``(prefill FLOPs, decode FLOPs)`` of a step whose sequences each keep their own
        fraction of this side's parameters: the parameter-proportional terms counted on
        ``kept_sums`` (:meth:`Batch.kept_sums`), the attention on ``sums``."""
        prefill = (
            self.flops_per_token * kept_sums.prefill_tokens
            + self.flops_per_token_per_position * sums.prefill_positions
            + self.flops_per_sequence * kept_sums.prefill_emitting
        )
        decode = (
            self.flops_per_token * kept_sums.decode_tokens
            + self.flops_per_token_per_position * sums.decode_positions
            + self.flops_per_sequence * kept_sums.decode_emitting
        )
        return prefill, decode

    def memory_traffic(self, sums: BatchSums) -> MemoryTraffic:
        """Bytes one step moves: weights, KV cache (read all attended positions, write the new
        tokens) and activations."""
        return MemoryTraffic(
            weight_bytes=self.weight_bytes_per_step + self.weight_bytes_per_token * sums.tokens,
            kv_cache_bytes=self.kv_bytes_per_token * (sums.attended_positions + sums.tokens),
            activation_bytes=self.activation_bytes_per_token * sums.tokens
            + self.activation_bytes_per_sequence * sums.emitting,
        )

    def kv_cache_bytes(self, tokens: ArrayLike) -> float | np.ndarray:
        """KV-cache bytes ``tokens`` cached tokens occupy in this side's layers, B."""
        return self.kv_bytes_per_token * np.asarray(tokens, dtype=float)
