"""The paper's joint design (``joint``) and the policies built on the same solver.

Every policy here states (P1) for the request (:class:`~coinfer.policies.problem.Problem`), pins
what it
does not optimise (a baseline's fixed power, fixed clocks, unpruned side or fixed split), solves
it with :class:`~coinfer.policies.joint_solver.JointSolver` and reports the reference model's
prediction
for the request as it is. Requests with no feasible point are dropped or run best-effort, as the
``on_infeasible`` parameter says.

Caching (why ``joint`` is cheap per request in the engine): a solve takes milliseconds, but a
decision depends only on the static configuration (model, device and server classes, budgets,
allowed splits) and three per-request numbers: the gain, the band and the work scale. Decisions
are cached under a *conservative* quantisation of those: the gain is rounded down to a grid of
``channel_step_db`` dB and the work scale up to a grid of relative step ``work_step``. A
decision solved for a weaker channel and more work also meets the budgets of the true request
(upload and compute only get shorter and cheaper), and loses at most what that rounding costs
(measured in the tests: under 0.1% of kept parameters at the default 0.05 dB). Work is not
rounded by default: compute time scales with it, so a rounding of x% costs about x% of kept
parameters. Set both steps to 0 to solve every request exactly.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any, ClassVar, Literal, TypeVar

import numpy as np
from pydantic import ConfigDict, Field, model_validator

from coinfer.emulator.compiled import use_compiled
from coinfer.emulator.records import build, inline_builds
from coinfer.policies.base import Decision, Policy, PolicyContext
from coinfer.policies.generative_joint import GenerativeOptimiser
from coinfer.policies.joint_fast import Answer, FastTable
from coinfer.policies.joint_solver import JointSolver
from coinfer.policies.prediction import predict
from coinfer.policies.problem import Problem, Solution
from coinfer.policies.setting import PolicySetting, check_deadline_given

use_compiled(__name__, __file__)  # its compiled build, if built from this source


class JointParams(Policy.Params):
    """Parameters shared by ``joint`` and the baselines built on its solver."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    splits: list[int] | None = Field(
        default=None,
        description="split points the policy may choose (default: every split of the model)",
    )
    rho_min: float = Field(
        default=0.0, ge=0.0, le=1.0, description="floor on both kept fractions ρ, ρ̃ (paper: 0)"
    )
    on_infeasible: Literal["drop", "best-effort"] = Field(
        default="drop",
        description="a request with no point meeting both budgets is dropped (recorded as "
        "infeasible) or run best-effort at minimum latency and flagged infeasible",
    )
    best_effort_keep: float = Field(
        default=1.0,
        ge=0.0,
        le=1.0,
        description="kept fraction on both sides of a best-effort run (raised to rho_min)",
    )
    channel_step_db: float = Field(
        default=0.05,
        ge=0.0,
        le=3.0,
        description="decision cache: gain rounded down to this grid, dB (0: solve exactly)",
    )
    work_step: float = Field(
        default=0.0,
        ge=0.0,
        le=0.5,
        description="decision cache: work scale rounded up to this relative grid (0: exact)",
    )
    cache_size: int = Field(
        default=100_000, ge=0, description="decisions kept in the cache (0: no cache)"
    )
    warm_start: bool = Field(
        default=False,
        description="start from the device's previous decision, kept only when the dual "
        "bound certifies it within a relative 1e-9 of the optimum (faster; decisions then "
        "depend on the device's history in their last digits)",
    )

    @model_validator(mode="after")
    def _splits_not_empty(self) -> JointParams:
        if self.splits is not None and (not self.splits or min(self.splits) < 0):
            raise ValueError(f"splits={self.splits!r}, expected a non-empty list of splits ≥ 0")
        return self


class _Template:
    """A cached decision for one quantised request: everything but the prediction."""

    __slots__ = (
        "admit",
        "f_device_hz",
        "f_server_hz",
        "feasible",
        "kept",
        "p",
        "rho",
        "rho_s",
        "split",
    )

    def __init__(self, solution: Solution | Answer, admit: bool) -> None:
        self.split = solution.split
        self.rho = solution.rho_device
        self.rho_s = solution.rho_server
        self.p = solution.tx_power_w
        self.f_device_hz = solution.f_device_hz
        self.f_server_hz = solution.f_server_hz
        self.feasible = solution.feasible
        self.kept = solution.kept_params
        self.admit = admit


#: The parameters of a solver-backed policy: ``joint``'s or an extension of them.
JointParamsT = TypeVar("JointParamsT", bound=JointParams)


class OptimisingPolicy(Policy[JointParamsT]):
    """Base of the solver-backed policies: subclasses pin bounds in :meth:`pin`."""

    name: ClassVar[str] = "joint"
    summary: ClassVar[str] = (
        "the paper's joint design: split, pruning, power and clocks maximising kept parameters "
        "within T0 and E0 (fast exact solver)"
    )
    Params = JointParams
    #: Split points forced by the policy itself (on-device / on-server), or None.
    forced_split: ClassVar[str | None] = None
    #: What it optimises against the latency budget (named when a group has none).
    optimises: ClassVar[str] = "the transmit power and clocks"
    #: Whether it decides generative requests on its own terms (not with this solver): their
    #: device groups then need no ``deadline_s`` (``joint``: the generative optimiser;
    #: ``on-device``, ``on-server``: unoptimised).
    own_generative: ClassVar[bool] = False
    #: whether its own decision of generative requests optimises against budgets (``joint``'s
    #: generative optimiser: it needs an ``slo`` or a deadline), or is fixed (on-device, ...)
    optimises_generative: ClassVar[bool] = False

    def __init__(self, params: JointParamsT, rng: np.random.Generator) -> None:
        super().__init__(params, rng)
        self.solver = JointSolver()
        self._cache: OrderedDict[tuple[object, ...], _Template] = OrderedDict()
        #: the warm-start key of the request being solved (its device), or None
        self._hint: object = None
        #: warm starts without a Problem (joint_fast), for a policy that solves joint's own
        #: problem (nothing pinned, the solver's own solve)
        cls = type(self)
        self._fast = (
            bool(getattr(params, "warm_start", False))
            and cls.pin is OptimisingPolicy.pin
            and cls.solve is OptimisingPolicy.solve
            and cls.expected_wait_s is OptimisingPolicy.expected_wait_s
            and cls.deadline_s is OptimisingPolicy.deadline_s
            and cls.server_slowdown is OptimisingPolicy.server_slowdown
        )
        self._tables: dict[tuple[int, int, int], FastTable] = {}
        self._last_table: FastTable | None = None
        #: the queue-aware policy's rounding of the budget left (0: none)
        self._deadline_step: float = getattr(params, "deadline_step", 0.0)

    def check_setting(self, setting: PolicySetting) -> None:
        """Refuse, besides what every policy refuses, a device group without a latency budget
        (``deadline_s`` infinite): the solver would have no optimum (``docs/policies.md``,
        "Budgets")."""
        super().check_setting(setting)
        bounded = setting.has_slo or not self.optimises_generative  # TTFT / TPOT bound it
        groups = tuple(
            g for g in setting.groups if not (g.generative and self.own_generative and bounded)
        )
        check_deadline_given(
            self.name,
            PolicySetting(groups, setting.servers, setting.slo_ttft_s, setting.slo_tpot_s),
            optimised=self.optimises,
        )

    # ---- hooks ---------------------------------------------------------------------------------

    def pin(self, problem: Problem, context: PolicyContext) -> Problem:
        """The problem with what this policy does not optimise pinned (``joint``: nothing)."""
        return problem

    def deadline_s(self, context: PolicyContext) -> float:
        """Latency budget the solver works with (``joint``: the request's own T0)."""
        return context.deadline_s

    def server_slowdown(self, context: PolicyContext) -> float:
        """Factor ≥ 1 on the server's time per cycle that the solver assumes (``joint``: 1)."""
        return 1.0

    def expected_wait_s(self, context: PolicyContext, split: int) -> float:
        """Queueing delay the policy expects for ``split`` (``joint``: 0), s."""
        return 0.0

    def solve(self, problem: Problem) -> Solution:
        """Solve the pinned problem (``no-pruning`` overrides this with an energy minimum)."""
        return self.solver.solve(problem, self._hint)

    # ---- deciding ------------------------------------------------------------------------------

    def splits(self, context: PolicyContext) -> list[int]:
        """Split points this policy may use for ``context``'s model."""
        last = context.model.last_split
        if self.forced_split == "device":
            return [last]
        if self.forced_split == "server":
            return [0]
        chosen = getattr(self.params, "splits", None)
        if chosen is None:
            return list(range(last + 1))
        return [split for split in chosen if split <= last] or [min(chosen)]

    def decide(self, context: PolicyContext) -> Decision:
        params: Any = self.params
        gain, work = context.gain, context.work_scale
        if params.channel_step_db > 0.0 and gain > 0.0:
            step = params.channel_step_db
            gain = 10.0 ** (math.floor(10.0 * math.log10(gain) / step) * step / 10.0)
        if params.work_step > 0.0 and work > 0.0:
            log_step = math.log1p(params.work_step)
            work = math.exp(math.ceil(math.log(work) / log_step - 1e-9) * log_step)
        if self._fast:  # (its own deadline, no slowdown: the hooks are not overridden)
            deadline, slowdown = context.deadline_s, 1.0
        else:
            deadline = self.deadline_s(context)
            deadline_step = self._deadline_step
            if deadline != context.deadline_s and deadline_step > 0.0 and deadline > 0.0:
                log_step = math.log1p(deadline_step)  # a budget reduced by waits: rounded down
                deadline = math.exp(math.floor(math.log(deadline) / log_step + 1e-9) * log_step)
            slowdown = self.server_slowdown(context)
        key = (
            id(context.model),
            id(context.device),
            id(context.server),
            gain,
            work,
            context.bandwidth_hz,
            context.noise_psd_w_per_hz,
            id(context.link),  # the cell's link model (None: Shannon)
            context.scale_payload,
            deadline,
            context.energy_budget_j,
            slowdown,
        )
        template = self._cache.get(key) if params.cache_size else None
        if template is None:
            if self._fast and deadline > 0.0 and slowdown == 1.0:
                template = self._fast_template(context, gain, work, deadline)
            if template is None:
                quantised = context._replace(gain=gain, work_scale=work)
                template = self._template(quantised, deadline, slowdown)
            if not template.feasible and (gain != context.gain or work != context.work_scale):
                template = self._template(context, deadline, slowdown)  # rounding cost it
            elif params.cache_size:
                self._cache[key] = template
                if len(self._cache) > params.cache_size:
                    self._cache.popitem(last=False)
        return self._decision(context, template, slowdown)

    def _template(self, context: PolicyContext, deadline: float, slowdown: float) -> _Template:
        params: Any = self.params
        # what the warm start could do without a Problem, _fast_template did: the exact path
        warm = not (self._fast and deadline > 0.0 and slowdown == 1.0)
        problem = Problem.from_context(
            context,
            splits=self.splits(context),
            rho_min=params.rho_min,
            deadline_s=deadline,
            server_slowdown=slowdown,
        )
        problem = self.pin(problem, context)
        # warm start from this device's previous solution (exact when false: joint_warm)
        self._hint = context.device_id if getattr(params, "warm_start", False) else None
        if deadline <= 0.0:
            solution = Solution.infeasible()
        elif warm:
            solution = self.solve(problem)
        else:
            solution = self.solver.solve(problem, self._hint, warm=False)
            self.solver.remember(self._table(context), self._hint)
        if solution.feasible:
            return _Template(solution, admit=True)
        fallback = self.best_effort(problem)
        return _Template(fallback, admit=params.on_infeasible == "best-effort")

    def _fast_template(
        self, context: PolicyContext, gain: float, work: float, deadline: float
    ) -> _Template | None:
        """The template of a request at this gain and work scale by the warm start without a
        :class:`Problem` (:meth:`JointSolver.solve_fast`), or None (solve it the exact way)."""
        solution = self.solver.solve_fast(
            self._table(context),
            context.device_id,
            gain,
            context.bandwidth_hz,
            context.noise_psd_w_per_hz,
            work,
            context.scale_payload,
            deadline,
            context.energy_budget_j,
        )
        if solution is None or not solution.feasible:
            return None
        return _Template(solution, admit=True)

    def _table(self, context: PolicyContext) -> FastTable:
        """The fast path's table of ``context``'s model, device and server (built on first use)."""
        table = self._last_table
        if (  # (table.fits, inlined)
            table is not None
            and context.model is table.model
            and context.device is table.device
            and context.server is table.server
        ):
            return table
        key = (id(context.model), id(context.device), id(context.server))
        table = self._tables.get(key)
        if table is None or not table.fits(context):
            params: Any = self.params
            table = self._tables[key] = FastTable(context, self.splits(context), params.rho_min)
        self._last_table = table
        return table

    def best_effort(self, problem: Problem) -> Solution:
        """Minimum-latency point at the best-effort keep: top clocks and power (not feasible)."""
        params: Any = self.params
        keep = max(params.best_effort_keep, params.rho_min)
        rho = min(max(keep, problem.rho_device_lo), problem.rho_device_hi)
        rho_s = min(max(keep, problem.rho_server_lo), problem.rho_server_hi)
        p, f, fs = problem.p_hi_w, problem.f_device_hi_hz, problem.f_server_hi_hz
        results = [problem.evaluate(i, rho, rho_s, p, f, fs) for i in range(len(problem.splits))]
        index = min(range(len(results)), key=lambda i: results[i][0])
        latency, energy, kept = results[index]
        return Solution(
            False, index, int(problem.splits[index]), rho, rho_s, p, f, fs, kept, latency, energy
        )

    @inline_builds  # the decision, built by name, compiled to a tuple
    def _decision(self, context: PolicyContext, template: _Template, slowdown: float) -> Decision:
        # (min and max as conditional expressions: the same floats, without the calls)
        server = context.server
        f_server, bound = template.f_server_hz * slowdown, server.f_max_hz
        f_server = bound if bound < f_server else f_server
        bound = server.f_min_hz
        f_server = bound if bound > f_server else f_server
        predicts = predict if not self._fast else self._table(context).predict  # (equal)
        latency, energy, distortion = predicts(
            context,
            template.split,
            template.rho,
            template.rho_s,
            template.p,
            template.f_device_hz,
            f_server,
        )
        if not self._fast:  # (joint's own expects no wait)
            latency += self.expected_wait_s(context, template.split)
        if slowdown != 1.0:  # a shared server stretches the server's compute time
            server_cycles = (
                template.rho_s
                * context.model.split_table.server_flops[template.split]
                * context.work_scale
                / context.server.flops_per_cycle
            )
            latency += (slowdown - 1.0) * server_cycles / f_server
        return build(
            Decision,
            split=template.split,
            rho_device=template.rho,
            rho_server=template.rho_s,
            tx_power_w=template.p,
            f_device_hz=template.f_device_hz,
            f_server_hz=f_server,
            predicted_latency_s=latency,
            predicted_energy_j=energy,
            predicted_distortion=distortion,
            feasible=template.feasible,
            admit=template.admit,
            mode="",
            weight_bits_device=0,
            weight_bits_server=0,
            payload_bits_per_value=0,
            kv_cache_bits=0,
            model="",
        )


class JointPolicy(OptimisingPolicy[JointParams]):
    """``joint``: the paper's design, every variable optimised, split searched.

    A generative request goes to the generative optimiser
    (:class:`~coinfer.policies.generative_joint.GenerativeOptimiser`: mode, split, ρ, ρ̃, p and
    f under the TTFT, TPOT, latency and energy budgets, with the server's batch state) with this
    policy's ``splits``, ``rho_min`` and ``on_infeasible``; a one-pass request is decided as
    before.
    """

    name = "joint"
    own_generative = True
    optimises_generative = True

    def __init__(self, params: JointParams, rng: np.random.Generator) -> None:
        super().__init__(params, rng)
        self._generative = GenerativeOptimiser(
            splits=params.splits,
            rho_min=params.rho_min,
            admit_infeasible=params.on_infeasible == "best-effort",
        )

    def decide(self, context: PolicyContext) -> Decision:
        if context.generative:
            return self._generative.decide(context)
        return OptimisingPolicy.decide(self, context)  # (super().decide without its object)


class QueueAwareParams(JointParams):
    """``joint`` parameters plus how much of the observed queueing to plan for."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    wait_weight: float = Field(
        default=1.0,
        ge=0.0,
        le=10.0,
        description="share of the observed waits subtracted from T0 (0: same as joint)",
    )
    deadline_step: float = Field(
        default=0.005,
        ge=0.0,
        le=0.5,
        description="decision cache: the budget left after the waits is rounded down to this "
        "relative grid (0: exact)",
    )


class QueueAwarePolicy(OptimisingPolicy[QueueAwareParams]):
    """``joint`` on the budget left after the waits the context shows (this project's extension).

    From the context it takes: the time until the device finishes its earlier requests (exact:
    the device is FCFS), the wait a request arriving now would face at an FCFS server (an
    estimate: by the time this request reaches the server, part of that backlog has drained
    and new requests may have arrived), and, at a processor-sharing server with n requests in
    service on c workers, the slowdown (n+1)/c of its own server compute. The upload is planned
    on the band share this upload would get now (``bandwidth_hz``), as ``joint`` does. It
    solves (P1) with ``T0 − wait_weight × (device wait + server wait)`` and the slowed server;
    energy is unchanged (a shared server spends the same energy per cycle).
    """

    name = "joint-queue-aware"
    summary = (
        "joint on the latency budget left after the device and server waits it observes, "
        "and on a shared server's slowdown (this project's extension)"
    )
    Params = QueueAwareParams

    def expected_wait_s(self, context: PolicyContext, split: int) -> float:
        weight = self.params.wait_weight
        wait = context.device_backlog_s
        if split < context.model.last_split and context.server_discipline == "fcfs":
            wait += context.server_backlog_s  # a request run wholly on the device never queues
        return weight * wait

    def deadline_s(self, context: PolicyContext) -> float:
        return context.deadline_s - self.expected_wait_s(context, 0)

    def server_slowdown(self, context: PolicyContext) -> float:
        if context.server_discipline != "ps":
            return 1.0
        sharing = (context.server_in_service + 1) / context.server_workers
        weight = self.params.wait_weight
        return max(1.0, 1.0 + weight * (sharing - 1.0))

    def _template(self, context: PolicyContext, deadline: float, slowdown: float) -> _Template:
        """Best of: any split with every wait planned for, and the whole model on the device,
        which waits only for the device (and is slowed by nothing at the server)."""
        queued = super()._template(context, deadline, slowdown)
        last = context.model.last_split
        server_wait = self.expected_wait_s(context, 0) - self.expected_wait_s(context, last)
        if (server_wait <= 0.0 and slowdown == 1.0) or last not in self.splits(context):
            return queued
        local_deadline = context.deadline_s - self.expected_wait_s(context, last)
        params: Any = self.params
        problem = self.pin(
            Problem.from_context(
                context, splits=[last], rho_min=params.rho_min, deadline_s=local_deadline
            ),
            context,
        )
        self._hint = None  # (the device's hint follows its usual problem, solved above)
        local = self.solve(problem) if local_deadline > 0.0 else Solution.infeasible()
        if local.feasible and (not queued.feasible or local.kept_params > queued.kept):
            return _Template(local, admit=True)
        return queued
