"""Step-time models of generative serving: how long one batched step takes, and its energy.

A serving engine (vLLM, Sarathi, Orca) advances a batch of sequences by one step per iteration;
:class:`~coinfer.emulator.model.step_costs.Batch` describes the step, and
:class:`~coinfer.emulator.model.step_costs.SideCosts` the blocks this side runs. A step-time model
turns both, with a :class:`~coinfer.emulator.model.hardware_spec.HardwareSpec`, into a duration:

* ``roofline`` (default, :class:`RooflineStepTime`): the larger of the compute time and the
  memory time, plus overheads::

      T = max(F_prefill/(P·mfu_prefill) + F_decode/(P·mfu_decode), bytes/(BW·bw_efficiency))
          + step_overhead + layer_overhead·blocks

  with ``P`` the peak FLOP/s (``f_max·c``) and ``BW`` the data-sheet memory bandwidth;
* ``table`` (:class:`TableStepTime`): interpolation in a CSV of measured step times versus the
  step's tokens and context (a user's own profiling);
* ``fitted`` (:class:`FittedStepTime`): DistServe's regression, ``a + b·Σℓ + c·Σℓ²`` for prefill
  and ``a' + b'·Σctx + c'·B`` for decode.

Every model is a small class with a ``name``, typed pydantic ``Params`` and a
:meth:`~StepTimeModelBase.breakdown` method; :data:`STEP_TIME_MODELS` maps names to classes and
:func:`make_step_time_model` builds one by name (a plain dict for now; it moves onto the generic
plug-in registry when the engine is wired). ``docs/step-time.md`` explains the models, the
sources of every calibration constant, and when the step energy (:func:`step_energy_j`) replaces
the paper's ``η·φ·f²`` model.

SI units: seconds, FLOPs, bytes, watts, joules.
"""

from __future__ import annotations

import csv
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import (
    Any,
    ClassVar,
    Literal,
    NamedTuple,
    Protocol,
    Self,
    TypeVar,
    runtime_checkable,
)

import numpy as np
from numpy.typing import ArrayLike
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from coinfer.emulator.errors import InputError, input_error_from_validation, unknown_name_error
from coinfer.emulator.inputs import InputModel
from coinfer.emulator.model.hardware_spec import HardwareSpec
from coinfer.emulator.model.step_costs import Batch, BatchSums, SideCosts
from coinfer.emulator.text_files import read_text_lines

Phase = Literal["prefill", "decode"]
Num = TypeVar("Num", float, np.ndarray)


class StepTime(NamedTuple):
    """One step's duration and, where the model separates them, its parts (s).

    ``total_s = max(compute_s, memory_s) + overhead_s`` for the roofline; the empirical models
    (table, fitted) do not separate compute from memory and report ``None`` for both.
    """

    total_s: float
    compute_s: float | None
    memory_s: float | None
    overhead_s: float


ZERO_STEP = StepTime(total_s=0.0, compute_s=0.0, memory_s=0.0, overhead_s=0.0)


@runtime_checkable
class StepTimeModel(Protocol):
    """What the engine needs of a step-time model (any object with these methods will do)."""

    def step_time_s(self, batch: Batch, side: SideCosts, hardware: HardwareSpec) -> float:
        """Duration of one step of ``batch`` on ``side`` of the split, on ``hardware``, s."""
        ...

    def breakdown(self, batch: Batch, side: SideCosts, hardware: HardwareSpec) -> StepTime:
        """The step's duration with its compute, memory and overhead parts, s."""
        ...


class StepTimeModelBase(ABC):
    """Base of the built-in step-time models: a name, typed parameters, construction by name.

    Subclasses set ``name``, ``summary`` and ``Params`` (a frozen pydantic model whose fields
    carry their description) and implement :meth:`breakdown`. An empty batch, or a side that
    runs no block, takes no time (no step runs).
    """

    name: ClassVar[str]
    summary: ClassVar[str] = ""
    Params: ClassVar[type[BaseModel]]
    #: Whether the model times a step of the whole model whatever blocks a side runs (measured
    #: models: a table or a fit of whole-model steps); the engine then gives a side that runs
    #: part of the blocks the share of the step the roofline gives those blocks.
    times_whole_model: ClassVar[bool] = False

    @classmethod
    def from_params(cls, params: Mapping[str, Any] | None = None) -> Self:
        """Validate ``params`` against :attr:`Params` and build the model.

        Bad parameters raise :class:`~coinfer.emulator.errors.InputError` naming the field.
        """
        try:
            typed = cls.Params.model_validate(dict(params or {}))
        except ValidationError as err:
            raise input_error_from_validation(
                err, f"parameters of step-time model {cls.name!r}", model=cls.Params
            ) from None
        return cls._build(typed)

    @classmethod
    def _build(cls, params: Any) -> Self:
        return cls(params)

    def __init__(self, params: BaseModel) -> None:
        self.params = params

    def step_time_s(self, batch: Batch, side: SideCosts, hardware: HardwareSpec) -> float:
        """Duration of one step, s (the ``total_s`` of :meth:`breakdown`)."""
        return self.breakdown(batch, side, hardware).total_s

    def step_time_from_sums_s(
        self, sums: BatchSums, side: SideCosts, hardware: HardwareSpec
    ) -> float | None:
        """Duration of a step given only its sums (:meth:`Batch.sums`), s; the same number as
        :meth:`step_time_s` of any batch with these sums. None when the model needs more of the
        batch than its sums (then call :meth:`step_time_s`). A server runs many steps: this
        spares building a :class:`Batch` for each."""
        return None

    def solo_step_times_s(
        self,
        new_tokens: ArrayLike,
        cached_tokens: ArrayLike,
        is_prefill: ArrayLike,
        side: SideCosts,
        hardware: HardwareSpec,
        clock_fraction: float = 1.0,
    ) -> np.ndarray:
        """Durations of many steps of one sequence each, s: step ``k`` processes
        ``new_tokens[k]`` tokens over ``cached_tokens[k]`` cached ones and emits a token (a whole
        prompt, or a decode). Each equals :meth:`step_time_s` of that one-sequence batch
        exactly; a device generating alone runs such steps, one after the other.

        ``clock_fraction`` (``f/f_max`` ∈ (0, 1]): the chip's clock below its top; only a model
        that separates compute from memory (the roofline) follows it, the others refuse any
        value but 1 (a ``ValueError``).
        """
        if clock_fraction != 1.0:
            raise ValueError(
                f"step-time model {self.name!r}: clock_fraction got {clock_fraction!r}, "
                "expected 1 (measured step times are at the top clock)"
            )
        n, c, prefill = np.broadcast_arrays(
            np.asarray(new_tokens), np.asarray(cached_tokens), np.asarray(is_prefill)
        )
        return np.array(
            [
                self.step_time_s(Batch.of([a], [b], [bool(p)]), side, hardware)
                for a, b, p in zip(n.tolist(), c.tolist(), prefill.tolist(), strict=True)
            ],
            dtype=float,
        )

    def nested_step_time_s(
        self, batch: Batch, kept: np.ndarray, side: SideCosts, hardware: HardwareSpec
    ) -> float:
        """Duration of a step whose sequences keep their own fractions ``kept`` (one per
        sequence) of ``side``'s parameters, as nested sub-networks (each a prefix of the widest),
        s. A model that does not count FLOPs and bytes (table, fitted) times the step of the
        widest member (measured steps of the full model: unchanged by pruning); the roofline
        overrides this."""
        return self.step_time_s(batch, side.pruned(float(np.max(kept))), hardware)

    @abstractmethod
    def breakdown(self, batch: Batch, side: SideCosts, hardware: HardwareSpec) -> StepTime:
        """The step's duration and its parts, s."""


# --------------------------------------------------------------------------------------------
# Roofline
# --------------------------------------------------------------------------------------------


def _roofline_parts(
    prefill_flops: Num,
    decode_flops: Num,
    bytes_moved: Num,
    peak: Num,
    mfu_p: Num,
    mfu_d: Num,
    bandwidth: Num,
    eff: Num,
) -> tuple[Num, Num]:
    """``(compute_s, memory_s)``: the formula, written once, for floats or numpy arrays."""
    compute = prefill_flops / (peak * mfu_p) + decode_flops / (peak * mfu_d)
    return compute, bytes_moved / (bandwidth * eff)


def roofline_step_time_s(
    prefill_flops: ArrayLike,
    decode_flops: ArrayLike,
    bytes_moved: ArrayLike,
    peak_flops_per_s: ArrayLike,
    mfu_prefill: ArrayLike,
    mfu_decode: ArrayLike,
    bandwidth_bytes_per_s: ArrayLike,
    bandwidth_efficiency: ArrayLike,
    overhead_s: ArrayLike = 0.0,
) -> np.ndarray:
    """Roofline step time ``max(compute, memory) + overhead`` in s; arguments broadcast.

    ``compute = F_prefill/(P·mfu_prefill) + F_decode/(P·mfu_decode)``: each phase's FLOPs at
    the fraction of the peak ``P`` (FLOP/s) that phase reaches; ``memory = bytes/(BW·η_BW)``
    with ``BW`` the data-sheet bandwidth (B/s) and ``η_BW`` the bandwidth efficiency. For many
    candidate steps at once (a scheduler weighing batch compositions): pass arrays.
    """
    compute, memory = _roofline_parts(
        *(
            np.asarray(x, dtype=float)
            for x in (
                prefill_flops,
                decode_flops,
                bytes_moved,
                peak_flops_per_s,
                mfu_prefill,
                mfu_decode,
                bandwidth_bytes_per_s,
                bandwidth_efficiency,
            )
        )
    )
    return np.asarray(np.maximum(compute, memory) + np.asarray(overhead_s, dtype=float))


class RooflineCalibration(NamedTuple):
    """The efficiencies and overheads the roofline uses on one hardware class."""

    mfu_prefill: float
    mfu_decode: float
    bandwidth_efficiency: float
    step_overhead_s: float
    layer_overhead_s: float


class RooflineParams(InputModel):
    """Optional overrides of the hardware's calibration (None: the hardware class's value)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mfu_prefill: float | None = Field(
        default=None, gt=0, le=1, description="model FLOPs utilisation of prefill work, (0, 1]"
    )
    mfu_decode: float | None = Field(
        default=None, gt=0, le=1, description="model FLOPs utilisation of decode work, (0, 1]"
    )
    bandwidth_efficiency: float | None = Field(
        default=None, gt=0, le=1, description="achieved / data-sheet memory bandwidth, (0, 1]"
    )
    step_overhead_s: float | None = Field(default=None, ge=0, description="fixed time per step, s")
    layer_overhead_s: float | None = Field(
        default=None, ge=0, description="fixed time per block run in a step, s"
    )


class RooflineStepTime(StepTimeModelBase):
    """``max(compute, memory) + overheads`` from the side's FLOPs and bytes (module docstring).

    The efficiencies and overheads come from the hardware class
    (:class:`~coinfer.emulator.model.hardware_spec.HardwareSpec`), unless ``Params`` overrides
    them. Compute runs at the peak of the top clock: DVFS is the paper model's business.
    """

    name = "roofline"
    summary = "max(FLOPs / (peak·MFU), bytes / (bandwidth·efficiency)) + overheads"
    Params = RooflineParams
    params: RooflineParams

    def calibration(self, hardware: HardwareSpec) -> RooflineCalibration:
        """The efficiencies and overheads in force on ``hardware`` (overrides applied)."""
        p = self.params

        def pick(override: float | None, value: float) -> float:
            return value if override is None else override

        return RooflineCalibration(
            mfu_prefill=pick(p.mfu_prefill, hardware.mfu_prefill),
            mfu_decode=pick(p.mfu_decode, hardware.mfu_decode),
            bandwidth_efficiency=pick(p.bandwidth_efficiency, hardware.bandwidth_efficiency),
            step_overhead_s=pick(p.step_overhead_s, hardware.step_overhead_s),
            layer_overhead_s=pick(p.layer_overhead_s, hardware.layer_overhead_s),
        )

    def breakdown(self, batch: Batch, side: SideCosts, hardware: HardwareSpec) -> StepTime:
        if batch.size == 0 or side.num_blocks == 0:
            return ZERO_STEP
        return self._breakdown(batch.sums(), side, hardware)

    def step_time_from_sums_s(
        self, sums: BatchSums, side: SideCosts, hardware: HardwareSpec
    ) -> float | None:
        if sums.prefill_sequences + sums.decode_sequences == 0 or side.num_blocks == 0:
            return 0.0
        return self._breakdown(sums, side, hardware).total_s

    def _breakdown(self, sums: BatchSums, side: SideCosts, hardware: HardwareSpec) -> StepTime:
        cal = self.calibration(hardware)
        prefill_flops, decode_flops = side.flops_by_phase(sums)
        compute_s, memory_s = _roofline_parts(
            prefill_flops,
            decode_flops,
            side.memory_traffic(sums).total_bytes,
            hardware.peak_flops_per_s,
            cal.mfu_prefill,
            cal.mfu_decode,
            hardware.memory_bandwidth_bytes_per_s,
            cal.bandwidth_efficiency,
        )
        overhead_s = cal.step_overhead_s + cal.layer_overhead_s * side.num_blocks
        return StepTime(max(compute_s, memory_s) + overhead_s, compute_s, memory_s, overhead_s)

    def nested_step_time_s(
        self, batch: Batch, kept: np.ndarray, side: SideCosts, hardware: HardwareSpec
    ) -> float:
        """The roofline of a step of nested sub-networks: each sequence's matrix-product and
        LM-head FLOPs scale with its own kept fraction, the weights read are the widest
        member's (``max kept`` × the side's), attention, KV and activations are unpruned."""
        if batch.size == 0 or side.num_blocks == 0:
            return 0.0
        cal = self.calibration(hardware)
        sums = batch.sums()
        prefill_flops, decode_flops = side.flops_by_phase_nested(sums, batch.kept_sums(kept))
        compute_s, memory_s = _roofline_parts(
            prefill_flops,
            decode_flops,
            side.pruned(float(np.max(kept))).memory_traffic(sums).total_bytes,
            hardware.peak_flops_per_s,
            cal.mfu_prefill,
            cal.mfu_decode,
            hardware.memory_bandwidth_bytes_per_s,
            cal.bandwidth_efficiency,
        )
        overhead_s = cal.step_overhead_s + cal.layer_overhead_s * side.num_blocks
        return max(compute_s, memory_s) + overhead_s

    def solo_step_times_s(
        self,
        new_tokens: ArrayLike,
        cached_tokens: ArrayLike,
        is_prefill: ArrayLike,
        side: SideCosts,
        hardware: HardwareSpec,
        clock_fraction: float = 1.0,
    ) -> np.ndarray:
        """As the base method, in one vectorised pass: the same formula term by term on arrays
        (each step's sums are those of its one-sequence batch), so every element equals
        :meth:`step_time_s` of its batch to the bit. At a clock fraction ``r = f/f_max`` the
        compute term runs at the peak ``r·f_max·c`` (the memory bandwidth does not follow the
        chip's clock); ``r = 1`` is the top clock, to the bit."""
        if not 0.0 < clock_fraction <= 1.0:
            raise ValueError(f"clock_fraction: got {clock_fraction!r}, expected in (0, 1]")
        n, c, prefill = np.broadcast_arrays(
            np.asarray(new_tokens, dtype=np.int64),
            np.asarray(cached_tokens, dtype=np.int64),
            np.asarray(is_prefill, dtype=bool),
        )
        if n.size == 0 or side.num_blocks == 0:
            return np.zeros(n.shape)
        cal = self.calibration(hardware)
        zero = np.zeros(n.shape)
        ones = np.ones(n.shape)
        tokens = n.astype(float)
        positions = (n * (c + n)).astype(float)
        cached = c.astype(float)

        def split(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return np.where(prefill, values, zero), np.where(prefill, zero, values)

        # Each field an array, one element per step (BatchSums is typed for one step's floats).
        sums = BatchSums._make(
            (*split(tokens), *split(positions), *split(ones), *split(cached), *split(ones))
        )
        prefill_flops, decode_flops = side.flops_by_phase(sums)
        compute_s, memory_s = _roofline_parts(
            np.asarray(prefill_flops),
            np.asarray(decode_flops),
            np.asarray(side.memory_traffic(sums).total_bytes),
            np.asarray(hardware.peak_flops_per_s * clock_fraction),
            np.asarray(cal.mfu_prefill),
            np.asarray(cal.mfu_decode),
            np.asarray(hardware.memory_bandwidth_bytes_per_s),
            np.asarray(cal.bandwidth_efficiency),
        )
        overhead_s = cal.step_overhead_s + cal.layer_overhead_s * side.num_blocks
        return np.asarray(np.maximum(compute_s, memory_s) + overhead_s)


# --------------------------------------------------------------------------------------------
# Names checked by the empirical models (a table or a fit describes one model on one hardware)
# --------------------------------------------------------------------------------------------


class _Measured(InputModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str | None = Field(
        default=None,
        description="profile the measurements are for; when given, any other profile is refused",
    )
    hardware: str | None = Field(
        default=None,
        description="hardware class the measurements are for; when given, any other is refused",
    )

    def check(self, what: str, side: SideCosts, hardware: HardwareSpec) -> None:
        if self.model is not None and side.profile_name != self.model:
            raise ValueError(
                f"{what}: measured for model {self.model!r}, got a step of {side.profile_name!r}"
            )
        if self.hardware is not None and hardware.name != self.hardware:
            raise ValueError(
                f"{what}: measured on hardware {self.hardware!r}, got a step on {hardware.name!r}"
            )


# --------------------------------------------------------------------------------------------
# Table of measured step times
# --------------------------------------------------------------------------------------------

TABLE_COLUMNS = ("phase", "tokens", "context_tokens", "step_time_s")


@dataclass(frozen=True)
class StepTimeGrid:
    """Measured step times of one phase on a full grid ``tokens × context_tokens``.

    ``times_s[i, j]`` is the step time at ``tokens[i]`` and ``context_tokens[j]`` (both strictly
    increasing). Inside the grid the time is interpolated bilinearly; outside it is extrapolated
    linearly from the edge cell, and never below zero. A dimension measured at one value only
    is constant along it.
    """

    tokens: np.ndarray
    context_tokens: np.ndarray
    times_s: np.ndarray

    def time_s(self, tokens: float, context_tokens: float) -> float:
        """Interpolated step time at ``tokens`` new tokens and ``context_tokens`` context, s."""
        i, wi = _cell(self.tokens, tokens)
        j, wj = _cell(self.context_tokens, context_tokens)
        i1 = min(i + 1, self.tokens.size - 1)
        j1 = min(j + 1, self.context_tokens.size - 1)
        t = self.times_s
        low = t[i, j] + wj * (t[i, j1] - t[i, j])
        high = t[i1, j] + wj * (t[i1, j1] - t[i1, j])
        return max(float(low + wi * (high - low)), 0.0)


def _cell(axis: np.ndarray, value: float) -> tuple[int, float]:
    """Index of the cell of ``axis`` holding ``value`` (edge cell outside) and the weight."""
    if axis.size == 1:
        return 0, 0.0
    i = int(np.clip(np.searchsorted(axis, value, side="right") - 1, 0, axis.size - 2))
    return i, float((value - axis[i]) / (axis[i + 1] - axis[i]))


@dataclass(frozen=True)
class StepTimeTable:
    """Measured step times by phase (either may be missing), and where they came from."""

    prefill: StepTimeGrid | None
    decode: StepTimeGrid | None
    source: str

    def grid(self, phase: Phase) -> StepTimeGrid:
        """The grid of ``phase``; a ``ValueError`` if the table has no row of that phase."""
        grid = self.prefill if phase == "prefill" else self.decode
        if grid is None:
            raise ValueError(f"step-time table {self.source}: no {phase} rows, got a {phase} step")
        return grid


def load_step_time_table(path: str | Path) -> StepTimeTable:
    """Read a CSV of measured step times: columns ``phase,tokens,context_tokens,step_time_s``.

    ``phase`` is ``prefill`` or ``decode``; ``tokens`` the new tokens of the step (prefill: the
    chunk's tokens; decode: the batch size); ``context_tokens`` the tokens already cached per
    sequence; ``step_time_s`` the measured time in seconds. Lines starting with ``#`` are
    comments. Each phase's rows must form a full grid (every ``tokens`` value measured at every
    ``context_tokens`` value, once). Every problem raises
    :class:`~coinfer.emulator.errors.InputError` naming the file, the row and the value.
    """
    path = Path(path)
    where = f"step-time table {str(path)!r}"
    lines = [
        line
        for line in read_text_lines(path, "step-time table")
        if line.strip() and not line.lstrip().startswith("#")
    ]
    reader = csv.DictReader(lines)
    if tuple(reader.fieldnames or ()) != TABLE_COLUMNS:
        raise InputError(
            f"{where}: header got {reader.fieldnames}, expected {','.join(TABLE_COLUMNS)}"
        )
    points: dict[str, dict[tuple[float, float], float]] = {"prefill": {}, "decode": {}}
    for number, row in enumerate(reader, start=1):
        phase = row["phase"]
        if phase not in points:
            raise InputError(f"{where} row {number}: phase got {phase!r}, expected prefill/decode")
        tokens = _table_number(where, number, row, "tokens", minimum=1.0)
        context = _table_number(where, number, row, "context_tokens", minimum=0.0)
        time_s = _table_number(where, number, row, "step_time_s", minimum=0.0)
        if (tokens, context) in points[phase]:
            raise InputError(
                f"{where} row {number}: {phase} at tokens {tokens:g}, context_tokens "
                f"{context:g} appears twice, expected each point once"
            )
        points[phase][(tokens, context)] = time_s
    if not points["prefill"] and not points["decode"]:
        raise InputError(f"{where}: no rows, expected at least one measured step")
    return StepTimeTable(
        prefill=_grid(where, "prefill", points["prefill"]),
        decode=_grid(where, "decode", points["decode"]),
        source=str(path),
    )


def _table_number(
    where: str, number: int, row: Mapping[str, str], column: str, minimum: float
) -> float:
    text = row[column]
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise InputError(
            f"{where} row {number}: {column} got {text!r}, expected a number"
        ) from None
    if not math.isfinite(value) or value < minimum:
        raise InputError(
            f"{where} row {number}: {column} got {text!r}, expected a finite number ≥ {minimum:g}"
        )
    return value


def _grid(where: str, phase: str, points: dict[tuple[float, float], float]) -> StepTimeGrid | None:
    if not points:
        return None
    tokens = np.array(sorted({t for t, _ in points}))
    contexts = np.array(sorted({c for _, c in points}))
    missing = [(t, c) for t in tokens for c in contexts if (t, c) not in points]
    if missing:
        shown = ", ".join(f"({t:g}, {c:g})" for t, c in missing[:5])
        raise InputError(
            f"{where}: {phase} rows do not form a full grid; missing (tokens, context_tokens) "
            f"{shown}{' ...' if len(missing) > 5 else ''}, expected every combination once"
        )
    times = np.array([[points[(t, c)] for c in contexts] for t in tokens])
    for array in (tokens, contexts, times):
        array.setflags(write=False)
    return StepTimeGrid(tokens=tokens, context_tokens=contexts, times_s=times)


class TableParams(_Measured):
    """Where the measured step times are, and what they were measured for."""

    path: Path = Field(description="CSV of measured step times (phase,tokens,context_tokens,...)")


class TableStepTime(StepTimeModelBase):
    """Step time interpolated in a table of measured steps.

    A prefill step is looked up at its total prompt tokens ``Σn`` and the token-weighted mean
    cached context ``Σn·c/Σn``; a decode step at its batch size ``B`` and mean cached context
    ``Σc/B``. A mixed step (chunked prefill beside decodes) costs the prefill time plus the decode
    time: an upper bound, since the weights, read once, are counted in both. The table
    describes one model on one hardware class; give ``model`` and ``hardware`` to have any other
    refused.
    """

    name = "table"
    summary = "interpolation in a CSV of measured step times versus tokens and context"
    times_whole_model = True
    Params = TableParams
    params: TableParams

    def __init__(self, params: TableParams, table: StepTimeTable) -> None:
        super().__init__(params)
        self.table = table

    @classmethod
    def _build(cls, params: TableParams) -> Self:
        """Read the table (the factory does the I/O; the constructor takes the data)."""
        return cls(params, load_step_time_table(params.path))

    def breakdown(self, batch: Batch, side: SideCosts, hardware: HardwareSpec) -> StepTime:
        if batch.size == 0 or side.num_blocks == 0:
            return ZERO_STEP
        self.params.check(f"step-time table {str(self.params.path)!r}", side, hardware)
        s = batch.sums()
        total = 0.0
        if s.prefill_tokens:
            context = _weighted_context(batch, prefill=True)
            total += self.table.grid("prefill").time_s(s.prefill_tokens, context)
        if s.decode_sequences:
            context = s.decode_cached_tokens / s.decode_sequences
            total += self.table.grid("decode").time_s(s.decode_sequences, context)
        return StepTime(total, None, None, 0.0)


def _weighted_context(batch: Batch, prefill: bool) -> float:
    mask = batch.is_prefill == prefill
    n = batch.new_tokens[mask].astype(float)
    return float(n @ batch.cached_tokens[mask] / n.sum())


# --------------------------------------------------------------------------------------------
# DistServe-style fitted model
# --------------------------------------------------------------------------------------------


class FittedParams(_Measured):
    """Coefficients of the fitted step time (DistServe, Zhong et al., OSDI 2024, sec. 4).

    Prefill: ``a + b·Σn + c·Σn·(c_cache + n)``, which is ``a + b·Σℓ + c·Σℓ²`` for whole prompts
    of lengths ℓ; decode: ``a' + b'·Σctx + c'·B`` with ``ctx = c_cache + 1`` the positions each
    decode attends to and ``B`` the decodes in the step.
    """

    prefill_s: float = Field(default=0.0, ge=0, description="a: fixed time of a prefill step, s")
    prefill_s_per_token: float = Field(default=0.0, ge=0, description="b: time per prompt token, s")
    prefill_s_per_token_squared: float = Field(
        default=0.0, ge=0, description="c: time per query-key pair of prompt attention, s"
    )
    decode_s: float = Field(default=0.0, ge=0, description="a': fixed time of a decode step, s")
    decode_s_per_context_token: float = Field(
        default=0.0, ge=0, description="b': time per attended context position, s"
    )
    decode_s_per_sequence: float = Field(
        default=0.0, ge=0, description="c': time per decode in the batch, s"
    )


class FittedStepTime(StepTimeModelBase):
    """DistServe's regression of step time on the batch (see :class:`FittedParams`).

    A mixed step costs the prefill formula plus the decode formula (an upper bound, as for the
    table).
    """

    name = "fitted"
    summary = "a + b·Σℓ + c·Σℓ² (prefill), a' + b'·Σctx + c'·B (decode)"
    times_whole_model = True
    Params = FittedParams
    params: FittedParams

    def breakdown(self, batch: Batch, side: SideCosts, hardware: HardwareSpec) -> StepTime:
        if batch.size == 0 or side.num_blocks == 0:
            return ZERO_STEP
        return StepTime(self._total_s(batch.sums(), side, hardware), None, None, 0.0)

    def step_time_from_sums_s(
        self, sums: BatchSums, side: SideCosts, hardware: HardwareSpec
    ) -> float | None:
        if sums.prefill_sequences + sums.decode_sequences == 0 or side.num_blocks == 0:
            return 0.0
        return self._total_s(sums, side, hardware)

    def _total_s(self, s: BatchSums, side: SideCosts, hardware: HardwareSpec) -> float:
        self.params.check("fitted step-time model", side, hardware)
        p = self.params
        total = 0.0
        if s.prefill_sequences:
            total += (
                p.prefill_s
                + p.prefill_s_per_token * s.prefill_tokens
                + p.prefill_s_per_token_squared * s.prefill_positions
            )
        if s.decode_sequences:
            total += (
                p.decode_s
                + p.decode_s_per_context_token * (s.decode_cached_tokens + s.decode_tokens)
                + p.decode_s_per_sequence * s.decode_sequences
            )
        return total


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------

#: Built-in step-time models by name (the generic plug-in registry will take this dict over).
STEP_TIME_MODELS: dict[str, type[StepTimeModelBase]] = {
    cls.name: cls for cls in (RooflineStepTime, TableStepTime, FittedStepTime)
}
DEFAULT_STEP_TIME_MODEL = RooflineStepTime.name


def make_step_time_model(
    name: str = DEFAULT_STEP_TIME_MODEL, params: Mapping[str, Any] | None = None
) -> StepTimeModelBase:
    """The step-time model ``name`` built from ``params`` (validated against its ``Params``).

    An unknown name or a bad parameter raises :class:`~coinfer.emulator.errors.InputError`.
    """
    cls = STEP_TIME_MODELS.get(name)
    if cls is None:
        raise unknown_name_error("step-time model", name, STEP_TIME_MODELS)
    return cls.from_params(params)


# --------------------------------------------------------------------------------------------
# Energy of a step
# --------------------------------------------------------------------------------------------


def phase_energy_j(duration_s: ArrayLike, power_w: ArrayLike, pue: ArrayLike = 1.0) -> np.ndarray:
    """Facility energy of running at chip power ``power_w`` for ``duration_s``: ``η·P·t`` J."""
    return np.asarray(
        np.asarray(pue, dtype=float)
        * np.asarray(power_w, dtype=float)
        * np.asarray(duration_s, dtype=float)
    )


def phase_step_energy_j(
    phase: Literal["prefill", "decode"], step_time_s: float, hardware: HardwareSpec
) -> float:
    """Energy of one serving step of ``phase``: ``η · P_phase · T_step`` J (see
    :func:`step_energy_j`)."""
    return hardware.pue * hardware.phase_power_w(phase) * step_time_s


def step_energy_j(batch: Batch, step_time_s: float, hardware: HardwareSpec) -> float:
    """Energy of one serving step: ``η · P_phase · T_step`` J, facility overhead included.

    ``P_phase`` is :meth:`HardwareSpec.phase_power_w` of the batch's phase: the prefill power
    if any sequence prefills (compute-bound work sets the draw), else the decode power. This is
    the energy of generative serving, where a step-time model gives the duration and the clock
    stays at its top value; the per-request split inference of the paper keeps its own
    ``η·φ·f²·N/c`` (``reference.compute_energy_j``), which follows the policy's clock choice.
    """
    phase = batch.phase
    if phase == "idle":
        return hardware.pue * hardware.phase_power_w("idle") * step_time_s
    return phase_step_energy_j(phase, step_time_s, hardware)


def clocked_phase_power_w(
    hardware: HardwareSpec, phase: Literal["prefill", "decode"], clock_fraction: float
) -> float:
    """Chip power in ``phase`` at the clock ``r·f_max`` (``r = clock_fraction`` ∈ (0, 1]), W.

    The dynamic part of the phase power (above the idle power) follows the paper's DVFS law:
    energy per cycle ``∝ f²`` at a fixed work per cycle, so dynamic power ``∝ f³``::

        P(r) = P_phase − (P_phase − P_idle)·(1 − r³)

    written so that ``r = 1`` gives ``P_phase`` to the bit (facility power is ``pue`` times
    this).
    """
    power = hardware.phase_power_w(phase)
    if clock_fraction == 1.0:
        return power
    return power - (power - hardware.phase_power_w("idle")) * (1.0 - clock_fraction**3)


def idle_energy_j(duration_s: float, hardware: HardwareSpec) -> float:
    """Energy of ``duration_s`` seconds with nothing to run: ``η · P_idle · t`` J."""
    return hardware.pue * hardware.phase_power_w("idle") * duration_s


__all__ = [
    "DEFAULT_STEP_TIME_MODEL",
    "STEP_TIME_MODELS",
    "TABLE_COLUMNS",
    "Batch",
    "BatchSums",
    "FittedParams",
    "FittedStepTime",
    "RooflineCalibration",
    "RooflineParams",
    "RooflineStepTime",
    "SideCosts",
    "StepTime",
    "StepTimeGrid",
    "StepTimeModel",
    "StepTimeModelBase",
    "StepTimeTable",
    "TableParams",
    "TableStepTime",
    "clocked_phase_power_w",
    "idle_energy_j",
    "load_step_time_table",
    "make_step_time_model",
    "phase_energy_j",
    "phase_step_energy_j",
    "roofline_step_time_s",
    "step_energy_j",
]
