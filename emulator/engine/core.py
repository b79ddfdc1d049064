"""The SimPy engine: the life of every request, from arrival to result.

One :class:`simpy.Environment` per run. Every device generates its requests by a chain of
timeouts (each arrival schedules the next; a group with merged arrivals has one chain). A
request then goes through:

1. **decision**: the policy gets a :class:`~coinfer.policies.base.PolicyContext` and returns a
   :class:`~coinfer.policies.base.Decision`, checked against the bounds; a request the policy does
   not admit leaves as ``infeasible``;
2. **device**: FCFS on the device, at the chosen clock and pruning (start and finish computed on
   arrival; one timeout fires when the device is done);
3. **uplink**: ``θ(l)`` bits over the cell's shared, fading band (:mod:`emulator.uplink`), or
   over a replayed capacity or SNR trace (:mod:`emulator.replay_links`);
   then, with a topology whose server is not at the access point, the **backhaul**: the wired
   path to the server, hop by hop on shared links (:mod:`emulator.backhaul`);
4. **server**: its discipline (:mod:`emulator.engine.servers`: FCFS on parallel workers,
   computed, or processor sharing, or a plug-in) takes it; a full server drops the request;
5. **downlink**: the result at a fixed rate, if the scenario has a downlink.

Per request the engine costs one arrival timeout, one device timeout and about one uplink
wake-up (plus about two per wired hop with a topology): queue waits are computed, not simulated,
wherever first-come-first-served order makes them known in advance. Every formula comes from
:mod:`emulator.reference`.

The server of a request is chosen on arrival, before the policy decides: the cell's own server,
or with a topology the least loaded reachable one or the policy's choice
(:mod:`emulator.candidates`).

A device of a group with a ``mobility`` model moves (:mod:`coinfer.emulator.engine.handover`):
its cell and gain are brought up to date when one of its requests arrives or starts its upload,
and a handover during an upload moves the upload (and possibly its server) to the new cell.

A request of a device group with ``tokens`` is *generative*: after the decision it leaves this
module for :mod:`coinfer.emulator.engine.generative`, which runs its prefill and decode steps on
the device, the link and a server whose discipline batches them (``continuous-batching``), and
writes its row.
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import simpy

from coinfer.emulator.compiled import use_compiled
from coinfer.emulator.deployment.spec import (
    CellSpec,
    Deployment,
    DeviceSpec,
    LinkSpec,
    RouteSpec,
    ServerSpec,
    model_sizes,
    server_memory,
)
from coinfer.emulator.engine.backhaul import WiredLinkResource
from coinfer.emulator.engine.compact import CompactRun, compact_distortion, is_compact, resolve
from coinfer.emulator.engine.draws import ArrivalProcess, WorkLaw
from coinfer.emulator.engine.fading import BlockFading, FadingLaw
from coinfer.emulator.engine.generative import Generative, GenState, has_generative
from coinfer.emulator.engine.handover import Handovers
from coinfer.emulator.engine.interference import Interference
from coinfer.emulator.engine.merged import (
    MERGED_STREAM,
    is_merged,
    merged_arrivals,
    merged_groups,
)
from coinfer.emulator.engine.model_cache import ServerModels
from coinfer.emulator.engine.quality import QualityColumns
from coinfer.emulator.engine.routing import (
    CandidateServer,
    ServerChooser,
    least_loaded,
    policy_cannot_route,
)
from coinfer.emulator.engine.servers import ServerDiscipline
from coinfer.emulator.engine.sharing import SharedJob
from coinfer.emulator.engine.uplink import UplinkSharing
from coinfer.emulator.errors import InputError
from coinfer.emulator.model.families import students_of
from coinfer.emulator.model.profiles import ModelProfile, SplitTable
from coinfer.emulator.model.quality import QualityModel
from coinfer.emulator.model.quantization import scaled_payload_bits
from coinfer.emulator.model.reference import compute_cost_float, distortion_bound
from coinfer.emulator.plugins import ARRIVALS, FADING, PLACEMENT, SERVERS, SHARING, WORK
from coinfer.emulator.randomness import Streams
from coinfer.emulator.randomness import stream as single_stream
from coinfer.emulator.records import build, inline_builds
from coinfer.emulator.trace.columns import TEMPLATE_COLUMNS, TRACE_ROW, TRACE_TEMPLATE, TraceWriter
from coinfer.emulator.trace.writer import TableWriter
from coinfer.policies.base import Decision, Policy, PolicyContext, PolicyError, check_decision

use_compiled(__name__, __file__)  # its compiled build, if built from this source

if TYPE_CHECKING:
    from coinfer.emulator.deployment.replay_links import CapacityLink, SnrLink
    from coinfer.emulator.engine.handover import RadioTrack

_DISTORTION_CACHE = 4096  # distortion bounds remembered per model

STATUS_LABELS = ["completed", "dropped", "infeasible"]
_COMPLETED, _DROPPED, _INFEASIBLE = 0, 1, 2


_SpecT = TypeVar("_SpecT", CellSpec, ServerSpec)


class Request(SharedJob):
    """One request in flight (a job of the uplink and, under processor sharing, the server)."""

    __slots__ = (
        "backhaul_done_s",
        "band_seen",
        "cell",
        "compact",
        "decision",
        "device",
        "device_compute_j",
        "device_compute_s",
        "device_done_s",
        "device_start_s",
        "download_wait_s",
        "exit_block",
        "f_server_hz",
        "fading",
        "gain_seen",
        "gen",
        "handovers",
        "hop",
        "id",
        "link",
        "load_bytes",
        "mean_gain",
        "memory_refused",
        "payload_bits",
        "route",
        "run_split",
        "server",
        "server_energy_j",
        "server_flops",
        "server_index",
        "server_start_s",
        "server_wait_s",
        "t_arrival",
        "table",
        "tx_power_w",
        "tx_start_s",
        "uplink_done_s",
        "uplink_energy_j",
        "work_scale",
    )

    # The slots, set by the engine as the request goes along (declared for the type checker).
    backhaul_done_s: float
    band_seen: float
    cell: int  #: the cell it arrived in (then: the cell of its upload)
    compact: CompactRun | None  #: the model and widths of a compact decision (None: own)
    decision: Decision
    download_wait_s: float  #: wait for the device's model download, s
    exit_block: int  #: the block the request stops after (L: no early exit; 0: never ran)
    load_bytes: float  #: weight bytes this request's download and load moved, B
    run_split: int  #: the split point it runs at: min(split, exit_block)
    server_wait_s: float  #: wait for the server to load the model, s
    table: SplitTable  #: split table of the model it runs (truncated at its exit)
    device: _Device
    device_compute_j: float
    device_compute_s: float
    device_done_s: float
    device_start_s: float
    f_server_hz: float
    fading: BlockFading | None
    gain_seen: float
    gen: GenState | None  #: the generative part of the request (None: a one-pass request)
    handovers: int  #: handovers of its device from its arrival to its upload's end
    hop: int
    id: int
    link: CapacityLink | SnrLink | None
    mean_gain: float
    memory_refused: bool  #: infeasible because the device side does not fit its memory
    payload_bits: float
    route: _Route | None
    server: ServerDiscipline
    server_energy_j: float
    server_flops: float
    server_index: int
    server_start_s: float
    t_arrival: float
    tx_power_w: float
    tx_start_s: float
    uplink_done_s: float
    uplink_energy_j: float
    work_scale: float


class _Route:
    """A wired path compiled for the run: an initial delay, then (link, latency after) steps."""

    __slots__ = ("initial_s", "latency_s", "return_s", "s_per_bit", "steps")

    def __init__(
        self,
        initial_s: float,
        steps: tuple[tuple[WiredLinkResource, float], ...],
        return_s: float,
        latency_s: float = 0.0,
        s_per_bit: float = 0.0,
    ) -> None:
        self.initial_s = initial_s  #: latency of ideal links before the first shared link, s
        self.steps = steps  #: each shared link and the latency to wait after it, s
        self.return_s = return_s  #: time to return the result over the path, s
        self.latency_s = latency_s  #: the path's latency, s
        self.s_per_bit = s_per_bit  #: sum of 1/bandwidth along the path, s/bit


class _Option:
    """A server a cell's requests may use, with the compiled route to it."""

    __slots__ = ("index", "resources", "route", "server", "spec", "static")

    def __init__(
        self,
        spec: ServerSpec,
        server: ServerDiscipline,
        route: _Route | None,
        resources: tuple[WiredLinkResource, ...],
        static: tuple[float, float, float],
    ) -> None:
        self.index = spec.index
        self.spec = spec
        self.server = server  #: the run-time server
        self.route = route  #: None: at the access point (no backhaul)
        self.resources = resources  #: the shared links of the path (for their transfer counts)
        self.static = static  #: (latency, s/bit, return time) of the path


class _Device:
    """A device's run-time state: its FCFS compute queue, fading link and random draws."""

    __slots__ = (
        "codes",
        "exits",
        "fading",
        "free_at",
        "gaps",
        "held_blocks",
        "link",
        "mean_gain",
        "options",
        "parked",
        "pending",
        "server",
        "server_index",
        "spec",
        "templates",
        "tokens",
        "track",
        "uplink",
        "work",
    )

    # Set by Engine._make_device once the run's uplinks and servers exist.
    uplink: UplinkSharing
    server: ServerDiscipline
    options: tuple[_Option, ...] | None
    codes: tuple[int, int, int]  #: (device index, cell index, model code)
    server_index: int

    def __init__(
        self,
        spec: DeviceSpec,
        fading: BlockFading | None,
        gaps: Iterator[float],
        work: Iterator[float] | None,
        tokens: Iterator[tuple[int, int]] | None = None,
    ):
        self.spec = spec
        self.fading = fading
        self.link = spec.link  #: a replayed capacity or SNR trace (then no fading), or None
        self.gaps = gaps  #: inter-arrival times, s
        self.work = work  #: work scales of its requests (None for a generative device)
        self.tokens = tokens  #: (prompt, output) tokens of its requests (None: one pass)
        self.free_at = 0.0
        self.pending: deque[float] = deque()  # finish times of requests not yet computed
        self.exits: Iterator[int] | None = None  #: exit blocks of its requests (None: no exits)
        self.held_blocks = 0  #: blocks of its model downloaded (with a download)
        self.parked: deque[Request] = deque()  #: requests waiting for its download
        #: path loss × shadowing to its cell now, linear (its spec's, unless it moves)
        self.mean_gain = spec.mean_gain
        self.track: RadioTrack | None = None  #: its radio track, if it moves (.handover)
        #: its trace rows' template index by decision (split, ρ, ρ̃), its own model's (shared
        #: with the devices of the same model and budgets, see Engine._make_device)
        self.templates: dict[tuple[int, float, float], int] = {}


@dataclass(frozen=True)
class EngineStats:
    """What the engine measured besides the trace."""

    requests: int  #: arrivals (= trace rows)
    sim_end_s: float  #: time the last request left the system, s
    arrivals_end_s: float  #: time arrivals stopped (duration) or the last arrival, s
    server_busy_s: dict[str, float]  #: time integral of each server's busy fraction, s
    cell_busy_s: dict[str, float]  #: time integral of each cell's busy band fraction, s
    #: time integral of each shared wired link direction's busy fraction, s
    link_busy_s: dict[str, float] = field(default_factory=dict)
    #: generative runs: output tokens that reached their device (completed requests)
    tokens_delivered: int = 0
    #: generative runs: per server serving them, its ``steps``, ``preemptions``,
    #: ``tokens_emitted``, ``kv_peak_blocks`` (most in use at once), ``kv_blocks`` (its pool) and
    #: ``kv_blocks_in_use`` (at the end of the run)
    batching: dict[str, dict[str, int]] = field(default_factory=dict)
    #: the simulated time at which the run was stopped early (:meth:`Engine.stop`), s; None:
    #: it ran to its end. A stopped run's trace holds the requests finished by then.
    stopped_at_s: float | None = None


class Engine:
    """Runs one deployment with one policy on one seed, writing rows to ``writer``."""

    def __init__(
        self,
        deployment: Deployment,
        policy: Policy[Any],
        seed: int,
        writer: TraceWriter,
        *,
        duration_s: float | None,
        max_requests: int | None,
        warmup_s: float = 0.0,
        token_writer: TableWriter | None = None,
        slo_ttft_s: float = math.inf,
        slo_tpot_s: float = math.inf,
        handover_writer: TableWriter | None = None,
        quality: QualityModel | None = None,
    ) -> None:
        self.env = simpy.Environment()
        self.deployment = deployment
        self.policy = policy
        self.policy_name = policy.name
        self.seed = seed
        self.writer = writer
        writer.expand(TEMPLATE_COLUMNS)  # rows give these through templates (see _record)
        self.duration_s = math.inf if duration_s is None else duration_s
        self.remaining = math.inf if max_requests is None else max_requests
        self.warmup_s = warmup_s
        #: the scenario's slo (s; inf: none): the budgets of generative requests' policies
        self.slo_ttft_s = slo_ttft_s
        self.slo_tpot_s = slo_tpot_s
        #: the trace's quality columns, from ``quality`` (None: left empty)
        self.quality = QualityColumns(  # the models of the devices and their students
            quality,
            {
                name
                for d in deployment.devices
                for name in (d.model.name, *students_of(d.model.name))
            },
        )
        self._next_id = 0
        self._started = False  # the devices' processes are created
        self._stopped_at_s: float | None = None  # see stop()
        self._last_arrival_s = 0.0
        self._last_done_s = 0.0
        self._instantaneous_csi = deployment.channel.csi == "instantaneous"
        downlink = deployment.downlink
        self._downlink_s = 0.0 if downlink is None else downlink.result_bits / downlink.rate_bps
        # The plug-ins of the run (coinfer.emulator.plugins), looked up once here.
        sharing = SHARING.load_many(cell.sharing for cell in deployment.cells)
        self._uplinks: list[UplinkSharing] = [
            # without a topology a cell's server is at its access point: straight to the server
            sharing[cell.sharing](
                self.env,
                _with_params(cell, "sharing_params", sharing[cell.sharing]),
                self._uplink_done if cell.routes else self._serve,
            )
            for cell in deployment.cells
        ]
        if deployment.channel.interference is not None:  # the uplinks' listener (see its module)
            Interference(
                self._uplinks, deployment.devices, deployment.channel.interference.reuse_factor
            )
        disciplines = SERVERS.load_many(spec.discipline for spec in deployment.servers)
        self._servers: list[ServerDiscipline] = [
            disciplines[spec.discipline](
                self.env,
                _with_params(spec, "discipline_params", disciplines[spec.discipline]),
                self._server_done,
            )
            for spec in deployment.servers
        ]
        _check_one_pass_servers(deployment, self._servers)
        #: generative requests, if the run has any (see :mod:`.generative`)
        self._generative = Generative(self, token_writer) if has_generative(deployment) else None
        if self._generative is not None:
            self._generative.adopt(self._servers)
        fading = deployment.channel.fading
        self._fading_law: FadingLaw = FADING.load(fading.law)(fading)
        self._arrival_processes = ARRIVALS.load_many(d.arrivals.process for d in deployment.devices)
        self._work_laws = WORK.load_many(
            [d.work.distribution for d in deployment.devices]
            + [
                law.distribution
                for d in deployment.devices
                if d.tokens is not None and not d.tokens.from_trace
                for law in (d.tokens.prompt, d.tokens.output)
                if law is not None
            ]
        )
        self._en_route = [0] * len(deployment.servers)  # routed, not yet at the server
        self._links = [
            WiredLinkResource(self.env, link, self._hop_done)
            if math.isfinite(link.bandwidth_bps)
            else None
            for link in deployment.links
        ]
        self._choose_server: Callable[[PolicyContext], int] | None = None
        if deployment.routing == "policy":
            if not isinstance(policy, ServerChooser):
                raise InputError(policy_cannot_route(policy.name))
            self._choose_server = policy.choose_server
        self._least_loaded = deployment.routing == "least-loaded"
        self._cell_options = [self._options(cell) for cell in deployment.cells]
        self._model_codes: dict[str, int] = {}
        self._streams = Streams(seed, len(deployment.devices))  # per-device seeds, in bulk
        #: each server's models (None: every server holds every model)
        self._server_models = _server_models(deployment)
        #: each cell's downlink for model downloads, shared by them (None: no downloads)
        self._downlinks = (
            [
                WiredLinkResource(
                    self.env,
                    LinkSpec(-1, f"{cell.id}:downlink", deployment.downlink.rate_bps, 0.0),
                    self._download_done,
                )
                for cell in deployment.cells
            ]
            if deployment.downlink is not None
            and any(d.download is not None for d in deployment.devices)
            else None
        )
        #: moving devices and their handovers (.handover), if any device moves
        self._handovers: Handovers | None = None
        self._handover_writer = handover_writer
        if deployment.mobility is not None:
            self._handovers = Handovers(self, deployment.mobility, self._streams)
        for spec in deployment.devices:  # every model's code, before any device is made
            self._model_codes.setdefault(spec.model.name, len(self._model_codes))
            for student in students_of(spec.model.name):  # a policy may run one (issue 21)
                self._model_codes.setdefault(student, len(self._model_codes))
        #: the groups whose Poisson arrivals are merged (:mod:`.merged`), by device indices
        self._merged = merged_groups(deployment.devices)
        # A device's run-time state, made on its first arrival (see _device): a device of a
        # merged group that sends nothing costs nothing.
        self._devices: list[_Device | None] = [None] * len(deployment.devices)
        #: trace-row template indices by decision, per (model code, deadline, energy budget)
        self._templates: dict[tuple[int, float, float], dict[tuple[int, float, float], int]] = {}
        # Distortion bound per model by (split, ρ, ρ̃): constant for fixed decisions.
        self._distortions: list[dict[tuple[int, float, float], float]] = [
            {} for _ in self._model_codes
        ]

    # ---- set-up ------------------------------------------------------------------------------

    def labels(self) -> dict[str, list[str]]:
        """Labels of the trace's categorical columns, indexed by the codes in the rows."""
        return {
            "device_id": [d.id for d in self.deployment.devices],
            "cell_id": [c.id for c in self.deployment.cells],
            "server_id": [s.id for s in self.deployment.servers],
            "policy": [self.policy_name],
            "model": list(self._model_codes),
            "status": STATUS_LABELS,
            "quality_metric": self.quality.labels(),
            **({} if self._generative is None else self._generative.labels()),
        }

    def _options(self, cell: CellSpec) -> tuple[_Option, ...] | None:
        """The servers the cell's requests may use with their compiled routes (None: the own
        server, directly: a scenario without a topology)."""
        if not cell.routes:
            return None
        return tuple(
            _Option(
                self.deployment.servers[route.server],
                self._servers[route.server],
                self._compile(route),
                tuple(
                    resource
                    for resource in (self._links[i] for i in route.links)
                    if resource is not None
                ),
                (route.latency_s, route.s_per_bit, self._return_s(route)),
            )
            for route in cell.routes
        )

    def _return_s(self, route: RouteSpec) -> float:
        """The result's way back over the path (no contention); none without a downlink."""
        downlink = self.deployment.downlink
        if downlink is None or not route.links:
            return 0.0
        return route.latency_s + downlink.result_bits * route.s_per_bit

    def _compile(self, route: RouteSpec) -> _Route | None:
        """The path as shared-link steps; ideal links only add their latency."""
        initial = 0.0
        steps: list[list[Any]] = []  # [link, latency after it], the latency grown in place
        for index in route.links:
            link, resource = self.deployment.links[index], self._links[index]
            if resource is None:
                if steps:
                    steps[-1][1] += link.latency_s
                else:
                    initial += link.latency_s
            else:
                steps.append([resource, link.latency_s])
        if initial == 0.0 and not steps:
            return None
        return _Route(
            initial,
            tuple((r, d) for r, d in steps),
            self._return_s(route),
            route.latency_s,
            route.s_per_bit,
        )

    def _make_device(self, spec: DeviceSpec) -> _Device:
        law = self._fading_law
        fading = None
        if law.fades and spec.link is None:  # a replayed trace replaces fading
            fading = BlockFading(
                law,
                self.deployment.channel.fading.coherence_time_s,
                self._streams.seed_sequence("fading", spec.index),
            )
        if self._merged and is_merged(spec):
            gaps: Iterator[float] = iter(())  # its arrivals come from its group (.merged)
        else:
            process: ArrivalProcess = self._arrival_processes[spec.arrivals.process](spec.arrivals)
            gaps = _lazily(process.gaps, spec, self._streams, "arrivals", spec.index)
        replay = spec.arrival_replay
        if spec.tokens is not None:  # generative: its work is its tokens
            device = _Device(spec, fading, gaps, None, self._token_draws(spec))
        else:
            if replay is not None and replay.has_work:  # work scales from the trace's tokens
                work = replay.work_scales()
            else:
                law_of_work: WorkLaw = self._work_laws[spec.work.distribution](spec.work)
                if getattr(law_of_work, "draws_random", True):
                    work = _lazily(law_of_work.scales, None, self._streams, "work", spec.index)
                else:  # a law without randomness: no stream for it
                    work = law_of_work.scales(None)  # type: ignore[arg-type]
            device = _Device(spec, fading, gaps, work)
        device.uplink = self._uplinks[spec.cell]
        device.server = self._servers[spec.server]
        device.options = self._cell_options[spec.cell]
        device.codes = (spec.index, spec.cell, self._model_codes[spec.model.name])
        # devices whose templates would hold the same values share them (one miss per group)
        device.templates = self._templates.setdefault(
            (device.codes[2], spec.deadline_s, spec.energy_budget_j), {}
        )
        device.server_index = spec.server
        if spec.model.exits and spec.tokens is None:
            blocks, probabilities = spec.model.exit_law
            device.exits = _exit_draws(blocks, probabilities, self._streams, spec.index)
        return device

    def _token_draws(self, spec: DeviceSpec) -> Iterator[tuple[int, int]]:
        """``(prompt, output)`` tokens of a generative device's requests, in order: from its
        arrival trace, or each drawn from its law (a work law, rounded to whole tokens, at
        least 1) with the device's own stream (``prompt-tokens``, ``output-tokens``)."""
        source = spec.tokens
        assert source is not None
        if source.from_trace:
            replay = spec.arrival_replay
            if replay is None or not replay.has_tokens:
                raise InputError(
                    f"device {spec.id!r}: tokens: trace without an arrival trace that has "
                    "token counts (build the deployment with build_deployment)"
                )
            return replay.token_counts()
        assert source.prompt is not None and source.output is not None
        counts = []
        for law, stream in ((source.prompt, "prompt-tokens"), (source.output, "output-tokens")):
            draws: WorkLaw = self._work_laws[law.distribution](law)
            counts.append(
                _token_counts(_lazily(draws.scales, None, self._streams, stream, spec.index))
            )
        return zip(*counts, strict=True)

    # ---- running -----------------------------------------------------------------------------

    def start(self, devices: Collection[int] | None = None) -> None:
        """Create every device's arrival process (done by :meth:`run` if not called before;
        :func:`~coinfer.emulator.api.run.simulate` calls it while it sets the run up).

        ``devices``: only the devices of these indices send requests (one shard of a run whose
        deployment falls apart into independent parts, :mod:`coinfer.emulator.sweeps.shards`);
        None: every device."""
        if self._started:
            return
        self._started = True
        merged = iter(self._merged)
        group = next(merged, None)
        index, count = 0, len(self._devices)
        while index < count:
            if group is not None and index == group.start:
                self._start_merged(group)
                index = group.stop
                group = next(merged, None)
                continue
            if devices is None or index in devices:
                self._start_source(self._device(index))
            index += 1

    def release(self) -> None:
        """Drop the run's per-device state, its deployment and SimPy's pending events, once
        the run is over and its statistics taken: freed there and then by reference counting
        (about 0.4 s for 1,000,000 devices) instead of by a full pass of the cyclic collector
        over everything the engine's reference cycles keep alive (about 1.5 s). The engine
        cannot run again after this."""
        self._devices = []
        self.env._queue.clear()
        self.deployment = None  # type: ignore[assignment]

    def _device(self, index: int) -> _Device:
        """The run-time state of device ``index``, made on first use."""
        device = self._devices[index]
        if device is None:
            device = self._devices[index] = self._make_device(self.deployment.devices[index])
            if self._handovers is not None:
                device.track = self._handovers.track_of(device)
        return device

    def stop(self) -> None:
        """Stop the run at the current simulated time, as soon as the event being processed is
        done (safe to call from a signal handler: it only schedules an event). :meth:`run` then
        returns normally, with the requests finished so far in the trace and
        ``stopped_at_s`` set."""
        if self._stopped_at_s is not None:
            return
        self._stopped_at_s = self.env.now
        stop = self.env.event()
        stop.callbacks.append(simpy.core.StopSimulation.callback)
        stop.succeed()

    def run(self) -> EngineStats:
        """Emulate until every generated request has left the system (or :meth:`stop`)."""
        self.start()
        self.env.run()
        self.writer.close()
        if self._handover_writer is not None:  # the handover table, up to the run's end
            self._handover_writer.set_labels(
                {
                    "device_id": [d.id for d in self.deployment.devices],
                    "from_cell": [c.id for c in self.deployment.cells],
                    "to_cell": [c.id for c in self.deployment.cells],
                }
            )
            if self._handovers is not None:
                ends = (self._last_done_s, self._last_arrival_s, self._stopped_at_s or 0.0)
                self._handovers.write_table(self._handover_writer, max(ends))
            else:
                self._handover_writer.close()
        generative = self._generative
        if generative is not None:
            generative.close()
        arrivals_end = self.duration_s if math.isfinite(self.duration_s) else self._last_arrival_s
        requests = self._next_id
        if self._stopped_at_s is not None:  # the requests in flight left no row
            arrivals_end = min(arrivals_end, self._stopped_at_s)
            requests = self.writer.rows_written
        return EngineStats(
            requests=requests,
            sim_end_s=self._last_done_s,
            arrivals_end_s=arrivals_end,
            server_busy_s={
                spec.id: server.busy_s
                for spec, server in zip(self.deployment.servers, self._servers, strict=True)
            },
            cell_busy_s={
                spec.id: uplink.busy_s
                for spec, uplink in zip(self.deployment.cells, self._uplinks, strict=True)
            },
            link_busy_s={
                resource.spec.id: resource.busy_s
                for resource in self._links
                if resource is not None
            },
            tokens_delivered=0 if generative is None else generative.tokens_delivered,
            batching={} if generative is None else generative.server_stats(),
            stopped_at_s=self._stopped_at_s,
        )

    def _start_source(self, device: _Device) -> None:
        """Start the device's arrivals, until the duration or request count is reached: a chain
        of timeouts, each arrival scheduling the next (no SimPy process: no generator to resume
        per arrival). The first gap is drawn by an urgent event scheduled now, where a process
        would have started, so that every event keeps its place in SimPy's order."""
        start = simpy.Event(self.env)
        start._ok = True
        start._value = device
        start.callbacks.append(self._first_arrival)
        self.env.schedule(start, simpy.core.URGENT)

    def _first_arrival(self, event: simpy.Event) -> None:
        self._next_arrival(event._value)

    def _next_arrival(self, device: _Device) -> None:
        """Schedule the device's next arrival (none past the duration or its gaps' end)."""
        gap = next(device.gaps, None)
        if gap is not None and self.env._now + gap <= self.duration_s:
            self.env.timeout(gap, device).callbacks.append(self._device_arrival)

    def _device_arrival(self, event: simpy.Event) -> None:
        if self.remaining <= 0:
            return
        self.remaining -= 1
        device = event._value
        self._arrive(device)
        self._next_arrival(device)

    def _start_merged(self, group: range) -> None:
        """Start the merged arrivals of a group of Poisson devices (:mod:`.merged`): a chain of
        timeouts, each arrival scheduling the next (no SimPy process: no generator to resume)."""
        spec = self.deployment.devices[group.start]
        rng = single_stream(self.seed, MERGED_STREAM, group.start)  # one stream: no bulk seeding
        self._next_merged(merged_arrivals(spec, group, rng))

    def _next_merged(self, draws: Iterator[tuple[float, int]]) -> None:
        gap, index = next(draws)
        if self.env._now + gap <= self.duration_s:
            self.env.timeout(gap, (draws, index)).callbacks.append(self._merged_arrival)

    def _merged_arrival(self, event: simpy.Event) -> None:
        draws, index = event._value
        if self.remaining <= 0:
            return
        self.remaining -= 1
        self._arrive(self._devices[index] or self._device(index))
        self._next_merged(draws)

    @inline_builds  # the context, built by name, compiled to a tuple (hot path)
    def _arrive(self, device: _Device) -> None:
        # env._now on the hot paths: SimPy's ``now`` property returns it, without the call
        # (tests/emulator/test_engine_merged.py checks that they agree)
        now = self.env._now
        spec = device.spec
        track = device.track
        if track is not None:  # a moving device: its cell and gain now (.handover)
            self._handovers.sync(device, track)  # type: ignore[union-attr]
        request_id = self._next_id
        self._next_id += 1
        self._last_arrival_s = now
        tokens = device.tokens
        if tokens is None:
            work_scale = next(device.work)  # type: ignore[arg-type]
            prompt_tokens = output_tokens = 0
            ttft_budget = tpot_budget = downlink_rate = math.inf
            batch = None
        else:  # generative: its work is its tokens
            work_scale = 1.0
            prompt_tokens, output_tokens = next(tokens)
            ttft_budget, tpot_budget = self.slo_ttft_s, self.slo_tpot_s
            downlink = self.deployment.downlink
            downlink_rate = math.inf if downlink is None else downlink.rate_bps
            batch = self._generative.server_batch(device.server_index)  # type: ignore[union-attr]
        fading = device.fading
        uplink = device.uplink
        band = uplink.share_for_new_hz()
        gain = device.mean_gain
        if fading is not None:
            if self._instantaneous_csi:
                gain = gain * fading.gain(fading.block_at(now))
        elif device.link is not None:
            gain = device.link.gain_seen(now, band, self._instantaneous_csi)
        pending = device.pending
        while pending and pending[0] <= now:
            pending.popleft()
        free_at = device.free_at
        backlog = free_at - now if free_at > now else 0.0
        options = device.options
        if options is None:
            server = device.server
            route = None
            server_index = device.server_index
            waiting, in_service, server_backlog = server.status()
            server_spec = server.spec
            cell = uplink.cell
            context = build(
                PolicyContext,
                request_id=request_id,
                time_s=now,
                work_scale=work_scale,
                gain=gain,
                bandwidth_hz=band,
                uplink_active=uplink.active,
                device_queue_length=len(pending),
                device_backlog_s=backlog,
                server_queue_length=waiting,
                server_in_service=in_service,
                server_backlog_s=server_backlog,
                device_id=spec.id,
                scale_payload=spec.scale_payload,
                deadline_s=spec.deadline_s,
                energy_budget_j=spec.energy_budget_j,
                model=spec.model,
                device=spec.hardware,
                server=server_spec.hardware,
                mean_gain=device.mean_gain,
                cell_bandwidth_hz=cell.bandwidth_hz,
                noise_psd_w_per_hz=uplink.noise,
                server_workers=server_spec.workers,
                server_discipline=server_spec.discipline,
                uplink_sharing=cell.sharing,
                candidate_servers=(),  # none without a topology (see _routed_context)
                prompt_tokens=prompt_tokens,
                output_tokens=output_tokens,
                ttft_budget_s=ttft_budget,
                tpot_budget_s=tpot_budget,
                downlink_rate_bps=downlink_rate,
                server_batch=batch,
                # the cell's link model (None: Shannon; a plug-in sharing may not say)
                link=getattr(uplink, "link_model", None),
            )
        else:
            option, context = self._routed_context(
                device,
                options,
                request_id=request_id,
                time_s=now,
                work_scale=work_scale,
                gain=gain,
                bandwidth_hz=band,
                uplink_active=uplink.active,
                device_queue_length=len(pending),
                device_backlog_s=backlog,
                prompt_tokens=prompt_tokens,
                output_tokens=output_tokens,
            )
            server, route, server_index = option.server, option.route, option.index
        decision = self.policy.decide(context)
        check_decision(self.policy_name, decision, context)

        request = Request()
        request.id = request_id
        request.device = device
        request.decision = decision
        request.t_arrival = now
        request.work_scale = work_scale
        request.gain_seen = gain
        request.band_seen = band
        request.server = server
        request.server_index = server_index
        request.route = route
        request.gen = None
        request.cell = device.codes[1]
        request.handovers = 0
        request.memory_refused = False
        compact = request.compact = (
            resolve(decision, spec.model, self._model_codes) if is_compact(decision) else None
        )
        if output_tokens:
            self._generative.start(request, device, prompt_tokens, output_tokens)  # type: ignore[union-attr]
            return
        request.download_wait_s = request.server_wait_s = request.load_bytes = 0.0
        exits = device.exits
        exit_block = spec.model.num_blocks if exits is None else next(exits)
        if not decision.admit:
            request.device_start_s = request.device_done_s = request.uplink_done_s = now
            request.backhaul_done_s = request.server_start_s = now
            request.device_compute_s = request.device_compute_j = request.payload_bits = 0.0
            request.exit_block = 0
            request.table = (spec.model if compact is None else compact.model).split_table
            request.run_split = decision.split
            self._record(request, now, _INFEASIBLE, 0.0, 0.0, 0.0)
            return
        split = decision.split
        model = spec.model if compact is None else compact.model
        if compact is not None and model is not spec.model:
            exit_block = model.num_blocks  # a student has no exit heads
        request.exit_block = exit_block
        if exits is not None and exit_block < model.num_blocks:
            # exiting after block e is running the model truncated there (docs/early-exit-...)
            table = model.exit_tables[exit_block]
            split = min(split, exit_block)
        else:
            table = model.split_table
        request.table = table
        request.run_split = split
        payload = table.payload_bits[split]
        payload = payload * work_scale if spec.scale_payload else payload
        weight_bits = model.weight_bits
        if compact is not None:
            weight_bits = compact.bits.weight_bits_device
            payload = scaled_payload_bits(
                payload, compact.bits.payload_bits_per_value, model.activation_bits
            )
        # memory (issue 21): the device side's kept weights and the activation it uploads
        if (
            decision.rho_device * table.device_params[split] * weight_bits + payload
        ) / 8.0 > spec.hardware.memory_bytes:
            request.device_start_s = request.device_done_s = request.uplink_done_s = now
            request.backhaul_done_s = request.server_start_s = now
            request.device_compute_s = request.device_compute_j = request.payload_bits = 0.0
            request.memory_refused = True
            self._record(request, now, _INFEASIBLE, 0.0, 0.0, 0.0)
            return
        request.payload_bits = payload
        if options is not None:
            self._en_route[server_index] += 1
        if spec.download is not None and (device.parked or split > device.held_blocks):
            self._park(request)  # waits for the device's download of its model
            return
        self._device_start(request, now)

    def _device_start(self, request: Request, now: float) -> None:
        """Queue ``request`` on its device (FCFS, start and finish computed now) and schedule
        its upload for when the device is done."""
        device = request.device
        spec = device.spec
        decision = request.decision
        table = request.table
        split = request.run_split
        work_scale = request.work_scale
        pending = device.pending
        hardware = spec.hardware
        t_compute, request.device_compute_j = compute_cost_float(
            table.device_flops[split] * work_scale,
            decision.rho_device,
            decision.f_device_hz,
            hardware.flops_per_cycle,
            hardware.power_coeff_w_per_hz3,
            hardware.pue,
        )
        start = max(now, device.free_at)
        done = start + t_compute
        device.free_at = done
        pending.append(done)
        request.device_start_s = start
        request.device_done_s = done
        request.device_compute_s = t_compute
        request.tx_power_w = decision.tx_power_w
        request.mean_gain = device.mean_gain
        request.fading = device.fading
        request.link = device.link
        request.server_flops = table.server_flops[split] * work_scale
        if done > now:
            self.env.timeout(done - now, request).callbacks.append(self._device_timer)
        else:
            self._device_done(request)

    def _device_timer(self, event: simpy.Event) -> None:
        self._device_done(event._value)

    # ---- model download: the device side of the model over the cell's downlink ----------

    def _park(self, request: Request) -> None:
        """``request`` waits for its device's download (started now if none is under way):
        the device runs its requests in order, so every later request waits too."""
        device = request.device
        device.parked.append(request)
        if len(device.parked) == 1:
            self._start_download(request)

    def _start_download(self, request: Request) -> None:
        """Download the blocks the device lacks for ``request``: ``(q(l) − q(held)) ×
        bytes_per_weight`` bytes, sharing the cell's downlink with its other downloads."""
        device = request.device
        spec = device.spec
        assert spec.download is not None and self._downlinks is not None
        params = spec.model.split_table.device_params
        job = _Download()
        job.device = device
        job.blocks = request.run_split
        size = (params[request.run_split] - params[device.held_blocks]) * (
            spec.download.bytes_per_weight
        )
        request.load_bytes += size
        job.left = 8.0 * size
        self._downlinks[spec.cell].join(job)

    def _download_done(self, job: _Download) -> None:
        """A device's download is done: its parked requests start in order, up to one that
        needs blocks still missing (which starts the next download)."""
        device = job.device
        device.held_blocks = max(device.held_blocks, job.blocks)
        now = self.env.now
        parked = device.parked
        while parked:
            request = parked[0]
            if request.run_split > device.held_blocks:
                self._start_download(request)
                return
            parked.popleft()
            request.download_wait_s = now - request.t_arrival
            self._device_start(request, now)

    def _device_done(self, request: Request) -> None:
        if request.payload_bits > 0.0:
            request.left = request.payload_bits
            track = request.device.track
            if track is not None:  # a moving device: at its cell now, handed over on the way
                self._handovers.start_upload(request, track)  # type: ignore[union-attr]
                return
            request.device.uplink.start(request)
        else:
            request.tx_start_s = self.env._now
            request.device.uplink.on_done(request)

    @inline_builds  # the candidate servers, built by name, compiled to tuples
    def _routed_context(
        self, device: _Device, options: tuple[_Option, ...], **request: Any
    ) -> tuple[_Option, PolicyContext]:
        """The server for a request of a topology scenario, and the policy's context for it.

        ``request`` holds the context's per-request fields up to the device backlog, by name.
        The candidate servers are listed with their load now; the routing rule picks one, which
        goes first.
        """
        en_route = self._en_route
        models = self._server_models
        model, now = device.spec.model.name, self.env._now
        candidates = []
        for option in options:
            spec = option.spec
            waiting, in_service, backlog = option.server.status()
            latency, s_per_bit, return_s = option.static
            candidates.append(
                build(
                    CandidateServer,
                    id=spec.id,
                    tier=spec.tier,
                    hardware=spec.hardware,
                    workers=spec.workers,
                    discipline=spec.discipline,
                    queue_length=waiting,
                    in_service=in_service,
                    backlog_s=backlog,
                    en_route=en_route[option.index],
                    backhaul_latency_s=latency,
                    backhaul_s_per_bit=s_per_bit,
                    backhaul_transfers=sum(resource.active for resource in option.resources),
                    return_s=return_s,
                    model_cold_start_s=(
                        0.0 if models is None else models[option.index].wait_s(model, now)
                    ),
                )
            )
        chosen = 0
        if self._least_loaded:
            chosen = least_loaded(candidates)
        elif self._choose_server is not None:
            own_context = self._context_for(device, tuple(candidates), **request)
            chosen = self._checked_choice(self._choose_server(own_context), own_context)
        if chosen:
            candidates.insert(0, candidates.pop(chosen))
        return options[chosen], self._context_for(device, tuple(candidates), **request)

    @inline_builds
    def _context_for(
        self,
        device: _Device,
        candidates: tuple[CandidateServer, ...],
        *,
        request_id: int,
        time_s: float,
        work_scale: float,
        gain: float,
        bandwidth_hz: float,
        uplink_active: int,
        device_queue_length: int,
        device_backlog_s: float,
        prompt_tokens: int,
        output_tokens: int,
    ) -> PolicyContext:
        """The context of a request served by ``candidates[0]``, given its per-request fields
        up to the device backlog."""
        first = candidates[0]
        spec = device.spec
        cell = device.uplink.cell
        return build(
            PolicyContext,
            request_id=request_id,
            time_s=time_s,
            work_scale=work_scale,
            gain=gain,
            bandwidth_hz=bandwidth_hz,
            uplink_active=uplink_active,
            device_queue_length=device_queue_length,
            device_backlog_s=device_backlog_s,
            server_queue_length=first.queue_length,
            server_in_service=first.in_service,
            server_backlog_s=first.backlog_s,
            device_id=spec.id,
            scale_payload=spec.scale_payload,
            deadline_s=spec.deadline_s,
            energy_budget_j=spec.energy_budget_j,
            model=spec.model,
            device=spec.hardware,
            server=first.hardware,
            mean_gain=device.mean_gain,
            cell_bandwidth_hz=cell.bandwidth_hz,
            noise_psd_w_per_hz=device.uplink.noise,
            server_workers=first.workers,
            server_discipline=first.discipline,
            uplink_sharing=cell.sharing,
            candidate_servers=candidates,
            prompt_tokens=prompt_tokens,
            output_tokens=output_tokens,
            # generative requests over a topology are refused at set-up (docs/generative.md)
            ttft_budget_s=math.inf,
            tpot_budget_s=math.inf,
            downlink_rate_bps=math.inf,
            server_batch=None,
            link=getattr(device.uplink, "link_model", None),  # None: Shannon
        )

    def _checked_choice(self, chosen: object, context: PolicyContext) -> int:
        """``chosen`` if it indexes ``context.candidate_servers``, else a PolicyError."""
        count = len(context.candidate_servers)
        if (chosen.__class__ is int or isinstance(chosen, np.integer)) and 0 <= chosen < count:
            return int(chosen)
        raise PolicyError(
            f"policy {self.policy_name!r} returned server choice {chosen!r} for request "
            f"{context.request_id}, expected an index in 0..{count - 1} into "
            "context.candidate_servers"
        )

    def _uplink_done(self, request: Request) -> None:
        """The upload of a topology cell's request is done: cross the wired path, if any."""
        if request.device.track is not None:
            self._handovers.uploaded(request)  # type: ignore[union-attr]
        route = request.route
        if route is None or (
            request.gen is None and request.server_flops * request.decision.rho_server <= 0.0
        ):
            request.route = None  # nothing crosses the wires
            self._serve(request)
            return
        request.uplink_done_s = self.env._now
        request.hop = 0
        if route.initial_s > 0.0:
            self.env.timeout(route.initial_s, request).callbacks.append(self._backhaul_timer)
        else:
            self._next_hop(request)

    # ---- backhaul: the wired path, hop by hop ---------------------------------------------

    def _backhaul_timer(self, event: simpy.Event) -> None:
        self._next_hop(event._value)

    def _next_hop(self, request: Request) -> None:
        # Only a request with a route crosses the backhaul (_uplink_done): not narrowed at run
        # time, which would cost a check per hop.
        steps = request.route.steps  # type: ignore[union-attr]
        if request.hop == len(steps):
            request.backhaul_done_s = self.env._now
            self._serve(request)
            return
        request.left = request.payload_bits
        steps[request.hop][0].join(request)

    def _hop_done(self, request: Request) -> None:
        delay = request.route.steps[request.hop][1]  # type: ignore[union-attr]  # see _next_hop
        request.hop += 1
        if delay > 0.0:
            self.env.timeout(delay, request).callbacks.append(self._backhaul_timer)
        else:
            self._next_hop(request)

    # ---- server --------------------------------------------------------------------------

    def _serve(self, request: Request) -> None:
        """The request reaches its server (straight from the uplink when it has no wired path,
        else from the backhaul): fully on the device it is done; else its server's discipline
        takes it (or drops it, when full). A generative request's upload goes back to its own
        life cycle."""
        if request.gen is not None:
            self._generative.uploaded(request)  # type: ignore[union-attr]
            return
        now = self.env._now
        if request.route is None:
            request.uplink_done_s = request.backhaul_done_s = now
        decision = request.decision
        uplink_j = decision.tx_power_w * (request.uplink_done_s - request.tx_start_s)
        flops = request.server_flops
        if request.device.options is not None:
            self._en_route[request.server_index] -= 1
        if flops * decision.rho_server <= 0.0:  # fully on the device: nothing for the server
            request.server_start_s = now
            self._record(request, now, _COMPLETED, uplink_j, 0.0, 0.0)
            return
        request.uplink_energy_j = uplink_j
        models = self._server_models
        if models is not None:
            wait_s, load_bytes = models[request.server_index].cold_start(
                request.device.spec.model.name, now
            )
            if wait_s > 0.0:  # the server loads the model first (docs/early-exit-...)
                request.server_wait_s = wait_s
                request.load_bytes += load_bytes
                self.env.timeout(wait_s, request).callbacks.append(self._model_loaded)
                return
        self._admit(request)

    def _model_loaded(self, event: simpy.Event) -> None:
        self._admit(event._value)

    def _admit(self, request: Request) -> None:
        """Hand ``request`` to its server's discipline (which may drop it, when full)."""
        now = self.env._now
        decision = request.decision
        flops = request.server_flops
        uplink_j = request.uplink_energy_j
        server = request.server
        hardware = server.spec.hardware
        service_s, server_j = compute_cost_float(
            flops,
            decision.rho_server,
            decision.f_server_hz,
            hardware.flops_per_cycle,
            hardware.power_coeff_w_per_hz3,
            hardware.pue,
        )
        request.f_server_hz = decision.f_server_hz
        request.left = decision.rho_server * flops / hardware.flops_per_cycle  # cycles
        request.server_energy_j = server_j
        if not server.serve(request, service_s):
            request.server_start_s = now
            self._record(request, now, _DROPPED, uplink_j, 0.0, 0.0)

    def _server_done(self, request: Request, finish_s: float, service_s: float) -> None:
        """The server is done with ``request`` at ``finish_s`` (s; a computed finish may lie
        ahead of now) after ``service_s`` seconds of service."""
        route = request.route
        self._record(
            request,
            finish_s + self._downlink_s + (0.0 if route is None else route.return_s),
            _COMPLETED,
            request.uplink_energy_j,
            request.server_energy_j,
            service_s,
        )

    @inline_builds  # the trace row, built by name, compiled to a tuple (hot path)
    def _record(
        self,
        request: Request,
        t_done: float,
        status: int,
        uplink_j: float,
        server_j: float,
        server_compute_s: float,
    ) -> None:
        """Write the request's trace row; stages it never reached count as zero."""
        decision: Decision = request.decision
        device = request.device
        spec = device.spec
        split = decision.split
        t_arrival = request.t_arrival
        completed = status == _COMPLETED
        backhaul_s = request.backhaul_done_s - request.uplink_done_s
        if completed and server_compute_s > 0.0:  # the result came back
            downlink_s = self._downlink_s
            route = request.route
            if route is not None:
                backhaul_s += route.return_s
        else:
            downlink_s = 0.0
        latency = t_done - t_arrival
        if t_done > self._last_done_s:
            self._last_done_s = t_done
        device_j = request.device_compute_j + uplink_j
        device_index, _, model_code = device.codes
        compact = request.compact
        if compact is None:
            model = spec.model
            bits_device = model.weight_bits
            key = (split, decision.rho_device, decision.rho_server)
            template = device.templates.get(key)
            if template is None:
                activation_bits = model.activation_bits
                template = device.templates[key] = self.row_template(
                    spec,
                    decision,
                    model,
                    model_code,
                    (bits_device, bits_device, activation_bits, activation_bits),
                )
        else:
            model = compact.model
            bits_device = compact.bits[0]
            template = self.row_template(spec, decision, model, compact.model_code, compact.bits)
        row = build(  # categorical columns as codes into the labels of self.labels()
            TRACE_ROW,
            template=template,
            request_id=request.id,
            device_id=device_index,
            cell_id=request.cell,
            server_id=request.server_index,
            split=split,
            rho_device=decision.rho_device,
            rho_server=decision.rho_server,
            tx_power_w=decision.tx_power_w,
            f_device_hz=decision.f_device_hz,
            f_server_hz=decision.f_server_hz,
            payload_bits=request.payload_bits,
            t_arrival=t_arrival,
            t_done=t_done,
            status=status,
            latency_s=latency,
            latency_device_queue_s=request.device_start_s - t_arrival - request.download_wait_s,
            latency_device_compute_s=request.device_compute_s,
            latency_uplink_s=request.uplink_done_s - request.device_done_s,
            latency_backhaul_s=backhaul_s,
            latency_server_queue_s=(
                request.server_start_s - request.backhaul_done_s - request.server_wait_s
                if server_compute_s
                else 0.0
            ),
            latency_server_compute_s=server_compute_s,
            latency_downlink_s=downlink_s,
            energy_device_compute_j=request.device_compute_j,
            energy_uplink_j=uplink_j,
            energy_server_j=server_j,
            energy_device_j=device_j,
            energy_total_j=device_j + server_j,
            predicted_latency_s=decision.predicted_latency_s,
            predicted_energy_j=decision.predicted_energy_j,
            deadline_met=completed and latency <= spec.deadline_s,
            work_scale=request.work_scale,
            gain=request.gain_seen,
            bandwidth_hz=request.band_seen,
            policy_feasible=bool(decision.feasible),
            warmup=t_arrival < self.warmup_s,
            exit_block=request.exit_block,
            cold_start_s=request.download_wait_s + request.server_wait_s,
            model_load_bytes=request.load_bytes,
            handovers=request.handovers,
            model_bytes_device=decision.rho_device
            * request.table.device_params[request.run_split]
            * bits_device
            / 8.0,
        )
        if self._generative is not None:  # a one-pass request in a generative run
            row += self._generative.one_pass_tail(
                split, model.last_split, status, request.memory_refused
            )
        self.writer.append(row)
        self.writer.maybe_flush()

    @inline_builds  # the template, built by name, compiled to a tuple
    def row_template(
        self,
        spec: DeviceSpec,
        decision: Decision,
        model: ModelProfile,
        model_code: int,
        bits: tuple[int, int, int, int],
    ) -> int:
        """The index of the trace-row template of ``decision`` on a device of ``spec`` running
        ``model`` (its code) with weights (device, server), activation and KV cache at
        ``bits``: the row's columns that only depend on these (TEMPLATE_COLUMNS)."""
        bits_device, bits_server, payload_bits_per_value, kv_cache_bits = bits
        quality_code, quality_value, output_distortion = self.quality.of(
            model,
            decision.split,
            decision.rho_device,
            decision.rho_server,
            bits_device,
            bits_server,
        )
        return self.writer.template(
            build(
                TRACE_TEMPLATE,
                policy=0,
                model=model_code,
                distortion_bound=self.distortion(spec, decision),
                deadline_s=spec.deadline_s,
                energy_budget_j=spec.energy_budget_j,
                weight_bits_device=bits_device,
                weight_bits_server=bits_server,
                payload_bits_per_value=payload_bits_per_value,
                kv_cache_bits=kv_cache_bits,
                quality_metric=quality_code,
                quality_value=quality_value,
                output_distortion=output_distortion,
            )
        )

    def distortion(self, spec: DeviceSpec, decision: Decision) -> float:
        """The distortion bound of ``decision`` on ``spec``'s model, remembered per model (a
        compact decision's on the model and widths it runs)."""
        if is_compact(decision):
            return compact_distortion(resolve(decision, spec.model, self._model_codes), decision)
        split = decision.split
        cache = self._distortions[self._model_codes[spec.model.name]]
        key = (split, decision.rho_device, decision.rho_server)
        distortion = cache.get(key)
        if distortion is None:
            table = spec.model.split_table
            kept = (
                decision.rho_device * table.device_params[split]
                + decision.rho_server * table.server_params[split]
            )
            model = spec.model
            distortion = distortion_bound(
                float(kept),
                model.total_params,
                float(model.weight_bits),
                model.entropy_bits_per_param,
            )
            if len(cache) >= _DISTORTION_CACHE:
                cache.clear()
            cache[key] = distortion
        return distortion

    def move_device(self, device: _Device, cell: int) -> None:
        """The device is now served by ``cell`` (a handover, :mod:`.handover`): its uplink and
        the servers its requests may use are the cell's."""
        spec = self.deployment.cells[cell]
        device.uplink = self._uplinks[cell]
        device.options = self._cell_options[cell]
        device.server = self._servers[spec.server]
        device.server_index = spec.server
        device.codes = (device.codes[0], cell, device.codes[2])

    def model_cold_start(self, server_index: int, model: str, now_s: float) -> tuple[float, float]:
        """``(wait_s, bytes)`` of a request for ``model`` reaching server ``server_index`` at
        ``now_s`` under the scenario's ``model_cache`` (:meth:`ServerModels.cold_start`; ``(0,
        0)`` without one): the wait for the model's weights, s, and the bytes its load moves."""
        models = self._server_models
        if models is None:
            return 0.0, 0.0
        return models[server_index].cold_start(model, now_s)

    def device_stream(self, source: str, index: int) -> np.random.Generator:
        """The random stream ``source`` of device ``index`` (its own, for every policy alike)."""
        return self._streams.stream(source, index)

    def note_done(self, t_done: float) -> None:
        """A request leaves the system at ``t_done`` (s): the run lasts at least until then."""
        if t_done > self._last_done_s:
            self._last_done_s = t_done


class _Download(SharedJob):
    """A device's download of model blocks on its cell's downlink (``left``: bits)."""

    __slots__ = ("blocks", "device")

    device: _Device
    blocks: int  #: the device holds blocks 1..blocks once it is done


_EXIT_DRAWS = 1024  # exit blocks drawn at a time


def _exit_draws(
    blocks: tuple[int, ...], probabilities: tuple[float, ...], streams: Streams, index: int
) -> Iterator[int]:
    """The exit block of each request of device ``index``, drawn from the exit law:
    ``blocks[i]`` with ``probabilities[i]`` (the first ``i`` whose cumulative probability
    exceeds a uniform draw of the device's ``early-exit`` stream, created on the first draw)."""
    rng = streams.stream("early-exit", index)
    cumulative = np.cumsum(probabilities)
    cumulative[-1] = max(cumulative[-1], 1.0)  # the rest runs the whole model
    table = np.asarray(blocks)
    while True:
        picks = np.searchsorted(cumulative, rng.random(_EXIT_DRAWS), side="right")
        yield from table[np.minimum(picks, len(table) - 1)].tolist()


def _server_models(deployment: Deployment) -> list[ServerModels] | None:
    """Each server's models and placement policy under the deployment's ``model_cache``
    (None without one; its fit was checked with the deployment, :func:`check_model_cache`)."""
    params = deployment.model_cache
    if params is None:
        return None
    policy_class = PLACEMENT.load(params.policy)
    sizes = model_sizes(deployment)
    return [
        ServerModels(
            policy_class(params, server_memory(spec, params), sizes), params, sizes, spec.cloud_path
        )
        for spec in deployment.servers
    ]


def _with_params(spec: _SpecT, field: str, plugin: type[Any]) -> _SpecT:
    """``spec`` with its plug-in's parameters: as given, or the plug-in's defaults."""
    if getattr(spec, field) is not None:
        return spec
    return dataclasses.replace(spec, **{field: plugin.Params()})


def _lazily(
    draws: Callable[..., Iterator[float]],
    device: DeviceSpec | None,
    streams: Streams,
    source: str,
    index: int,
) -> Iterator[float]:
    """``draws``'s numbers, with the device's stream of ``source`` created on the first draw
    (set-up then creates no generator: a device that never draws costs nothing)."""
    rng = streams.stream(source, index)
    yield from (draws(device, rng) if device is not None else draws(rng))


def _token_counts(draws: Iterator[float]) -> Iterator[int]:
    """Each draw rounded to the nearest whole number of tokens (half to even), at least 1."""
    for value in draws:
        yield max(1, round(value))


def _check_one_pass_servers(deployment: Deployment, servers: list[ServerDiscipline]) -> None:
    """Refuse a scenario that sends one-pass requests to a server whose discipline serves
    generative requests only."""
    for server in servers:
        if getattr(server, "serves_one_pass", True):
            continue
        spec = server.spec
        for device in deployment.devices:
            if device.server == spec.index and device.tokens is None:
                raise InputError(
                    f"server {spec.id!r}: discipline {spec.discipline} serves generative "
                    f"requests only, and device group {device.group!r} sends it one-pass "
                    "requests (no tokens); give the group tokens (docs/generative.md), or "
                    "send it to a server of another discipline",
                    path=f"servers[{spec.index}].discipline",
                )
