"""Compact-model policies: bit widths and family members as decisions (issue 21).

``joint-compact`` is the paper's joint design with the weight width of each side as one more
discrete decision, enumerated like the split: for every pair of widths ``(b_d, b_s)`` from its
``weight_bits`` it solves (P1) with

* the objective ``ρ·q·b_d + ρ̃·s·b_s``, the bits kept (with ``b_d = b_s`` the paper's kept
  parameters times ``b``; the distortion bound falls as it grows, ``docs/compact-models.md``),
* the payload at ``payload_bits`` per value (a parameter: the bound does not see activation
  quantization, so an optimiser would always take the fewest bits),
* the memory of the device side: ``ρ·q(l)·b_d/8 + θ(l)/8 ≤ M``, a cap on ρ per split,

and keeps the pair with the most bits kept (ties: the wider pair, listed first). One-pass
compute is compute-bound and does not depend on the weight width (AWQ, Lin et al. 2024, speeds
up the memory-bound generation stage only): the width buys memory and costs distortion.

``quantize-only`` keeps every parameter (ρ = ρ̃ = 1) and compresses with the widths alone, at
the least energy within the budgets; ``distill-only`` keeps every parameter at the model's own
width and picks the member of the model's family (teacher first, then its students by
published quality) that meets the budgets and fits the device. Generative requests are decided
as ``joint`` decides them (the generative optimiser, at the model's own widths).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal, NamedTuple

import numpy as np
from pydantic import ConfigDict, Field, field_validator

from coinfer.emulator.model.families import family_of, member_profile
from coinfer.emulator.model.profiles import ModelProfile
from coinfer.emulator.model.quality import DENSE_BITS, QualityModel, load_quality_model
from coinfer.emulator.model.quantization import (
    STORAGE_BITS,
    Bits,
    bits_problem,
    resolve_bits,
    scaled_payload_bits,
)
from coinfer.emulator.model.reference import (
    distortion_bound,
    distortion_bound_per_side,
)
from coinfer.emulator.records import build
from coinfer.policies.base import Decision, PolicyContext
from coinfer.policies.generative_joint import GenerativeOptimiser
from coinfer.policies.joint import JointParams, OptimisingPolicy
from coinfer.policies.joint_warm import CERTIFICATE_TOLERANCE
from coinfer.policies.prediction import Prediction, decision_cost, request_payload_bits
from coinfer.policies.problem import Problem, Solution


def predict_compact(
    context: PolicyContext,
    model: ModelProfile,
    split: int,
    rho_device: float,
    rho_server: float,
    tx_power_w: float,
    f_device_hz: float,
    f_server_hz: float,
    bits: Bits,
) -> Prediction:
    """:func:`~coinfer.policies.prediction.predict` for ``model`` (the device's or a student)
    at the widths ``bits``: the payload at its width, the distortion bound per side."""
    table = model.split_table
    payload = scaled_payload_bits(
        request_payload_bits(context, table, split),
        bits.payload_bits_per_value,
        model.activation_bits,
    )
    cost = decision_cost(
        context,
        table,
        split,
        payload,
        rho_device,
        rho_server,
        tx_power_w,
        f_device_hz,
        f_server_hz,
    )
    if bits.weight_bits_device == bits.weight_bits_server:
        kept = rho_device * table.device_params[split] + rho_server * table.server_params[split]
        distortion = float(
            distortion_bound(
                float(kept),
                model.total_params,
                float(bits.weight_bits_device),
                model.entropy_bits_per_param,
            )
        )
    else:
        distortion = distortion_bound_per_side(
            rho_device,
            rho_server,
            table.device_params[split],
            table.server_params[split],
            bits.weight_bits_device,
            bits.weight_bits_server,
            model.entropy_bits_per_param,
        )
    return Prediction(
        float(cost.device_compute_s + cost.upload_s + cost.server_compute_s),
        float(cost.device_compute_j + cost.upload_j + cost.server_compute_j),
        distortion,
    )


def compact_problem(problem: Problem, model: ModelProfile, bits: Bits) -> Problem:
    """``problem`` (built at the model's own widths) with the payload at its width and the
    objective in bits kept: ``q`` and ``s`` weighted by ``b_d`` and ``b_s``."""
    ratio = bits.payload_bits_per_value / model.activation_bits
    return problem.pinned(
        payload_bits=problem.payload_bits * ratio,  # type: ignore[arg-type]
        device_params=problem.device_params * bits.weight_bits_device,  # type: ignore[arg-type]
        server_params=problem.server_params * bits.weight_bits_server,  # type: ignore[arg-type]
    )


def memory_caps(
    problem: Problem, model: ModelProfile, bits: Bits, memory_bytes: float
) -> np.ndarray:
    """Per split of ``problem``, the largest ρ whose device side fits ``memory_bytes``:
    ``(8·M − θ(l)) / (q(l)·b_d)`` (``inf`` where the device holds no parameter; negative where
    not even the payload fits). ``problem`` holds the payload at its width."""
    q = model.device_params[problem.splits]
    room = 8.0 * memory_bytes - problem.payload_bits
    with np.errstate(divide="ignore", invalid="ignore"):
        caps = np.where(
            q > 0.0, room / (q * bits.weight_bits_device), np.where(room >= 0, np.inf, -1.0)
        )
    return np.asarray(caps)


def solve_within_memory(
    solve: Any, problem: Problem, caps: np.ndarray, margin: float = 0.0
) -> Solution:
    """The best of ``solve`` over the splits of ``problem`` with ρ capped per split by
    ``caps``: one solve for the splits that fit unpruned, one per split that fits only pruned,
    none for the splits that cannot fit at ``rho_device_lo``.

    ``solve(sub_problem, part)`` names each sub-problem by ``part``: ``"whole"`` (the splits
    that fit unpruned) or the row of the capped split in ``problem``, so that a warm start can
    keep one state per sub-problem. A later sub-problem replaces the best so far only when it
    keeps more by over a relative ``margin`` (0: any more; a warm start's: its tolerance, so
    that its last digits do not break a tie the exact solver breaks for the first)."""
    whole = caps >= problem.rho_device_hi
    if whole.all():
        return solve(problem, "whole")  # type: ignore[no-any-return]
    best = Solution.infeasible()
    if whole.any():
        best = solve(problem.only_splits(whole), "whole")
    for index in np.flatnonzero((caps >= problem.rho_device_lo) & ~whole):
        capped = problem.only_splits(np.array([index])).pinned(rho_device_hi=float(caps[index]))
        solution = solve(capped, int(index))
        if solution.feasible and (
            not best.feasible
            or solution.kept_params > best.kept_params + margin * abs(best.kept_params)
        ):
            best = solution
    return best


def _bit_choices(values: list[int]) -> list[int]:
    for value in values:
        if value != 0 and value not in STORAGE_BITS:
            allowed = ", ".join(str(b) for b in STORAGE_BITS)
            raise ValueError(f"got {value}, expected 0 (the model's own width) or one of {allowed}")
    return values


class CompactParams(JointParams):
    """``joint`` parameters plus the widths the policy may choose."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    weight_bits: list[int] = Field(
        default=[0, 16, 8, 6, 4, 3, 2],
        min_length=1,
        description="weight widths each side may take, bits (0: the model's own); enumerated "
        "like the split, widths above the model's own or that the hardware lacks skipped",
    )
    payload_bits: int = Field(
        default=0,
        description="bits per value of the uploaded activation (0: the model's own); fixed, not "
        "optimised (the bound does not see activation quantization)",
    )
    objective: Literal["kept-parameters", "quality"] = Field(
        default="kept-parameters",
        description="what the widths are chosen for: the bits kept ρ·q·b_d + ρ̃·s·b_s, the "
        "paper's kept parameters weighted by width (the distortion bound falls as they grow), or "
        "the measured quality of the quality model (docs/quality.md) at each width pair's best "
        "point; pairs it has no data for rank after those it has",
    )

    @field_validator("weight_bits")
    @classmethod
    def _weight_bits(cls, values: list[int]) -> list[int]:
        return _bit_choices(values)

    @field_validator("payload_bits")
    @classmethod
    def _payload_bits(cls, value: int) -> int:
        return _bit_choices([value])[0]


class _Choice(NamedTuple):
    solution: Solution
    model: ModelProfile
    bits: Bits
    given: Bits  #: the widths as the decision gives them (0: the model's own)
    member: str  #: "" or the family member that runs
    #: the measured quality: the log change of the metric from its table's dense point, signed
    #: so that larger is better; None: no data in range (or the objective is not quality)
    score: float | None = None


class JointCompactPolicy(OptimisingPolicy[CompactParams]):
    """``joint`` with the weight width of each side as a decision (see the module)."""

    name: ClassVar[str] = "joint-compact"
    summary: ClassVar[str] = (
        "joint with each side's weight width as a discrete decision: bits kept within T0, E0 "
        "and the device's memory (issue 21)"
    )
    Params = CompactParams
    own_generative = True
    optimises_generative = True

    def __init__(self, params: CompactParams, rng: np.random.Generator) -> None:
        super().__init__(params, rng)
        self._generative = GenerativeOptimiser(
            splits=params.splits,
            rho_min=params.rho_min,
            admit_infeasible=params.on_infeasible == "best-effort",
        )
        self._choices: dict[tuple[object, ...], _Choice | None] = {}
        self._quality: QualityModel | None = None  # read on first use (no I/O here)
        #: whether the solves are warm-started (``warm_start`` and the solver's own solve)
        self._warm = bool(params.warm_start) and type(self).solve is OptimisingPolicy.solve
        #: margin a later choice must beat the best by: the warm start's tolerance
        #: (its last digits must not break a tie the exact solver breaks for the first listed)
        self._margin = CERTIFICATE_TOLERANCE if self._warm else 0.0

    # ---- what is enumerated ------------------------------------------------------------------

    def members(self, context: PolicyContext) -> list[tuple[str, ModelProfile]]:
        """The models a request may run: ``("", its own)`` (``distill-only``: its family)."""
        return [("", context.model)]

    def widths(self, model: ModelProfile) -> list[int]:
        """The weight widths to try for ``model``, widest first (0: its own)."""
        params: Any = self.params
        own = model.weight_bits
        widths = {0 if bits in (0, own) else bits for bits in params.weight_bits if bits <= own}
        return sorted(widths, key=lambda bits: -(bits or own))

    def payload_width(self) -> int:
        """Bits per uploaded value the policy sends (0: the model's own)."""
        return int(self.params.payload_bits)

    #: whether the first member with a feasible choice is taken (``distill-only``)
    first_feasible_wins: ClassVar[bool] = False

    def better(self, new: _Choice, best: _Choice | None) -> bool:
        """Whether ``new`` beats ``best``: more bits kept, or with the ``quality`` objective a
        better measured quality (a choice with a quality beats one without). With the warm
        start, by more than its tolerance (relative in bits, absolute in the log quality): a tie
        goes to the first listed, as on the exact path."""
        if not new.solution.feasible:
            return False
        if best is None:
            return True
        margin = self._margin
        if new.score is not None or best.score is not None:
            if best.score is None:
                return True
            return new.score is not None and new.score > best.score + margin
        kept = best.solution.kept_params
        return new.solution.kept_params > kept + margin * abs(kept)

    def quality_score(self, choice: _Choice) -> float | None:
        """The measured quality of a feasible ``choice``: ``±log(v / v₀)``, the change of the
        quality model's metric from the dense point of the same table, signed so that larger is
        better (tables differ in metric and setting; their relative changes compare); None: no
        data in range. Widths of 16 bits and more are the tables' dense weights."""
        solution = choice.solution
        if not solution.feasible or solution.rho_device <= 0.0 or solution.rho_server <= 0.0:
            return None
        if self._quality is None:
            self._quality = load_quality_model()
        estimate = self._quality.estimate(
            model=choice.model.name,
            kept_device=min(solution.rho_device, 1.0),
            kept_server=min(solution.rho_server, 1.0),
            device_blocks=int(solution.split),
            weight_bits_device=min(choice.bits.weight_bits_device, DENSE_BITS),
            weight_bits_server=min(choice.bits.weight_bits_server, DENSE_BITS),
        )
        if estimate is None or not estimate.in_range or not math.isfinite(estimate.value):
            return None
        dense = self._quality.estimate(
            model=choice.model.name,
            kept_device=1.0,
            kept_server=1.0,
            device_blocks=int(solution.split),
            weight_bits_device=DENSE_BITS,
            weight_bits_server=DENSE_BITS,
            source=estimate.source,
        )
        if dense is None or not dense.in_range or not dense.value > 0 or not estimate.value > 0:
            return None
        # tables differ in metric and setting: compare the change from each one's dense point
        change = math.log(estimate.value / dense.value)
        table = next(t for t in self._quality.tables if t.id == estimate.source)
        return -change if table.better[estimate.metric] == "lower" else change

    # ---- deciding ------------------------------------------------------------------------------

    def decide(self, context: PolicyContext) -> Decision:
        if context.generative:
            return self._generative.decide(context)
        params: Any = self.params
        gain = context.gain
        if params.channel_step_db > 0.0 and gain > 0.0:
            step = params.channel_step_db
            gain = 10.0 ** (math.floor(10.0 * math.log10(gain) / step) * step / 10.0)
        key = (
            id(context.model),
            id(context.device),
            id(context.server),
            gain,
            context.work_scale,
            context.bandwidth_hz,
            context.noise_psd_w_per_hz,
            id(context.link),  # the cell's link model (None: Shannon)
            context.scale_payload,
            context.deadline_s,
            context.energy_budget_j,
        )
        if key in self._choices:
            choice = self._choices[key]
        else:
            choice = self._choose(context._replace(gain=gain))
            if params.cache_size:
                if len(self._choices) >= params.cache_size:
                    self._choices.clear()
                self._choices[key] = choice
        if choice is None:  # nothing meets the budgets and fits: as joint does
            return super().decide(context)
        return self._compact_decision(context, choice)

    def _choose(self, context: PolicyContext) -> _Choice | None:
        params: Any = self.params
        best: _Choice | None = None
        for member, model in self.members(context):
            member_context = context._replace(model=model)
            splits = [split for split in self.splits(member_context) if split <= model.last_split]
            if not splits:  # none of the policy's split points exists in this model
                continue
            native = Problem.from_context(member_context, splits=splits, rho_min=params.rho_min)
            native = self.pin(native, member_context)
            for bits_d in self.widths(model):
                for bits_s in self.widths(model):
                    given = Bits(bits_d, bits_s, self.payload_width(), 0)
                    bits = resolve_bits(model, *given)
                    problem = compact_problem(native, model, bits)
                    splits_ok = np.array(  # a side's width its hardware lacks: not there
                        [
                            bits_problem(given, model, int(split), context.device, context.server)
                            is None
                            for split in problem.splits
                        ]
                    )
                    if not splits_ok.any():
                        continue
                    problem = problem.only_splits(splits_ok)
                    caps = memory_caps(problem, model, bits, context.device.memory_bytes)
                    solve = self._solver_of(context, (member, bits_d, bits_s))
                    solution = solve_within_memory(solve, problem, caps, self._margin)
                    choice = _Choice(solution, model, bits, given, member)
                    if params.objective == "quality":
                        choice = choice._replace(score=self.quality_score(choice))
                    if self.better(choice, best):
                        best = choice
                    if (
                        params.objective == "kept-parameters"
                        and solution.feasible
                        and bits_d == bits_s == self.widths(model)[0]
                        and bool(splits_ok.all())
                        and bool((caps >= problem.rho_device_hi).all())
                    ):
                        # the widest pair with its memory never binding: every narrower pair
                        # has the same feasible points (one-pass time and energy do not depend
                        # on the weight width) and keeps fewer bits at each of them
                        break
                else:
                    continue
                break
            if best is not None and self.first_feasible_wins:
                break
        return best

    def _solver_of(self, context: PolicyContext, pair: tuple[object, ...]) -> Any:
        """``solve(problem, part)`` for :func:`solve_within_memory` on the problem of one
        member and width pair: with the warm start, each sub-problem keeps its own warm state,
        keyed by the device, the member, the widths and the part (a device's solves of one
        sub-problem follow one another); without it, the exact solver's."""
        if not self._warm:
            self._hint = None
            return lambda problem, part: self.solve(problem)
        device = context.device_id

        def solve(problem: Problem, part: object) -> Solution:
            self._hint = (device, *pair, part)
            return self.solve(problem)

        return solve

    def _compact_decision(self, context: PolicyContext, choice: _Choice) -> Decision:
        solution, model, bits, given = choice.solution, choice.model, choice.bits, choice.given
        latency, energy, distortion = predict_compact(
            context,
            model,
            solution.split,
            solution.rho_device,
            solution.rho_server,
            solution.tx_power_w,
            solution.f_device_hz,
            solution.f_server_hz,
            bits,
        )
        decision: Decision = build(
            Decision,
            split=solution.split,
            rho_device=solution.rho_device,
            rho_server=solution.rho_server,
            tx_power_w=solution.tx_power_w,
            f_device_hz=solution.f_device_hz,
            f_server_hz=solution.f_server_hz,
            predicted_latency_s=latency,
            predicted_energy_j=energy,
            predicted_distortion=distortion,
            feasible=True,
            admit=True,
            mode="",
            weight_bits_device=given.weight_bits_device,
            weight_bits_server=given.weight_bits_server,
            payload_bits_per_value=given.payload_bits_per_value,
            kv_cache_bits=0,
            model=choice.member,
        )
        return decision


class QuantizeOnlyParams(CompactParams):
    """``joint-compact`` parameters; the defaults of a quantization baseline."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    weight_bits: list[int] = Field(
        default=[16, 8, 6, 4, 3, 2],
        min_length=1,
        description="weight widths each side may take, bits (0: the model's own); the widest "
        "that meets the budgets and fits is kept",
    )
    payload_bits: int = Field(
        default=8, description="bits per value of the uploaded activation (0: the model's own)"
    )


class QuantizeOnlyPolicy(JointCompactPolicy):
    """No pruning (ρ = ρ̃ = 1): compressed by the weight widths alone, least energy in T0."""

    name: ClassVar[str] = "quantize-only"
    summary: ClassVar[str] = (
        "baseline: no pruning (ρ = ρ̃ = 1); weights at the widest width that meets the budgets "
        "and fits, payload at payload_bits; least energy (issue 21)"
    )
    Params = QuantizeOnlyParams

    def pin(self, problem: Problem, context: PolicyContext) -> Problem:
        return problem.pinned(
            rho_device_lo=1.0, rho_device_hi=1.0, rho_server_lo=1.0, rho_server_hi=1.0
        )

    def solve(self, problem: Problem) -> Solution:
        return self.solver.least_energy(problem)


class DistillOnlyParams(CompactParams):
    """``joint-compact`` parameters at the model's own widths: a distillation baseline."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    weight_bits: list[int] = Field(
        default=[0], min_length=1, description="weight widths (default: the model's own)"
    )


class DistillOnlyPolicy(JointCompactPolicy):
    """No pruning, the model's own widths: the best member of the model's family (by published
    quality) that meets the budgets and fits the device."""

    name: ClassVar[str] = "distill-only"
    summary: ClassVar[str] = (
        "baseline: no pruning, own widths; runs the best member of the model's family (teacher, "
        "then students by published quality) that meets the budgets and fits (issue 21)"
    )
    Params = DistillOnlyParams

    def members(self, context: PolicyContext) -> list[tuple[str, ModelProfile]]:
        family = family_of(context.model.name)
        if family is None:
            return [("", context.model)]
        ranked = sorted(
            family.members[1:],
            key=lambda m: (
                m.quality is None,
                0.0 if m.quality is None else (m.quality if family.lower_is_better else -m.quality),
            ),
        )
        return [("", context.model)] + [
            (m.model, member_profile(context.model, m.model)) for m in ranked
        ]

    first_feasible_wins = True

    def pin(self, problem: Problem, context: PolicyContext) -> Problem:
        return problem.pinned(
            rho_device_lo=1.0, rho_device_hi=1.0, rho_server_lo=1.0, rho_server_hi=1.0
        )

    def solve(self, problem: Problem) -> Solution:
        return self.solver.least_energy(problem)
