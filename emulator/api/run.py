"""Running a scenario from Python: ``simulate(scenario, seed)`` → trace and summary.

::

    from coinfer.emulator.api.run import simulate
    from coinfer.emulator.scenario.schema import load_scenario

    result = simulate(load_scenario("examples/scenarios/busy-cell.yaml"), seed=1)
    result.trace          # pandas DataFrame, one row per request
    result.summary        # headline figures (coinfer.emulator.api.summary.Summary)

With ``out_dir`` the trace is streamed to ``out_dir/trace.parquet`` (bounded memory) and a JSON
sidecar ``out_dir/run.json`` records the resolved scenario, seed, package versions and wall time.
The trace is then read back only when asked for (``result.trace``); the summary reads just the
columns it needs, so a run of millions of requests stays within bounded memory.
"""

from __future__ import annotations

import gc
import json
import logging
import math
import platform
import signal
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from coinfer.emulator.api.estimate import MAX_EVENTS, check_run_size
from coinfer.emulator.api.html import run_result_html, run_result_repr
from coinfer.emulator.api.progress import RunProgress, progress_wanted
from coinfer.emulator.api.summary import (
    GENERATIVE_SUMMARY_COLUMNS,
    SUMMARY_COLUMNS,
    Summary,
    SummaryAccumulator,
    summarize,
)
from coinfer.emulator.deployment.build import build_deployment
from coinfer.emulator.deployment.replay import ScenarioTraces, load_scenario_traces
from coinfer.emulator.deployment.spec import Deployment
from coinfer.emulator.engine.core import Engine, EngineStats
from coinfer.emulator.engine.generative import has_generative
from coinfer.emulator.engine.progress import Progress, watch
from coinfer.emulator.engine.routing import ServerChooser, policy_cannot_route
from coinfer.emulator.errors import InputError
from coinfer.emulator.model.quality import load_quality_model
from coinfer.emulator.output_files import check_output_dir, write_text_atomically
from coinfer.emulator.randomness import stream
from coinfer.emulator.scenario.schema import Scenario
from coinfer.emulator.trace.columns import HANDOVERS, TOKENS, TraceWriter
from coinfer.emulator.trace.writer import TableWriter
from coinfer.policies.base import Policy
from coinfer.policies.registry import make_policy
from coinfer.policies.setting import DeviceGroupSetting, PolicySetting

if TYPE_CHECKING:
    import pandas as pd

_log = logging.getLogger(__name__)

TRACE_FILE = "trace.parquet"
TOKENS_FILE = "tokens.parquet"
HANDOVERS_FILE = "handovers.parquet"
SIDECAR_FILE = "run.json"
_VERSIONED = ("coinfer", "simpy", "numpy", "scipy", "pandas", "pyarrow", "pydantic", "networkx")


@dataclass(frozen=True, repr=False)
class RunResult:
    """The outcome of one run (in Jupyter: a header and the summary table, :mod:`.html`)."""

    scenario: Scenario
    seed: int
    stats: EngineStats
    wall_time_s: float
    out_dir: Path | None
    _table: pa.Table | None  #: the trace in memory; None: read from ``out_dir`` when asked for
    token_trace: bool = False  #: whether the per-token table was kept
    _tokens: pa.Table | None = None  #: the token table in memory (None: in ``out_dir``)
    #: the signal that stopped the run early ("SIGINT", "SIGTERM"), or None: it ran to its end
    stopped_by: str | None = None
    #: the summary accumulated while the trace was written (None: computed from the trace)
    accumulated: SummaryAccumulator | None = None
    #: the handover table in memory (None: in ``out_dir``, or no device moves)
    _handovers: pa.Table | None = None

    def __repr__(self) -> str:
        return run_result_repr(self)

    def _repr_html_(self) -> str:
        return run_result_html(self)

    def read_tokens(self) -> pd.DataFrame:
        """The per-token table (the run must have been made with ``token_trace=True``)."""
        if not self.token_trace:
            raise ValueError("the run kept no token table; run it with token_trace=True")
        if self._tokens is not None:
            return self._tokens.to_pandas()
        assert self.out_dir is not None
        return pq.read_table(self.out_dir / TOKENS_FILE).to_pandas()

    def read_handovers(self) -> pd.DataFrame:
        """The handover table (:data:`~coinfer.emulator.trace.columns.HANDOVERS`) of a run
        whose devices move (docs/mobility.md): time, device, the cell it left and joined."""
        if self._handovers is not None:
            return self._handovers.to_pandas()
        path = None if self.out_dir is None else self.out_dir / HANDOVERS_FILE
        if path is None or not path.is_file():
            raise ValueError("the run has no handover table: no device group moves")
        return pq.read_table(path).to_pandas()

    def read_trace(
        self, columns: Sequence[str] | None = None, *, warmup: bool = True
    ) -> pd.DataFrame:
        """The trace, or only ``columns`` of it (read from ``out_dir`` if it was written there).

        ``warmup``: keep the rows of requests that arrived in the warm-up (True, the default:
        every request, each marked by its ``warmup`` column) or drop them (False: exactly the
        requests the :attr:`summary` counts).
        """
        names = None if columns is None else list(columns)
        read = names if warmup or names is None or "warmup" in names else [*names, "warmup"]
        if self._table is not None:
            table = self._table if read is None else self._table.select(read)
        else:
            assert self.out_dir is not None
            table = pq.read_table(self.out_dir / TRACE_FILE, columns=read)
        frame = table.to_pandas()
        if warmup:
            return frame
        frame = frame[~frame["warmup"].to_numpy(dtype=bool)].reset_index(drop=True)
        return frame if names is None or "warmup" in names else frame[names]

    @cached_property
    def trace(self) -> pd.DataFrame:
        """One row per request, the warm-up's included and marked by the ``warmup`` column (see
        :data:`emulator.trace.COLUMNS`); :attr:`measured_trace` leaves them out."""
        return self.read_trace()

    @cached_property
    def measured_trace(self) -> pd.DataFrame:
        """The rows of the requests the :attr:`summary` counts: those that arrived after the
        warm-up (``read_trace(warmup=False)``)."""
        trace = self.__dict__.get("trace")  # already in memory: filter it
        if trace is not None:
            return trace[~trace["warmup"].to_numpy(dtype=bool)].reset_index(drop=True)
        return self.read_trace(warmup=False)

    @cached_property
    def summary(self) -> Summary:
        """Headline figures (warm-up excluded), accumulated while the trace was written."""
        if self.accumulated is not None:
            return self.accumulated.summary(self.stats, self.scenario.warmup_s)
        trace = self.__dict__.get("trace")  # already in memory: reuse it
        if trace is None:
            columns = SUMMARY_COLUMNS
            if "output_tokens" in self.trace_columns():
                columns = (*columns, *GENERATIVE_SUMMARY_COLUMNS)
            trace = self.read_trace(columns)
        slo = self.scenario.slo
        if slo is None:
            return summarize(trace, self.stats, self.scenario.warmup_s)
        return summarize(trace, self.stats, self.scenario.warmup_s, slo.ttft_s, slo.tpot_s)

    def trace_columns(self) -> list[str]:
        """The names of the trace's columns (without reading it)."""
        if self._table is not None:
            return list(self._table.schema.names)
        assert self.out_dir is not None
        path = self.out_dir / TRACE_FILE
        if path.is_dir():  # a sharded run: one part per shard
            path = min(path.glob("*.parquet"))
        return list(pq.read_schema(path).names)


def prepare(
    scenario: Scenario,
    seed: int | None = None,
    *,
    trace_dir: str | Path | None = None,
    traces: ScenarioTraces | None = None,
    force: bool = False,
    max_events: float = MAX_EVENTS,
) -> tuple[Deployment, int]:
    """Resolve the scenario for ``seed`` (default: the scenario's) without running it.

    ``traces``: the input traces its device groups replay, already read (see
    :func:`emulator.replay.load_scenario_traces`); else they are read now, registered ones from
    ``trace_dir``, ``$COINFER_TRACE_DIR`` or the download cache. Raises
    :class:`~coinfer.emulator.errors.InputError` for anything the run would trip over: unknown
    hardware, models, traces or policy, a missing trace file, bad policy parameters, a topology
    that does not hold together, ``routing: policy`` with a policy that does not choose servers,
    and (unless ``force``) a run beyond this machine (:func:`~.estimate.check_run_size`).
    """
    seed = scenario.seed if seed is None else seed
    if not force:
        check_run_size(scenario, max_events)
    if traces is None:
        traces = load_scenario_traces(scenario, trace_dir)
    deployment, _ = _deployment_and_policy(scenario, seed, traces)
    return deployment, seed


def _deployment_and_policy(
    scenario: Scenario, seed: int, traces: ScenarioTraces, policy: Policy | None = None
) -> tuple[Deployment, Policy]:
    """The deployment and the policy of a run on ``seed``, each built once (see :func:`prepare`
    for what is refused); ``policy``: this one instead of the scenario's."""
    deployment = build_deployment(scenario, seed, traces)
    if policy is None:
        policy = make_policy(scenario.policy.name, scenario.policy.params, stream(seed, "policy"))
    policy.check_setting(policy_setting(deployment, scenario))
    if deployment.routing == "policy" and not isinstance(policy, ServerChooser):
        raise InputError(policy_cannot_route(policy.name))
    return deployment, policy


def policy_setting(deployment: Deployment, scenario: Scenario | None = None) -> PolicySetting:
    """The device groups (model, hardware, budgets) and server hardware of ``deployment``, and
    the generative objectives (``slo``) of ``scenario``."""
    groups: dict[str, DeviceGroupSetting] = {}
    for device in deployment.devices:
        if device.group not in groups:
            groups[device.group] = DeviceGroupSetting(
                device.group,
                device.model,
                device.hardware,
                deadline_s=device.deadline_s,
                energy_budget_j=device.energy_budget_j,
                generative=device.tokens is not None,
            )
    servers = {server.hardware.name: server.hardware for server in deployment.servers}
    slo = None if scenario is None else scenario.slo
    return PolicySetting(
        tuple(groups.values()),
        tuple(servers.values()),
        math.inf if slo is None else slo.ttft_s,
        math.inf if slo is None else slo.tpot_s,
    )


def simulate(
    scenario: Scenario,
    seed: int | None = None,
    out_dir: str | Path | None = None,
    *,
    trace_dir: str | Path | None = None,
    traces: ScenarioTraces | None = None,
    token_trace: bool = False,
    stop_on_signal: bool = False,
    force: bool = False,
    max_events: float = MAX_EVENTS,
    overwrite: bool = False,
    progress: bool | None = None,
) -> RunResult:
    """Run ``scenario`` on ``seed`` (default: the scenario's own seed).

    ``out_dir``: the folder its trace and sidecar are written to (None: kept in memory). A
    folder that already holds a run (its ``run.json``, ``trace.parquet`` or ``tokens.parquet``)
    is refused before the run unless ``overwrite`` (:class:`InputError`): a run's output is
    never replaced silently.

    ``progress``: a progress bar on stderr while the run executes (simulated time, requests
    done, events/s, ETA); None (the default): when stderr is a terminal and ``$CI`` is not set
    (:func:`~.progress.progress_wanted`). A run without it pays nothing for it
    (:mod:`coinfer.emulator.engine.progress`).

    ``stop_on_signal``: while the run executes, the first SIGINT (Ctrl-C) or SIGTERM stops it
    cleanly at the current simulated time: the trace holds the requests finished so far, the
    sidecar says ``"stopped_by": "SIGINT"`` (or ``SIGTERM``), and the result's
    :attr:`RunResult.stopped_by` names the signal; a second signal interrupts at once. Only in
    the main thread (elsewhere Python cannot handle signals, and nothing changes).

    ``trace_dir`` and ``traces``: where the input traces the scenario replays are read from, or
    the traces already read (to share them between runs), as for :func:`prepare`. Everything
    :func:`prepare` refuses is refused before any file is written to ``out_dir``; ``force``
    runs a scenario beyond this machine's means (or ``max_events`` engine events) anyway
    (:func:`~.estimate.check_run_size`).
    ``token_trace``: also keep the per-token table of generative requests
    (:data:`~coinfer.emulator.trace.columns.TOKENS`; ``out_dir/tokens.parquet``,
    :meth:`RunResult.read_tokens`).
    """
    started = time.perf_counter()
    seed = scenario.seed if seed is None else seed
    if not force:
        check_run_size(scenario, max_events)
    if traces is None:
        traces = load_scenario_traces(scenario, trace_dir)
    out = None if out_dir is None else check_output_dir(out_dir, "out_dir")
    if out is not None and not overwrite:
        check_no_run_in(out)
    writer = TraceWriter({}, None if out is None else out / TRACE_FILE)
    accumulated = summary_accumulator(scenario)
    writer.observe(accumulated.add)
    token_writer = None
    if token_trace:
        token_writer = TableWriter(TOKENS, {}, None if out is None else out / TOKENS_FILE)
    handover_writer = None
    if moves(scenario):
        handover_writer = TableWriter(HANDOVERS, {}, None if out is None else out / HANDOVERS_FILE)
    stopper = _SignalStop() if stop_on_signal else None
    bar = (
        RunProgress(scenario, seed)
        if (progress_wanted() if progress is None else progress)
        else None
    )
    try:
        with _collection_after_set_up() as set_up_done:
            stats = _run(
                scenario,
                seed,
                traces,
                writer,
                set_up_done,
                token_writer,
                stopper,
                bar,
                handover_writer,
            )
    finally:
        if bar is not None:
            bar.close()
    wall = time.perf_counter() - started
    _log.info(
        "%s: %d requests, simulated to %.6g s in %.3g s wall time",
        scenario.name,
        stats.requests,
        stats.sim_end_s,
        wall,
    )
    table = writer.table() if out is None else None  # a written trace is read on demand
    tokens = token_writer.table() if token_writer is not None and out is None else None
    stopped_by = None if stopper is None else stopper.signal_name
    handovers = handover_writer.table() if handover_writer is not None and out is None else None
    result = RunResult(
        scenario,
        seed,
        stats,
        wall,
        out,
        table,
        token_trace,
        tokens,
        stopped_by,
        accumulated=accumulated,
        _handovers=handovers,
    )
    if out is not None:
        write_sidecar(result, traces.describe(scenario))
    return result


def summary_accumulator(scenario: Scenario) -> SummaryAccumulator:
    """An empty accumulator of the summary of a run of ``scenario`` (with its SLOs)."""
    slo = scenario.slo
    if slo is None:
        return SummaryAccumulator()
    return SummaryAccumulator(slo.ttft_s, slo.tpot_s)


def moves(scenario: Scenario) -> bool:
    """Whether some device group of ``scenario`` has a mobility model (then the run writes a
    handover table)."""
    return any(
        group.mobility is not None and group.mobility.model != "static"
        for group in scenario.devices
    )


def check_no_run_in(out: Path) -> None:
    """Refuse (:class:`InputError`, argument ``out_dir``) a folder holding a run's output."""
    held = [
        name
        for name in (SIDECAR_FILE, TRACE_FILE, TOKENS_FILE, HANDOVERS_FILE)
        if (out / name).exists()
    ]
    if held:
        expected = "a folder without a run in it, or `overwrite` to replace that run"
        raise InputError(
            f"{str(out)!r} holds a run already ({', '.join(held)}); expected {expected}",
            argument="out_dir",
            value=str(out),
            expected=expected.replace("`", ""),
            mentions=("overwrite",),
        )


def _run(
    scenario: Scenario,
    seed: int,
    traces: ScenarioTraces,
    writer: TraceWriter,
    set_up_done: Callable[[bool], None],
    token_writer: TableWriter | None = None,
    stopper: _SignalStop | None = None,
    progress: Callable[[Progress], None] | None = None,
    handover_writer: TableWriter | None = None,
) -> EngineStats:
    """Set the run up (calling ``set_up_done`` when that is done) and run it; the engine, with
    its deployment and policy, is garbage once this returns."""
    engine = make_engine(
        scenario,
        seed,
        traces,
        writer,
        token_writer=token_writer,
        handover_writer=handover_writer,
    )
    if progress is not None:
        watch(engine, progress)
    set_up_done(len(engine.deployment.devices) >= FREEZE_FROM_DEVICES)
    try:
        if stopper is None:
            return engine.run()
        with stopper.watching(engine):
            return engine.run()
    finally:
        engine.release()  # freed now, not by the collector's full pass on leaving


def make_engine(
    scenario: Scenario,
    seed: int,
    traces: ScenarioTraces,
    writer: TraceWriter,
    *,
    policy: Policy | None = None,
    token_writer: TableWriter | None = None,
    devices: Collection[int] | None = None,
    handover_writer: TableWriter | None = None,
) -> Engine:
    """The engine of the run of ``scenario`` on ``seed``, set up and ready to :meth:`~Engine.run`
    (its devices' arrival processes created, ``writer`` labelled), deciding with the scenario's
    policy or with ``policy`` (``coinfer.gym`` hands the decisions to an agent this way).

    ``devices``: only the devices of these indices send requests (:meth:`Engine.start`; one
    shard of a sharded run); None: all of them.

    Refuses, with :class:`~coinfer.emulator.errors.InputError`, what :func:`prepare` refuses
    (except the run's size, which :func:`simulate` checks before)."""
    deployment, policy = _deployment_and_policy(scenario, seed, traces, policy)
    if has_generative(deployment):
        writer.use_generative()
    engine = Engine(
        deployment,
        policy,
        seed,
        writer,
        duration_s=scenario.duration_s,
        max_requests=scenario.requests,
        warmup_s=scenario.warmup_s,
        token_writer=token_writer,
        handover_writer=handover_writer,
        slo_ttft_s=math.inf if scenario.slo is None else scenario.slo.ttft_s,
        slo_tpot_s=math.inf if scenario.slo is None else scenario.slo.tpot_s,
        quality=load_quality_model(),
    )
    writer.set_labels(engine.labels())
    engine.start(devices)
    _log.info(
        "%s: seed %d, %d devices, %d cells, %d servers, policy %r; set up",
        scenario.name,
        seed,
        len(deployment.devices),
        len(deployment.cells),
        len(deployment.servers),
        policy.name,
    )
    return engine


class _SignalStop:
    """While :meth:`watching` an engine, SIGINT and SIGTERM stop it (:meth:`Engine.stop`)
    instead of killing the process; a second signal raises ``KeyboardInterrupt``."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.signal_name: str | None = None  #: the signal that stopped the run, if any

    @contextmanager
    def watching(self, engine: Engine) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def stop(signum: int, frame: object) -> None:
            if self.signal_name is not None:
                raise KeyboardInterrupt
            self.signal_name = signal.Signals(signum).name
            engine.stop()

        previous = {number: signal.signal(number, stop) for number in self.SIGNALS}
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)


#: Runs of at least this many devices freeze their set-up for the collector (see below).
FREEZE_FROM_DEVICES = 20_000
#: While a run executes, the collector's youngest generation is collected after this many
#: allocations (Python's default: 700): every request in flight is a few tracked objects, and
#: passes every 700 allocations cost several per cent of a run (see below).
RUN_GC_THRESHOLD = 20_000


@contextmanager
def _collection_after_set_up() -> Iterator[Callable[[bool], None]]:
    """Python's cyclic garbage collector paused while a run is set up, and, for a large run,
    the objects of the set-up (about a dozen per device, alive until the run ends) kept out of
    its passes during the run.

    Without this, the collector walks every device's objects again and again while they are
    being made: over half of the set-up time of 100,000 devices. Inside the block the collector
    is off until ``set_up_done(freeze)`` is called, then on again; with ``freeze`` everything
    made so far is first frozen (:func:`gc.freeze`). On leaving, the frozen objects return to the
    collector (:func:`gc.unfreeze`) and one full collection frees what is left of the finished
    run at once (its engine holds reference cycles; its per-device state, the bulk of it, was
    freed before by reference counting, :meth:`~coinfer.emulator.engine.core.Engine.release`):
    left for later, it would be frozen again, and kept alive, by the next large run. That
    collection costs a pass over everything alive (about 50 ms in a bare process), which is why
    small runs are not frozen. While the run executes, the
    youngest generation is collected every :data:`RUN_GC_THRESHOLD` allocations instead of 700
    (the thresholds are restored on leaving). Nothing is changed when collection was already
    off; when someone else froze objects, nothing is frozen.
    """
    if not gc.isenabled():
        yield lambda freeze: None
        return
    can_freeze = gc.get_freeze_count() == 0
    frozen = False

    thresholds = gc.get_threshold()

    def set_up_done(freeze: bool) -> None:
        nonlocal frozen
        if freeze and can_freeze and not frozen:
            gc.freeze()
            frozen = True
        gc.set_threshold(max(thresholds[0], RUN_GC_THRESHOLD), *thresholds[1:])
        gc.enable()

    gc.disable()
    try:
        yield set_up_done
    finally:
        gc.set_threshold(*thresholds)
        gc.enable()
        if frozen:
            gc.unfreeze()
            gc.collect()


def package_versions() -> dict[str, str]:
    """Versions of Python and of the packages a run depends on."""
    versions = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def write_sidecar(
    result: RunResult,
    inputs: list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``run.json`` next to the trace: scenario, seed, versions, wall time, summary, and
    the input traces replayed (``inputs``: field, group, reference and provenance of each);
    ``extra``: more entries (how a sharded run was split, say)."""
    assert result.out_dir is not None
    path = result.out_dir / SIDECAR_FILE
    payload = {
        "scenario": result.scenario.model_dump(mode="json"),
        "seed": result.seed,
        "input_traces": inputs or [],
        "versions": package_versions(),
        "wall_time_s": result.wall_time_s,
        "requests": result.stats.requests,
        "summary": result.summary.to_dict(),
        "trace": TRACE_FILE,
        "stopped_by": result.stopped_by,
        "stopped_at_s": result.stats.stopped_at_s,
        **(extra or {}),
    }
    write_text_atomically(path, json.dumps(payload, indent=2, allow_nan=True) + "\n")
    return path
