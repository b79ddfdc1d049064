"""The Gymnasium environment: one step per request's decision.

An episode is the run of a scenario on a seed. :meth:`RequestEnv.reset` starts the engine; it
runs until the first request arrives and hands its :class:`~coinfer.policies.base.PolicyContext`
to the agent as an observation (:class:`~coinfer.gym.features.Observation`).
:meth:`RequestEnv.step` maps the agent's action to the request's
:class:`~coinfer.policies.base.Decision` (:class:`~coinfer.gym.features.Actions`), and the engine
runs on until the next request arrives (or the run ends). The reward of a step is the reward
(:mod:`coinfer.gym.reward`) of every request that left the system since the previous decision,
``t_done`` at most the time of the next one (a request's reward comes when it has finished, not
when it was decided: the reward is delayed); when the run ends, the remaining ones are credited
and the episode terminates.

How the engine hands its decisions over: the engine calls ``policy.decide(context)`` inside
SimPy's callbacks, so the run goes on in a worker thread whose policy (``agent``) hands the
context over and waits for the action. The two threads strictly take turns (each waits on a lock
the other releases), so the run is exactly the one the engine makes with any policy that decides
the same: the same seed and the same decisions give the same trace as
:func:`~coinfer.emulator.api.run.simulate` (tests/gym). The worker ends with the episode, on
:meth:`RequestEnv.close`, on the next :meth:`RequestEnv.reset` and when the environment is
garbage-collected; the engine itself is unchanged.
"""

from __future__ import annotations

import heapq
import math
import operator
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, SupportsFloat

import gymnasium
import numpy as np
from gymnasium import spaces

from coinfer.emulator.api.estimate import MAX_EVENTS, check_run_size
from coinfer.emulator.api.run import make_engine, policy_setting
from coinfer.emulator.deployment.build import build_deployment
from coinfer.emulator.deployment.replay import (
    NO_TRACES,
    ScenarioTraces,
    load_scenario_traces,
    uses_traces,
)
from coinfer.emulator.engine.core import EngineStats
from coinfer.emulator.errors import InputError
from coinfer.emulator.model.profiles import ModelProfile
from coinfer.emulator.randomness import stream
from coinfer.emulator.scenario.schema import Scenario, load_scenario
from coinfer.emulator.trace.columns import TRACE, TraceWriter
from coinfer.gym.features import Actions, Observation
from coinfer.gym.reward import Outcome, Reward
from coinfer.policies.base import Decision, Policy, PolicyContext

if TYPE_CHECKING:
    import pandas as pd

#: The name of the environment in Gymnasium's registry.
ENV_ID = "coinfer/Request-v0"

#: The name the trace's ``policy`` column gives the agent.
AGENT_POLICY = "agent"


class _Closed(BaseException):
    """Raised in the worker's policy to end an abandoned run (a BaseException, so that no
    ``except Exception`` on the way swallows it)."""


class _Handoff:
    """The turn-taking of the agent and the engine's worker thread.

    Each side waits on its own lock, which the other side releases: the worker releases
    ``to_agent`` when it has a context (or the run has ended) and waits on ``to_engine``; the
    agent sets the decision, releases ``to_engine`` and waits on ``to_agent``.
    """

    __slots__ = (
        "closing",
        "context",
        "decision",
        "error",
        "finished",
        "stats",
        "to_agent",
        "to_engine",
    )

    def __init__(self) -> None:
        self.to_engine = threading.Lock()
        self.to_engine.acquire()
        self.to_agent = threading.Lock()
        self.to_agent.acquire()
        self.context: PolicyContext | None = None
        self.decision: Decision | None = None
        self.closing = False
        self.finished = False
        self.error: BaseException | None = None
        self.stats: EngineStats | None = None


class _AgentPolicy(Policy[Policy.Params]):
    """The worker's policy: hands each context to the agent and returns its decision."""

    name = AGENT_POLICY
    summary = "hands each decision to a Gymnasium agent (coinfer.gym)"

    def __init__(self, handoff: _Handoff, rng: np.random.Generator) -> None:
        super().__init__(Policy.Params(), rng)
        self._handoff = handoff

    def decide(self, context: PolicyContext) -> Decision:
        handoff = self._handoff
        if handoff.closing:
            raise _Closed
        handoff.context = context
        handoff.to_agent.release()
        handoff.to_engine.acquire()
        if handoff.closing:
            raise _Closed
        return handoff.decision  # type: ignore[return-value]  # set by the agent


def _work(engine: Any, handoff: _Handoff) -> None:
    """The worker thread: run the engine to its end (or until it is abandoned)."""
    try:
        handoff.stats = engine.run()
    except _Closed:
        pass
    except BaseException as err:  # handed to the agent, which raises it
        handoff.error = err
    finally:
        handoff.context = None
        handoff.finished = True
        handoff.to_agent.release()


def _abandon(handoff: _Handoff, thread: threading.Thread) -> None:
    """End a run still under way: its worker raises out of the engine and ends."""
    if thread.is_alive() and not handoff.finished:
        handoff.closing = True
        handoff.to_engine.release()
        thread.join()


class _NotingWriter(TraceWriter):
    """The trace writer of an episode: also keeps the rows written since it was last asked."""

    def __init__(self) -> None:
        super().__init__({})
        self.fresh: list[tuple[Any, ...]] = []
        keep, note, full = self.append, self.fresh.append, self.full_row

        def append(row: tuple[Any, ...]) -> None:
            keep(row)
            note(full(row))  # with its template's columns: a row of TRACE

        self.append = append


_COLUMN = {name: index for index, name in enumerate(TRACE.field_names)}


class _Outcomes:
    """Reads a trace row as an :class:`Outcome` (fields by name, through the declaration)."""

    def __init__(self, setting_models: dict[str, Any], labels: dict[str, list[str]]) -> None:
        self._status = labels["status"]
        self._models = [setting_models[name] for name in labels["model"]]
        #: per model code: its split table and parameter count (a sum, computed once here)
        self._tables = [(model.split_table, model.total_params) for model in self._models]
        c = _COLUMN
        self._fields = (
            c["request_id"],
            c["status"],
            c["t_arrival"],
            c["t_done"],
            c["latency_s"],
            c["deadline_s"],
            c["deadline_met"],
            c["energy_total_j"],
            c["energy_device_j"],
            c["energy_budget_j"],
            c["distortion_bound"],
        )
        self._get = operator.itemgetter(
            *self._fields, c["model"], c["split"], c["rho_device"], c["rho_server"]
        )

    def of(self, row: tuple[Any, ...]) -> Outcome:
        (
            request_id,
            status,
            t_arrival,
            t_done,
            latency,
            deadline,
            met,
            energy,
            device_energy,
            budget,
            distortion,
            model_code,
            split,
            rho_device,
            rho_server,
        ) = self._get(row)
        table, total = self._tables[model_code]
        kept = (
            rho_device * table.device_params[split] + rho_server * table.server_params[split]
        ) / total
        return Outcome(
            request_id=request_id,
            status=self._status[status],
            t_arrival=t_arrival,
            t_done=t_done,
            latency_s=latency,
            deadline_s=deadline,
            deadline_met=bool(met),
            energy_total_j=energy,
            energy_device_j=device_energy,
            energy_budget_j=budget,
            kept_fraction=float(kept),
            distortion_bound=distortion,
        )


class RequestEnv(gymnasium.Env[np.ndarray, np.ndarray]):
    """Each step decides one request of a scenario's run (see the module).

    ``scenario``: a :class:`~coinfer.emulator.scenario.schema.Scenario` (or use
    :func:`make_request_env` with a YAML path); every device group one-pass (no ``tokens``),
    servers not chosen by the policy (``routing: policy`` is refused). ``reward``: a function
    of a finished request's :class:`~coinfer.gym.reward.Outcome` (default :class:`Reward`).
    ``actions``: ``normalised`` or ``si`` and ``admission``: whether the action has an admit
    number (:mod:`coinfer.gym.features`). ``late_at_deadline`` (default reward only): a request
    still unfinished when its deadline passes has its late penalty credited at the next decision
    (it is certainly late by then), the rest of its reward when it finishes; the total is the
    same, but a decision that builds up queues hears of it within about T0, not when the
    queues drain. ``traces``: the input traces the scenario replays,
    already read (:func:`~coinfer.emulator.deployment.replay.load_scenario_traces`; needed only
    when it replays any). Unless ``force``, a run beyond this machine is refused as by
    :func:`~coinfer.emulator.api.run.simulate`.

    ``reset(seed=s)`` runs seed ``s``; ``reset()`` the scenario's own seed the first time,
    then seeds drawn from the environment's generator (seeded by the first), so that a sequence
    of episodes is reproducible. :attr:`context` is the current request's context (for experts
    and for checks), :meth:`trace` the finished episode's trace. A step's ``info`` gives the
    episode's ``seed``, the next request's ``request_id`` and ``time_s``, and ``credited``: the
    ids of the requests whose reward the step credits, in the order summed (with
    ``late_at_deadline``, ``-1 - id`` for a late penalty credited at the deadline).
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 (Gymnasium's class attribute)

    def __init__(
        self,
        scenario: Scenario,
        *,
        reward: Callable[[Outcome], float] | None = None,
        actions: str = "normalised",
        admission: bool = False,
        late_at_deadline: bool = False,
        traces: ScenarioTraces | None = None,
        force: bool = False,
        max_events: float = MAX_EVENTS,
    ) -> None:
        if not isinstance(scenario, Scenario):
            raise InputError(
                f"got {type(scenario).__name__}, expected a Scenario (make_request_env reads "
                "a YAML file)",
                argument="scenario",
                value=scenario,
                expected="a Scenario",
            )
        if reward is not None and not callable(reward):
            raise InputError(
                f"got {reward!r}, expected a function of a request's Outcome",
                argument="reward",
                value=reward,
                expected="a callable",
            )
        if late_at_deadline and not isinstance(reward or Reward(), Reward):
            raise InputError(
                "got a reward function of its own, expected a Reward (its late penalty is "
                "what is credited at the deadline)",
                argument="late_at_deadline",
                value=True,
                expected="the default reward (a Reward)",
            )
        if not force:
            check_run_size(scenario, max_events)
        self.scenario = scenario
        for index, group in enumerate(scenario.devices):
            if group.tokens is not None:
                raise InputError(
                    "generative requests are not decided through the environment yet; expected "
                    "one-pass device groups (no tokens)",
                    path=f"devices[{index}].tokens",
                    value=group.tokens,
                    expected="no tokens",
                )
        if traces is None:
            if uses_traces(scenario):
                raise InputError(
                    f"scenario {scenario.name!r} replays input traces and none were given; "
                    "expected them read (load_scenario_traces, or make_request_env with "
                    "trace_dir)",
                    argument="traces",
                    expected="the scenario's input traces",
                )
            traces = NO_TRACES
        self._traces = traces
        deployment = build_deployment(scenario, scenario.seed, self._traces)
        if deployment.routing == "policy":
            raise InputError(
                "the agent decides the request, not its server; expected routing own or "
                "least-loaded",
                path="topology.routing",
                value="policy",
                expected="own or least-loaded",
            )
        setting = policy_setting(deployment)
        self.reward_function: Callable[[Outcome], float] = reward or Reward()
        self.observation_encoder = Observation(setting)
        self.actions = Actions(setting, actions, admission)
        self._models = {group.model.name: group.model for group in setting.groups}
        self.observation_space = spaces.Box(
            self.observation_encoder.low, self.observation_encoder.high, dtype=np.float32
        )
        self.action_space = spaces.Box(
            self.actions.bounds.low, self.actions.bounds.high, dtype=np.float64
        )
        self.run_seed: int | None = None  #: the seed of the current episode
        self.context: PolicyContext | None = None  #: the request being decided
        self._episodes = 0
        self._handoff: _Handoff | None = None
        self._thread: threading.Thread | None = None
        self._finalizer: weakref.finalize | None = None
        self._writer: _NotingWriter | None = None
        self._outcomes: _Outcomes | None = None
        self._pending: list[tuple[float, int, float]] = []  # (t_done, request id, reward)
        #: with late_at_deadline: (deadline expiry, request id) of the requests decided
        self._expiring: list[tuple[float, int]] = []
        self._done_at: dict[int, float] = {}  # t_done of requests written, while they may expire
        self._late: set[int] = set()  # requests whose late penalty was credited at the deadline
        self.late_at_deadline = late_at_deadline
        self._last_observation = np.zeros(self.observation_encoder.size, dtype=np.float32)

    # ---- the Gymnasium interface ----------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        if seed is None and self._episodes == 0:
            seed = self.scenario.seed
        super().reset(seed=seed)
        if seed is None:
            seed = int(self.np_random.integers(0, 2**31 - 1))
        self._end_run()
        self._episodes += 1
        self.run_seed = seed
        handoff = _Handoff()
        writer = _NotingWriter()
        policy = _AgentPolicy(handoff, stream(seed, "policy"))
        engine = make_engine(self.scenario, seed, self._traces, writer, policy=policy)
        self._outcomes = _Outcomes(self._models, engine.labels())
        thread = threading.Thread(
            target=_work, args=(engine, handoff), name=f"coinfer-gym-{seed}", daemon=True
        )
        del engine, policy  # the worker holds them
        self._handoff, self._thread, self._writer = handoff, thread, writer
        self._finalizer = weakref.finalize(self, _abandon, handoff, thread)
        self._pending, self._expiring, self._done_at, self._late = [], [], {}, set()
        self.observation_encoder.reset()
        thread.start()
        handoff.to_agent.acquire()
        self._raise_error()
        if handoff.finished:
            raise InputError(
                f"the run of scenario {self.scenario.name!r} on seed {seed} has no request to "
                "decide; expected at least one arrival",
                argument="scenario",
                value=self.scenario.name,
                expected="at least one request",
            )
        observation = self._observe()
        return observation, self._info(())

    def step(
        self, action: np.ndarray
    ) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        handoff = self._handoff
        context = self.context
        if handoff is None or context is None:
            raise gymnasium.error.ResetNeeded(
                "step() without an episode under way; call reset() first"
            )
        handoff.decision = self.actions.decision(action, context)
        if self.late_at_deadline and context.deadline_s < math.inf:
            heapq.heappush(
                self._expiring, (context.time_s + context.deadline_s, context.request_id)
            )
        handoff.to_engine.release()
        handoff.to_agent.acquire()
        self._raise_error()
        terminated = handoff.finished
        now = math.inf if terminated else handoff.context.time_s  # type: ignore[union-attr]
        reward, credited = self._credit(now)
        observation = self._last_observation if terminated else self._observe()
        if terminated:
            self.context = None
        return observation, reward, terminated, False, self._info(credited)

    def close(self) -> None:
        """End the episode under way (its worker thread ends)."""
        self._end_run()
        super().close()

    # ---- the episode's trace ------------------------------------------------------------

    def trace(self) -> pd.DataFrame:
        """The trace of the finished episode: the rows :func:`~coinfer.emulator.api.run.simulate`
        writes, the ``policy`` column saying ``agent``."""
        handoff, writer = self._handoff, self._writer
        if handoff is None or writer is None or not handoff.finished:
            raise RuntimeError("the episode is not finished: step until it terminates")
        return writer.table().to_pandas()

    @property
    def models(self) -> dict[str, ModelProfile]:
        """The scenario's model profiles by name (for :func:`~coinfer.gym.reward.trace_rewards`)."""
        return dict(self._models)

    @property
    def stats(self) -> EngineStats | None:
        """What the engine measured besides the trace (once the episode is finished)."""
        return None if self._handoff is None else self._handoff.stats

    # ---- inside -------------------------------------------------------------------------

    def _observe(self) -> np.ndarray:
        context = self._handoff.context  # type: ignore[union-attr]
        self.context = context
        observation = self.observation_encoder.encode(context)  # type: ignore[arg-type]
        self._last_observation = observation
        return observation

    def _info(self, credited: tuple[int, ...]) -> dict[str, Any]:
        context = self.context
        return {
            "seed": self.run_seed,
            "request_id": -1 if context is None else context.request_id,
            "time_s": math.nan if context is None else context.time_s,
            "credited": credited,
        }

    def _credit(self, now: float) -> tuple[float, tuple[int, ...]]:
        """The summed reward of the requests finished by ``now`` (s), and their ids (with
        ``late_at_deadline``, also the late penalty of those whose deadline passed unfinished,
        their ids negated, -1 - id)."""
        writer, outcomes, pending = self._writer, self._outcomes, self._pending
        assert writer is not None and outcomes is not None
        late_at_deadline = self.late_at_deadline
        if writer.fresh:
            reward_of = self.reward_function
            for row in writer.fresh:
                outcome = outcomes.of(row)
                heapq.heappush(
                    pending, (outcome.t_done, outcome.request_id, float(reward_of(outcome)))
                )
                if late_at_deadline and outcome.deadline_s < math.inf:
                    self._done_at[outcome.request_id] = outcome.t_done
            writer.fresh.clear()
        total = 0.0
        credited: list[int] = []
        if late_at_deadline:
            expiring, done_at, late = self._expiring, self._done_at, self._late
            penalty = self.reward_function.late  # type: ignore[attr-defined]  # a Reward
            while expiring and expiring[0][0] < now:
                expiry, request_id = heapq.heappop(expiring)
                done = done_at.pop(request_id, math.inf)
                if done > expiry:  # unfinished at its deadline: certainly late
                    late.add(request_id)
                    total -= penalty
                    credited.append(-1 - request_id)
        while pending and pending[0][0] <= now:
            _, request_id, reward = heapq.heappop(pending)
            if late_at_deadline and request_id in self._late:
                self._late.discard(request_id)
                self._done_at.pop(request_id, None)
                reward += self.reward_function.late  # type: ignore[attr-defined]  # credited
            total += reward
            credited.append(request_id)
        return total, tuple(credited)

    def _raise_error(self) -> None:
        handoff = self._handoff
        if handoff is not None and handoff.error is not None:
            error, handoff.error = handoff.error, None
            raise error

    def _end_run(self) -> None:
        if self._finalizer is not None:
            self._finalizer()  # abandons the run if it is under way
            self._finalizer = None
        self.context = None


def make_request_env(
    scenario: Scenario | str | Path,
    *,
    trace_dir: str | Path | None = None,
    overrides: list[str] | None = None,
    **options: Any,
) -> RequestEnv:
    """The environment of ``scenario``: a Scenario or a YAML file (with ``overrides``,
    ``dotted.path=value``), its input traces read from ``trace_dir`` (as ``coinfer run``
    reads them); ``options`` as :class:`RequestEnv` takes them. The entry point of
    ``gymnasium.make("coinfer/Request-v0", scenario=...)``."""
    if isinstance(scenario, (str, Path)):
        scenario = load_scenario(scenario, overrides)
    elif overrides:
        raise InputError(
            "overrides apply to a scenario file; expected a path with them",
            argument="overrides",
            value=overrides,
            expected="a scenario file",
        )
    if not isinstance(scenario, Scenario):
        raise InputError(
            f"got {type(scenario).__name__}, expected a Scenario or the path of a scenario file",
            argument="scenario",
            value=scenario,
            expected="a Scenario or a path",
        )
    traces = load_scenario_traces(scenario, trace_dir)
    return RequestEnv(scenario, traces=traces, **options)
