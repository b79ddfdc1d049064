"""Generative requests in the engine: prefill and decode steps across device, link and server.

A request of a device group with ``tokens`` carries a prompt of ``P`` tokens and generates
``O`` output tokens. After the policy's decision (:class:`~coinfer.policies.base.Decision`,
whose ``mode`` follows from its split) the engine hands it to :class:`Generative`, which runs it
in one of three modes (``docs/generative.md`` draws each one's sequence of events):

* ``on-device``: the prefill and every decode step on the device, first come first served
  behind the device's earlier work, one sequence at a time; every token time is computed on
  arrival (no event at all beyond the arrival);
* ``on-server``: the prompt's token ids go up the cell's shared uplink; the server's
  continuous batch (:mod:`coinfer.emulator.engine.batching_server`) prefills and decodes it;
  every token, or every chunk of ``stream_chunk_tokens`` tokens, comes back on the downlink at
  its fixed rate (its arrival is computed: the emission plus the downlink time);
* ``split`` at layer ``l``: the device runs layers ``1..l`` on the prompt and uploads its
  ``P`` hidden vectors; the server runs the other layers in its batch; each token id comes back
  on the downlink, the device runs its layers on it and uploads one hidden vector over the
  shared fading uplink (its own fading block), and only then may the server schedule the
  sequence's next decode (the scheduler's ready / not-ready notion).

Events: per server step one timeout, whatever the batch; per split token one timeout (the
token back and the device's step) and the upload's wake-ups; nothing per token otherwise.
Per-token values are written for a whole batch at once into flat arenas
(:mod:`coinfer.emulator.engine.token_log`).

Memory: the device holds its layers' weights and their KV cache for ``P + O`` tokens; a
decision whose device side does not fit the device's memory is ``infeasible`` with reason
``memory``, as is one the server could never hold (reason ``server-capacity``), or one the
policy does not admit (reason ``policy``).

Per-token early exit (CALM): a request of a model with exit heads, on the server or on the
device, draws each decoded token's exit block from the model's exit law (the device's stream
``token-exit``); a server step without prefill work runs to its deepest token's exit
(:meth:`ContinuousBatchingServer.step_time_s`), a device step to its own token's. Model
placement: under a ``model_cache`` a request whose server has no live sequence asks the
server's placement (:meth:`Engine.model_cold_start`) and, on a miss, reaches the scheduler
once the model is loaded (``docs/early-exit-and-placement.md``).

Every request leaves one row (:data:`~coinfer.emulator.trace.columns.GENERATIVE_TRACE`), written
once its last token's arrival is known. Its latency parts follow the chain of its tokens and add
up to ``latency_s``: the device's queue and compute (summed over its steps), the uploads, the
server (``server_compute``: the steps that ran the request; ``server_queue``: the rest of its
time at the server, waiting for admission, for other prefills, after a preemption) and the
downlink. Server energy is each step's energy shared among its sequences in proportion to their
tokens in it; device compute energy is each step's time × the device's phase power.
"""

from __future__ import annotations

import math
from collections.abc import Sequence as Sequence_
from typing import TYPE_CHECKING, Any

import numpy as np

from coinfer.emulator.compiled import use_compiled
from coinfer.emulator.deployment.spec import Deployment
from coinfer.emulator.engine.batching import Batch, Sequence, StepResult
from coinfer.emulator.engine.batching.records import IntArray
from coinfer.emulator.engine.batching_server import (
    ContinuousBatchingServer,
    GenerativeDiscipline,
)
from coinfer.emulator.engine.token_log import TokenArena
from coinfer.emulator.errors import InputError
from coinfer.emulator.model.generative import (
    hidden_bits_per_token,
    solo_step_inputs,
    token_id_bits,
)
from coinfer.emulator.model.kv_memory import side_fits
from coinfer.emulator.model.profiles import ModelProfile
from coinfer.emulator.model.quantization import (
    native_bits,
    quantized_side,
    scaled_payload_bits,
)
from coinfer.emulator.model.reference import shannon_rate_bps
from coinfer.emulator.model.speculative import DraftSetup
from coinfer.emulator.model.step_costs import Side, SideCosts
from coinfer.emulator.model.step_time import (
    StepTimeModelBase,
    clocked_phase_power_w,
    make_step_time_model,
)
from coinfer.emulator.model.token_exit import draw_token_exits, exit_cumulative, exit_profile
from coinfer.emulator.records import build, inline_builds
from coinfer.emulator.trace.columns import GENERATIVE_TAIL, TRACE_ROW
from coinfer.emulator.trace.writer import TableWriter
from coinfer.policies.base import ServerBatch, mode_of_split
from coinfer.policies.drafting import DraftChooser, DraftRound

use_compiled(__name__, __file__)  # its compiled build, if built from this source

if TYPE_CHECKING:
    from coinfer.emulator.engine.core import Engine, Request, _Device

#: Labels of the ``mode`` column, by code.
MODE_LABELS = ["on-device", "on-server", "split", "speculative"]
_MODE_CODES = {label: code for code, label in enumerate(MODE_LABELS)}
_ON_DEVICE, _ON_SERVER, _SPLIT, _SPECULATIVE = 0, 1, 2, 3
#: Labels of the ``reason`` column, by code.
REASON_LABELS = ["", "policy", "memory", "server-capacity"]
_NO_REASON, _POLICY, _MEMORY, _SERVER = 0, 1, 2, 3
_COMPLETED, _INFEASIBLE = 0, 2  # codes of the engine's status labels

_PROMPT, _DECODE = 0, 1  # what an upload carries
_NAN = math.nan
_NO_STEPS = np.zeros(0)
#: Fields of the token arena: the emission time, and (for the token table) the request's
#: server compute, server time, device time and upload time accumulated by then.
#: Speculative mode: ``_EMITTED`` holds each token's arrival at the device, and ``_DOWN`` (token
#: table) the downlink time accumulated by then.
_EMITTED, _COMPUTE, _SPAN, _DEVICE, _UPLINK, _BACKHAUL, _DOWN = range(7)


def has_generative(deployment: Deployment) -> bool:
    """Whether any device of ``deployment`` sends generative requests."""
    return any(device.tokens is not None for device in deployment.devices)


class GenState:
    """The generative part of one request in flight (the engine's request record holds it)."""

    __slots__ = (
        "back_s",
        "cold_s",
        "decode_power_w",
        "dev_compute_s",
        "dev_energy_j",
        "dev_queue_s",
        "dev_steps",
        "down_s",
        "down_total_s",
        "load_bytes",
        "mode",
        "output",
        "payload_bits",
        "phase",
        "prompt",
        "request",
        "ret_bits_s",
        "ret_latency_s",
        "server",
        "slot",
        "spec",
        "split",
        "token_exits",
        "up_bits",
        "up_energy_j",
        "up_ready_s",
        "up_s",
    )

    def __init__(self, request: Request, mode: int, split: int, prompt: int, output: int):
        self.request = request
        self.mode = mode
        self.split = split
        self.prompt = prompt
        self.output = output
        self.slot = -1
        self.server: GenerativeDiscipline | None = None
        self.phase = _PROMPT
        self.dev_queue_s = 0.0  #: device queue, all steps, s
        self.dev_compute_s = 0.0  #: device compute, all steps, s
        self.dev_energy_j = 0.0
        #: device step times: the prefill, then decode j at index j, s
        self.dev_steps: np.ndarray = _NO_STEPS
        self.decode_power_w = 0.0  #: device power in a decode step, facility included, W
        self.up_s = 0.0  #: uploads, from ready to sent, s
        self.up_energy_j = 0.0
        self.up_ready_s = 0.0  #: when the upload in progress became ready, s
        self.up_bits = 0.0  #: bits of one decode's upload
        self.payload_bits = 0.0  #: bits uploaded so far
        self.down_s = 0.0  #: downlink time of one token, s
        self.down_total_s = 0.0  #: downlink so far, s
        #: with a topology: the wired path so far, both ways (uploads to the server, tokens
        #: back), s; a token's way back costs ``ret_latency_s + ret_bits_s`` per token it carries
        self.back_s = 0.0
        self.ret_latency_s = 0.0  #: the wired path's latency back to the access point, s
        self.ret_bits_s = 0.0  #: one token id over the wired path back, s
        self.spec: SpecState | None = None  #: speculative mode: the draft's state
        #: per-token early exit: the block each output token leaves after (token 1, from the
        #: prefill, at L), or None (every token runs the whole model)
        self.token_exits: IntArray | None = None
        self.cold_s = 0.0  #: wait for the server to load the model's weights, s
        self.load_bytes = 0.0  #: bytes of the load this request started (0: none), B

    @property
    def ret_s(self) -> float:
        """One token's way back over the wired path (0 without one, or without a downlink), s."""
        return self.ret_latency_s + self.ret_bits_s


class SpecState:
    """The draft side of one request in mode ``speculative`` (``docs/edge-llm.md``)."""

    __slots__ = (
        "accepted",
        "clock",
        "draft_side",
        "draft_step_s",
        "emitted_s",
        "energy_j",
        "last_arrival_s",
        "last_wired_s",
        "pending",
        "power_w",
        "rng",
        "rounds",
        "setup",
        "share",
    )

    def __init__(
        self,
        setup: DraftSetup,
        draft_side: SideCosts,
        rng: np.random.Generator,
        power_w: float,
        clock: float,
    ) -> None:
        self.setup = setup
        self.draft_side = draft_side
        self.rng = rng  #: the device's draft-acceptance stream
        self.power_w = power_w  #: device power in a draft decode step, facility included, W
        self.clock = clock  #: device clock over its top, f/f_max
        self.rounds = 0  #: verification rounds so far
        self.accepted = 0  #: draft tokens accepted so far
        self.share = 0.0  #: the request's share of each verification step, summed
        self.energy_j = 0.0  #: the draft's steps on the device, J
        self.pending = (1, 1)  #: (width, advance) of the round whose drafts are going up
        self.last_arrival_s = -math.inf  #: when the last chunk reached the device, s
        self.emitted_s = 0.0  #: when the last chunk was emitted, s
        self.last_wired_s = 0.0  #: the last chunk's way back over the wired path, s
        self.draft_step_s = 0.0  #: the draft's latest decode step on the device, s


class Generative:
    """The generative requests of one run (module docstring), driven by the engine."""

    def __init__(self, engine: Engine, token_writer: TableWriter | None = None) -> None:
        self.engine = engine
        self.env = engine.env
        deployment = engine.deployment
        self._downlink = deployment.downlink
        self._device_model: StepTimeModelBase = make_step_time_model("roofline")
        self._token_writer = token_writer
        self._detail = token_writer is not None
        self._arena = TokenArena(7 if self._detail else 1)
        self._states: list[GenState | None] = []
        self._free: list[int] = []
        slots = 64
        self._split = np.zeros(slots, dtype=np.int64)
        self._kept = np.ones(slots)  # each sequence's kept fraction of the server side, ρ̃
        self._is_split = np.zeros(slots, dtype=np.bool_)
        self._is_spec = np.zeros(slots, dtype=np.bool_)
        self._spec_open = 0  # speculative requests holding a slot
        self._spec_rngs: dict[int, np.random.Generator] = {}  # by device index
        policy = engine.policy
        self._chooser = policy if isinstance(policy, DraftChooser) else None
        self._emitted = np.zeros(slots, dtype=np.int64)
        self._output = np.zeros(slots, dtype=np.int64)
        self._compute = np.zeros(slots)
        self._span = np.zeros(slots)
        self._ready_at = np.zeros(slots)
        self._energy = np.zeros(slots)
        self._preempted = np.zeros(slots, dtype=np.int64)
        self._dev_cum = np.zeros(slots)
        self._up_cum = np.zeros(slots)
        self._back_cum = np.zeros(slots)
        self._sides: dict[tuple[str, int, Side], SideCosts] = {}
        self._servers: list[GenerativeDiscipline] = []  # those prepared
        self._tails: dict[tuple[int, int], tuple[Any, ...]] = {}
        self.tokens_delivered = 0  #: output tokens that reached their device
        self._splits_open = 0  # split requests holding a slot
        self._pruned_open = 0  # requests holding a slot with ρ̃ < 1
        self._by_index: dict[int, GenerativeDiscipline] = {}  # prepared servers by index
        # Per-token early exit (docs/early-exit-and-placement.md): each device's exit law and
        # its own stream, and an arena of each token's exit block (token 1 first), all only
        # when a generative device's model has exit heads.
        self._exit_laws: dict[int, tuple[IntArray, np.ndarray, np.random.Generator]] = {}
        self._exits_on = any(d.tokens is not None and d.model.exits for d in deployment.devices)
        self._exit_arena = TokenArena(1) if self._exits_on else None
        self._exits_open = 0  # requests holding a slot whose tokens exit early
        self._num_blocks = np.zeros(slots, dtype=np.int64)  # each slot's model's L
        self._placement = deployment.model_cache is not None  # servers load their models

    # ---- set-up -----------------------------------------------------------------------------

    def labels(self) -> dict[str, list[str]]:
        """Labels of the generative trace's categorical columns."""
        return {"mode": MODE_LABELS, "reason": REASON_LABELS}

    def adopt(self, servers: Sequence_[Any]) -> None:
        """Prepare every server that serves generative requests for the model of the devices
        that may send it generative requests (their own server, or, with a topology, any server
        their cell routes to; one model per server, else an InputError)."""
        deployment = self.engine.deployment
        reach: dict[int, set[int]] = {}  # server -> the cells whose requests may go to it
        for cell_index, cell in enumerate(deployment.cells):
            for route in cell.routes:
                reach.setdefault(route.server, set()).add(cell_index)
        generative = [d for d in deployment.devices if d.tokens]
        for index, server in enumerate(servers):
            if not isinstance(server, GenerativeDiscipline):
                continue
            cells = reach.get(index, set())
            models = {
                d.model.name: d.model for d in generative if d.server == index or d.cell in cells
            }
            spec = server.spec
            if len(models) > 1:
                raise InputError(
                    f"server {spec.id!r}: a server of discipline {spec.discipline} serves one "
                    f"model, got generative devices of models {sorted(models)}; expected one "
                    "model per server",
                    path=f"servers[{spec.index}]",
                )
            if not models:  # no generative device uses it
                continue
            exits = {"exit_of": self._exit_of} if self._exits_on else {}
            server.prepare(
                next(iter(models.values())), self._split_of, self._on_step, self._kept_of, **exits
            )
            self._servers.append(server)
            self._by_index[index] = server

    def _split_of(self, slots: IntArray) -> IntArray:
        split: IntArray = self._split[slots]
        return split

    def _kept_of(self, slots: IntArray) -> np.ndarray | None:
        """Each slot's kept fraction of the server side, ρ̃; None when no request in flight is
        pruned there (every ρ̃ is 1)."""
        if not self._pruned_open:
            return None
        kept: np.ndarray = self._kept[slots]
        return kept

    def _exit_of(self, slots: IntArray) -> IntArray | None:
        """The block after which each slot's next decode token leaves (``L``: the whole
        model); None when no request in flight exits early."""
        arena = self._exit_arena
        if not self._exits_open or arena is None:
            return None
        exits: IntArray = arena.values[0, arena.start[slots] + self._emitted[slots]].astype(
            np.int64
        )
        return exits

    def _token_exits(self, device: _Device, model: ModelProfile, output: int) -> IntArray:
        """Each output token's exit block: token 1 (the prefill's) at ``L``, tokens
        ``2..output`` drawn from the model's exit law on the device's stream ``token-exit``."""
        index = device.spec.index
        law = self._exit_laws.get(index)
        if law is None:
            blocks, probabilities = model.exit_law
            law = self._exit_laws[index] = (
                np.asarray(blocks, dtype=np.int64),
                exit_cumulative(probabilities),
                self.engine.device_stream("token-exit", index),
            )
        exits = np.empty(output, dtype=np.int64)
        exits[0] = model.num_blocks
        exits[1:] = draw_token_exits(law[2], law[0], law[1], output - 1)
        return exits

    def _exit_device_side(
        self, request: Request, model: ModelProfile, exit_block: int
    ) -> SideCosts:
        """The device side of an on-device token leaving after ``exit_block`` (blocks
        ``1..exit_block`` and the head) at the request's weight and KV widths."""
        key: tuple[str, int, Side] = (model.name + "@exit", exit_block, "device")
        costs = self._sides.get(key)
        if costs is None:
            profile = exit_profile(model, exit_block)
            costs = self._sides[key] = SideCosts.of_blocks(profile, 0, profile.num_blocks)
        return self._compact_side(request, model, costs)

    def server_batch(self, server_index: int) -> ServerBatch | None:
        """The batch state of server ``server_index`` now, for a generative request's policy
        context (None: not a server of generative requests)."""
        server = self._by_index.get(server_index)
        if server is None:
            return None
        running, cached, waiting, free, block, left = server.load()
        live = server.live_ids()
        widest = float(self._kept[live].max()) if live else 0.0
        return ServerBatch(running, cached, waiting, widest, free, block, left)

    def _device_side(self, request: Request, model: ModelProfile, split: int) -> SideCosts:
        """The device side of ``request``'s split at its weight and KV widths (issue 21)."""
        return self._compact_side(request, model, self._side(model, split, "device"))

    def _compact_side(self, request: Request, model: ModelProfile, costs: SideCosts) -> SideCosts:
        """``costs`` of a device side at ``request``'s weight and KV widths."""
        compact = request.compact
        if compact is None:
            return costs
        bits = compact.bits
        return quantized_side(
            costs,
            bits.weight_bits_device,
            bits.kv_cache_bits,
            model.activation_bits,
            request.device.spec.hardware,
        )

    def _side(self, model: ModelProfile, split: int, side: Side) -> SideCosts:
        key = (model.name, split, side)
        costs = self._sides.get(key)
        if costs is None:
            costs = self._sides[key] = SideCosts.for_split(model, split, side)
        return costs

    # ---- a request arrives ------------------------------------------------------------------

    def start(self, request: Request, device: _Device, prompt: int, output: int) -> None:
        """Run the generative ``request`` (decided, checked) of ``device``."""
        now = self.env.now
        decision = request.decision
        spec = device.spec
        model = spec.model
        split = decision.split
        mode = _MODE_CODES[decision.mode or mode_of_split(split, model.last_split)]
        state = GenState(request, mode, split, prompt, output)
        request.gen = state
        request.payload_bits = 0.0
        request.tx_power_w = decision.tx_power_w  # what the uplink needs of a job
        request.mean_gain = spec.mean_gain
        request.fading = device.fading
        request.link = device.link
        if not decision.admit:
            self._refuse(request, _POLICY)
            return
        clock = 1.0
        if mode == _SPECULATIVE:
            spec_state = self._draft_state(request, device, prompt, output)
            if spec_state is None:
                self._refuse(request, _MEMORY)
                return
            state.spec = spec_state
        elif mode != _ON_SERVER:  # the device side pruned to ρ, at the clock f (docs/generative.md)
            hardware = spec.hardware
            device_side = self._device_side(request, model, split).pruned(decision.rho_device)
            if not side_fits(device_side, hardware, prompt, output):
                self._refuse(request, _MEMORY)
                return
            clock = min(decision.f_device_hz / hardware.f_max_hz, 1.0)
            inputs = solo_step_inputs(prompt, output)
            steps = self._device_model.solo_step_times_s(*inputs, device_side, hardware, clock)
            if mode == _ON_DEVICE and model.exits and split == model.num_blocks:
                state.token_exits = self._token_exits(device, model, output)
                steps = self._exit_steps(
                    request, model, inputs, steps, state.token_exits, clock, decision.rho_device
                )
            if mode == _ON_DEVICE:
                self._on_device(request, device, steps, clock)
                return
            state.dev_steps = steps  # a float64 array: 8 bytes a token while in flight
            state.decode_power_w = hardware.pue * clocked_phase_power_w(hardware, "decode", clock)
        server = self._by_index.get(request.server_index)
        if server is None:
            other = request.server
            raise InputError(
                f"request {request.id} of device {spec.id!r}: mode {MODE_LABELS[mode]} needs a "
                "server whose discipline serves generative requests (continuous-batching); "
                f"server {other.spec.id!r} has discipline {other.spec.discipline} "
                "(docs/generative.md)"
            )
        if server.refusal(Sequence(0, prompt, output)) is not None:
            self._refuse(request, _SERVER)
            return
        state.server = server
        if mode == _ON_SERVER and model.exits:
            state.token_exits = self._token_exits(device, model, output)
        downlink = self._downlink
        state.down_s = 0.0 if downlink is None else token_id_bits(model) / downlink.rate_bps
        route = request.route
        if route is not None and downlink is not None:  # tokens come back over the wires too
            state.ret_latency_s = route.latency_s
            state.ret_bits_s = token_id_bits(model) * route.s_per_bit
        self._open(state)
        if mode == _ON_SERVER:
            state.up_ready_s = now
            self._upload(request, prompt * token_id_bits(model))
            return
        if mode == _SPECULATIVE:
            self._draft_prefill(state, device, now)
            state.up_ready_s = now
            self._upload(request, prompt * token_id_bits(model))
            return
        state.up_bits = hidden_bits_per_token(model, split)
        if request.compact is not None:
            state.up_bits = scaled_payload_bits(
                state.up_bits, request.compact.bits.payload_bits_per_value, model.activation_bits
            )
        prefill_s = float(state.dev_steps[0])
        start = device.free_at if device.free_at > now else now
        done = start + prefill_s
        device.free_at = done
        device.pending.append(done)
        state.dev_queue_s = start - now
        state.dev_compute_s = prefill_s
        hardware = spec.hardware
        state.dev_energy_j = (
            hardware.pue * clocked_phase_power_w(hardware, "prefill", clock) * prefill_s
        )
        state.up_ready_s = done
        self._after(done, request, prompt * state.up_bits)

    def _exit_steps(
        self,
        request: Request,
        model: ModelProfile,
        inputs: tuple[np.ndarray, np.ndarray, np.ndarray],
        steps: np.ndarray,
        exits: IntArray,
        clock: float,
        rho: float,
    ) -> np.ndarray:
        """The device's step times of an on-device request whose tokens leave at ``exits``:
        each decode whose token leaves after block ``e < L − 1`` timed on the model truncated
        there (:func:`~coinfer.emulator.model.token_exit.exit_profile`), the others as
        ``steps`` (s)."""
        hardware = request.device.spec.hardware
        steps = steps.copy()
        for block in np.unique(exits[1:]).tolist():
            if block >= model.num_blocks - 1:
                continue
            mask = np.zeros(len(exits), dtype=np.bool_)
            mask[1:] = exits[1:] == block
            side = self._exit_device_side(request, model, block).pruned(rho)
            steps[mask] = self._device_model.solo_step_times_s(
                inputs[0][mask], inputs[1][mask], inputs[2][mask], side, hardware, clock
            )
        return steps

    def _after(self, at_s: float, request: Request, bits: float) -> None:
        """Upload ``bits`` for ``request`` at ``at_s`` (s, now or later)."""
        now = self.env.now
        if at_s <= now:
            self._upload(request, bits)
            return
        timer = self.env.timeout(at_s - now)
        timer.callbacks.append(lambda _event: self._upload(request, bits))

    def _upload(self, request: Request, bits: float) -> None:
        state = request.gen
        assert state is not None
        state.payload_bits += bits
        request.payload_bits = bits  # what this upload carries (over the wired hops too)
        request.left = bits
        request.finish_s = math.inf  # the uplink sets the end it computes
        request.device.uplink.start(request)

    def _on_device(
        self, request: Request, device: _Device, steps: np.ndarray, clock: float
    ) -> None:
        """Every step on the device, back to back behind its earlier work: all computed now
        (``clock``: the device's clock over its top, ``f/f_max``)."""
        now = self.env.now
        state = request.gen
        assert state is not None
        start = device.free_at if device.free_at > now else now
        times = np.cumsum(np.concatenate(([start], steps)))[1:]  # start + s0, then + s1, ...
        done = float(times[-1])
        device.free_at = done
        device.pending.append(done)
        hardware = device.spec.hardware
        energy = hardware.pue * (
            clocked_phase_power_w(hardware, "prefill", clock) * float(steps[0])
            + clocked_phase_power_w(hardware, "decode", clock) * float(steps[1:].sum())
        )
        side = self._device_side(request, device.spec.model, state.split)
        self._complete_row(
            request,
            times,
            device_queue_s=start - now,
            device_compute_s=done - start,
            uplink_s=0.0,
            server_queue_s=0.0,
            server_compute_s=0.0,
            downlink_s=0.0,
            device_j=energy,
            uplink_j=0.0,
            server_j=0.0,
            preemptions=0,
            kv_device=float(side.kv_cache_bytes(state.prompt + state.output - 1)),
            kv_server=0.0,
            exits=state.token_exits,
        )
        if self._detail:
            gaps = np.diff(times, prepend=request.t_arrival)
            zeros = np.zeros(len(times))
            exits = state.token_exits
            if exits is None:
                exits = np.full(len(times), device.spec.model.num_blocks, dtype=np.int64)
            self._write_tokens(
                request.id, times, gaps, gaps, zeros, zeros, zeros, zeros, zeros, exits
            )

    # ---- uploads and server steps -----------------------------------------------------------

    def uploaded(self, request: Request) -> None:
        """An upload of ``request`` is on the server's side (called by the uplink)."""
        now = self.env.now
        state = request.gen
        assert state is not None
        if request.route is None:
            sent = request.finish_s
            t = sent if sent <= now else now  # the time computed for the transfer's end
            up_end = t
        else:  # the upload crossed the wired path after the uplink (engine._uplink_done)
            up_end = request.uplink_done_s
            t = now
            state.back_s += t - up_end
        state.up_s += up_end - state.up_ready_s
        state.up_energy_j += request.tx_power_w * (up_end - request.tx_start_s)
        slot = state.slot
        self._ready_at[slot] = t
        if self._detail:
            self._dev_cum[slot] = state.dev_queue_s + state.dev_compute_s
            self._up_cum[slot] = state.up_s
            self._back_cum[slot] = state.back_s
        server = state.server
        assert server is not None
        if state.phase == _PROMPT:
            state.phase = _DECODE
            sequence = Sequence(slot, state.prompt, state.output, state.mode >= _SPLIT)
            wait_s, load_bytes = 0.0, 0.0
            if self._placement and not server.live_ids():  # a model in use stays loaded
                wait_s, load_bytes = self.engine.model_cold_start(
                    request.server_index, request.device.spec.model.name, t
                )
            if wait_s > 0.0:  # the server loads the model first (model placement)
                state.cold_s = wait_s
                state.load_bytes = load_bytes
                loaded = t + wait_s
                timer = self.env.timeout(max(loaded - now, 0.0))
                timer.callbacks.append(lambda _event: server.admit(sequence, loaded))
                return
            server.admit(sequence, t)
        elif state.spec is not None:
            width, advance = state.spec.pending
            server.mark_ready(slot, t, width, advance)
        else:
            server.mark_ready(slot, t)

    def _on_step(
        self,
        server: GenerativeDiscipline,
        batch: Batch,
        result: StepResult,
        step_s: float,
        energy_j: float,
        end_s: float,
    ) -> None:
        """A server step ended at ``end_s``: account for it, batch-wide, then send its tokens."""
        slots = batch.seq_ids
        self._compute[slots] += step_s
        if batch.num_prefills or self._spec_open:  # shared in proportion to the tokens of each
            tokens = batch.tokens
            self._energy[slots] += energy_j * (tokens / tokens.sum())
        else:  # one token each
            self._energy[slots] += energy_j / len(slots)
        if len(batch.preempted):
            self._preempted[batch.preempted] += 1
        emitted = result.emitted
        if not len(emitted):
            return
        if self._exits_open and batch.num_prefills:  # a prefill's token ran every block
            exit_arena = self._exit_arena
            assert exit_arena is not None
            prefilled = batch.seq_ids[len(batch) - batch.num_prefills :]
            fresh = emitted[np.isin(emitted, prefilled)]
            where = exit_arena.start[fresh] + self._emitted[fresh]
            exit_arena.values[0, where] = self._num_blocks[fresh]
        if self._spec_open:
            is_spec = self._is_spec[emitted]
            if is_spec.any():
                self._spec_step(batch, result, is_spec, end_s)
                emitted = emitted[~is_spec]
                if not len(emitted):
                    return
        self._span[emitted] += end_s - self._ready_at[emitted]
        self._ready_at[emitted] = end_s
        count = self._emitted[emitted]
        arena = self._arena
        where = arena.start[emitted] + count
        values = arena.values
        values[_EMITTED, where] = end_s
        if self._detail:
            values[_COMPUTE, where] = self._compute[emitted]
            values[_SPAN, where] = self._span[emitted]
            values[_DEVICE, where] = self._dev_cum[emitted]
            values[_UPLINK, where] = self._up_cum[emitted]
            values[_BACKHAUL, where] = self._back_cum[emitted]
        count += 1
        self._emitted[emitted] = count
        done = count == self._output[emitted]
        if done.any():
            for slot in emitted[done].tolist():
                self._complete(slot)
        if self._splits_open:
            back = emitted[~done & self._is_split[emitted]]
            for slot in back.tolist():
                self._token_back(slot, end_s)

    # ---- speculative decoding (docs/edge-llm.md) --------------------------------------------

    def _draft_state(
        self, request: Request, device: _Device, prompt: int, output: int
    ) -> SpecState | None:
        """The draft side of a speculative ``request``; None when the draft model and its KV
        cache for ``prompt + output`` tokens do not fit the device's memory."""
        spec = device.spec
        setup = spec.speculative
        if setup is None:
            raise InputError(
                f"request {request.id} of device {spec.id!r}: the policy chose mode speculative, "
                f"which needs a draft model on the device; expected devices[].speculative "
                f"(e.g. {{draft: llama-3.2-1b}}) in group {spec.group!r} (docs/edge-llm.md)",
                path="devices[].speculative",
            )
        draft = setup.draft
        side = self._side(draft, draft.last_split, "device")
        hardware = spec.hardware
        if not side_fits(side, hardware, prompt, output):
            return None
        rng = self._spec_rngs.get(spec.index)
        if rng is None:
            rng = self._spec_rngs[spec.index] = self.engine.device_stream(
                "draft-acceptance", spec.index
            )
        decision = request.decision
        clock = min(decision.f_device_hz / hardware.f_max_hz, 1.0)
        power = hardware.pue * clocked_phase_power_w(hardware, "decode", clock)
        spec_state = SpecState(setup, side, rng, power, clock)
        spec_state.draft_step_s = float(
            self._device_model.solo_step_times_s([1], [prompt], [False], side, hardware, clock)[0]
        )
        return spec_state

    def _draft_prefill(self, state: GenState, device: _Device, now: float) -> None:
        """The draft's prefill on the device, beside the prompt's upload: it is on the
        request's chain only through the wait it may cause before the first draft."""
        spec = state.spec
        assert spec is not None
        hardware = device.spec.hardware
        prefill_s = float(
            self._device_model.solo_step_times_s(
                [state.prompt], [0], [True], spec.draft_side, hardware, spec.clock
            )[0]
        )
        start = device.free_at if device.free_at > now else now
        device.free_at = start + prefill_s
        device.pending.append(device.free_at)
        energy = hardware.pue * clocked_phase_power_w(hardware, "prefill", spec.clock) * prefill_s
        spec.energy_j += energy
        state.dev_energy_j += energy

    def _spec_step(
        self, batch: Batch, result: StepResult, is_spec: np.ndarray, end_s: float
    ) -> None:
        """The speculative requests that emitted tokens in a step ended at ``end_s``: their
        chunks go back (first in, first out on the downlink), then each either completes, has
        its next token decoded by the server alone (γ = 0), or drafts its next round."""
        slots = result.emitted[is_spec].tolist()
        advanced = (
            [1] * len(slots) if result.advanced is None else result.advanced[is_spec].tolist()
        )
        decodes = len(batch) - batch.num_prefills
        seq_ids = batch.seq_ids[:decodes]
        widths = batch.tokens[:decodes]
        total_tokens = float(batch.tokens.sum())
        width_of = dict(zip(seq_ids.tolist(), widths.tolist(), strict=True))
        arena = self._arena
        values = arena.values
        for slot, tokens in zip(slots, advanced, strict=True):
            state = self._states[slot]
            assert state is not None and state.spec is not None
            spec = state.spec
            self._span[slot] += end_s - self._ready_at[slot]
            self._ready_at[slot] = end_s
            count = int(self._emitted[slot])
            width = width_of.get(slot)
            if count and width is not None:  # a verification round (or a plain decode)
                spec.rounds += 1
                spec.accepted += tokens - 1
                spec.share += width / total_tokens
            wired = state.ret_latency_s + tokens * state.ret_bits_s if state.ret_s else 0.0
            start = end_s if end_s > spec.last_arrival_s else spec.last_arrival_s
            arrival = start + tokens * state.down_s + wired
            spec.last_arrival_s = arrival
            spec.emitted_s = end_s
            spec.last_wired_s = wired
            where = int(arena.start[slot]) + count
            values[_EMITTED, where : where + tokens] = arrival
            if self._detail:
                back = arrival - end_s
                values[_COMPUTE, where : where + tokens] = self._compute[slot]
                values[_SPAN, where : where + tokens] = self._span[slot]
                values[_DEVICE, where : where + tokens] = self._dev_cum[slot]
                values[_UPLINK, where : where + tokens] = self._up_cum[slot]
                values[_BACKHAUL, where : where + tokens] = self._back_cum[slot] + wired
                values[_DOWN, where : where + tokens] = state.down_total_s + back - wired
            count += tokens
            self._emitted[slot] = count
            if count == state.output:
                self._complete(slot)
                continue
            gamma = min(self._draft_tokens(state, count), state.output - count - 1)
            if gamma <= 0:  # the server decodes the next token on its own
                spec.pending = (1, 1)
                server = state.server
                assert server is not None
                server.mark_ready(slot, end_s)
                continue
            state.down_total_s += arrival - end_s - wired
            state.back_s += wired
            self._draft_round(state, arrival, count, gamma)

    def _draft_tokens(self, state: GenState, generated: int) -> int:
        """γ of the next round: the policy's per-round choice (:class:`DraftChooser`)."""
        spec = state.spec
        assert spec is not None
        chooser = self._chooser
        request = state.request
        if chooser is None:
            raise InputError(
                f"policy {self.engine.policy_name!r} chose mode speculative for request "
                f"{request.id} but does not choose the draft tokens of a round; expected a "
                "policy with draft_tokens_for_round (e.g. speculative, speculative-adaptive; "
                "docs/edge-llm.md)"
            )
        device = request.device
        setup = spec.setup
        server = state.server
        context = state.prompt + generated - 1
        model = device.spec.model
        uplink = device.uplink
        rate = shannon_rate_bps(
            request.tx_power_w, device.spec.mean_gain, uplink.share_for_new_hz(), uplink.noise
        )
        downlink = self._downlink
        bits = token_id_bits(model)

        assert isinstance(server, ContinuousBatchingServer) and server.scheduler is not None
        running, cached, _ = server.scheduler.load()  # this request runs: it is one of them
        others, others_cached = max(running - 1, 0), max(cached - context, 0)
        verify_times: dict[int, float] = {}

        def verify_step_s(tokens: int) -> float:
            time_s = verify_times.get(tokens)
            if time_s is None:
                time_s = verify_times[tokens] = server.chunk_step_s(
                    tokens, context, others, others_cached
                )
            return time_s

        gamma = chooser.draft_tokens_for_round(
            DraftRound(
                request_id=request.id,
                round_index=spec.rounds,
                tokens_left=state.output - generated,
                alpha=setup.mean_alpha,
                draft_step_s=spec.draft_step_s,
                up_bits_per_draft=bits + setup.probability_bits,
                token_bits=bits,
                uplink_rate_bps=rate,
                downlink_rate_bps=math.inf if downlink is None else downlink.rate_bps,
                verify_step_s=verify_step_s,
                others_running=others,
            )
        )
        if not isinstance(gamma, (int, np.integer)) or gamma < 0:
            raise InputError(
                f"policy {self.engine.policy_name!r} returned draft tokens {gamma!r} for "
                f"request {request.id}; expected a whole number >= 0"
            )
        return int(gamma)

    def _draft_round(self, state: GenState, arrival_s: float, generated: int, gamma: int) -> None:
        """The device drafts ``gamma`` tokens once the round's chunk has arrived at
        ``arrival_s`` (first come, first served on the device), then uploads them; the
        accepted count of the round is drawn now (the device's ``draft-acceptance`` stream)."""
        spec = state.spec
        assert spec is not None
        request = state.request
        device = request.device
        hardware = device.spec.hardware
        context = state.prompt + generated - 1
        steps = self._device_model.solo_step_times_s(
            np.ones(gamma, dtype=np.int64),
            np.arange(context, context + gamma, dtype=np.int64),
            np.zeros(gamma, dtype=np.bool_),
            spec.draft_side,
            hardware,
            spec.clock,
        )
        draft_s = float(steps.sum())
        spec.draft_step_s = float(steps[-1])
        start = device.free_at if device.free_at > arrival_s else arrival_s
        done = start + draft_s
        device.free_at = done
        device.pending.append(done)
        state.dev_queue_s += start - arrival_s
        state.dev_compute_s += draft_s
        energy = spec.power_w * draft_s
        spec.energy_j += energy
        state.dev_energy_j += energy
        accepted = spec.setup.accepted(float(spec.rng.random()), gamma)
        spec.pending = (gamma + 1, accepted + 1)
        state.up_ready_s = done
        bits = gamma * (token_id_bits(device.spec.model) + spec.setup.probability_bits)
        self._after(done, request, bits)

    def _token_back(self, slot: int, emitted_s: float) -> None:
        """Split mode: the token emitted at ``emitted_s`` goes back, the device runs its layers
        on it, and its hidden vector goes up."""
        state = self._states[slot]
        assert state is not None
        request = state.request
        device = request.device
        arrived = emitted_s + state.down_s + state.ret_s
        state.down_total_s += state.down_s
        state.back_s += state.ret_s
        step_s = float(state.dev_steps[self._emitted[slot]])
        start = device.free_at if device.free_at > arrived else arrived
        done = start + step_s
        device.free_at = done
        device.pending.append(done)
        state.dev_queue_s += start - arrived
        state.dev_compute_s += step_s
        state.dev_energy_j += state.decode_power_w * step_s
        state.up_ready_s = done
        self._after(done, request, state.up_bits)

    # ---- completion -------------------------------------------------------------------------

    def _complete(self, slot: int) -> None:
        """``slot``'s last token was emitted: its times are known; write its row, free it."""
        state = self._states[slot]
        assert state is not None
        request = state.request
        output = state.output
        arena = self._arena
        emitted = arena.segment(_EMITTED, slot)
        if state.mode == _SPECULATIVE:
            spec = state.spec
            assert spec is not None
            times = emitted.copy()  # the arrivals at the device
            closing = np.arange(output)
            wired_last = spec.last_wired_s
            downlink_s = state.down_total_s + (spec.last_arrival_s - spec.emitted_s) - wired_last
            backhaul_s = state.back_s + wired_last
            down: np.ndarray = _NO_STEPS  # the token table's parts are in the arena
            wired: np.ndarray = _NO_STEPS
        elif state.mode == _ON_SERVER:
            assert state.server is not None
            chunk = state.server.stream_chunk_tokens()
            index = np.arange(output)
            first = index // chunk * chunk
            closing = np.minimum(first + chunk, output) - 1  # the token that closes its chunk
            carried = closing - first + 1
            down = carried * state.down_s
            wired = state.ret_latency_s + carried * state.ret_bits_s if state.ret_s else 0.0 * down
            times = emitted[closing] + down + wired
            downlink_s = float(down[-1])
            backhaul_s = state.back_s + float(wired[-1])
        else:
            closing = np.arange(output)
            down = np.full(output, state.down_s)
            wired = np.full(output, state.ret_s)
            times = emitted + state.down_s + state.ret_s
            downlink_s = state.down_total_s + state.down_s
            backhaul_s = state.back_s + state.ret_s
        compute = float(self._compute[slot])
        span = float(self._span[slot])
        model = request.device.spec.model
        device_kv = 0.0
        if state.mode == _SPLIT:
            side = self._device_side(request, model, state.split)
            device_kv = float(side.kv_cache_bytes(state.prompt + state.output - 1))
        elif state.spec is not None:  # the draft's KV cache on the device
            device_kv = float(state.spec.draft_side.kv_cache_bytes(state.prompt + state.output - 1))
        exits: IntArray | None = None
        exit_arena = self._exit_arena
        if exit_arena is not None:
            exits = exit_arena.segment(0, slot).astype(np.int64)
            exit_arena.close(slot)
            self._exits_open -= state.token_exits is not None
        server = state.server
        assert server is not None
        block = server.kv_block_tokens()
        blocks = -(-(state.prompt + state.output - 1) // block)
        server_kv = float(self._side(model, state.split, "server").kv_cache_bytes(blocks * block))
        self._complete_row(
            request,
            times,
            device_queue_s=state.dev_queue_s,
            device_compute_s=state.dev_compute_s,
            uplink_s=state.up_s,
            server_queue_s=max(span - compute - state.cold_s, 0.0),
            server_compute_s=compute,
            downlink_s=downlink_s,
            backhaul_s=backhaul_s,
            device_j=state.dev_energy_j,
            uplink_j=state.up_energy_j,
            server_j=float(self._energy[slot]),
            preemptions=int(self._preempted[slot]),
            kv_device=device_kv,
            kv_server=server_kv,
            exits=exits,
        )
        if self._detail:
            self._token_parts(request, state, times, closing, down, wired, exits)
        arena.close(slot)
        self._states[slot] = None
        self._free.append(slot)
        self._splits_open -= state.mode == _SPLIT
        self._spec_open -= state.mode == _SPECULATIVE
        self._is_spec[slot] = False
        self._pruned_open -= self._kept[slot] != 1.0

    def _token_parts(
        self,
        request: Request,
        state: GenState,
        times: np.ndarray,
        closing: np.ndarray,
        down: np.ndarray,
        wired: np.ndarray,
        exits: IntArray | None,
    ) -> None:
        """The token table's rows of a request served by the server: each token's gap split
        along the chain, as differences of the parts accumulated up to its arrival (``down``
        and ``wired``: each token's own way back, over the air and over the wires, s)."""
        slot = state.slot
        arena = self._arena
        compute = arena.segment(_COMPUTE, slot)[closing]
        span = arena.segment(_SPAN, slot)[closing]
        if state.mode == _SPECULATIVE:
            device = arena.segment(_DEVICE, slot).copy()
            uplink = arena.segment(_UPLINK, slot).copy()
            downlink: np.ndarray = arena.segment(_DOWN, slot).copy()
            backhaul = arena.segment(_BACKHAUL, slot).copy()
        elif state.mode == _ON_SERVER:
            device = np.zeros(len(times))
            uplink = np.full(len(times), state.up_s)
            downlink = down
            backhaul = np.full(len(times), arena.segment(_BACKHAUL, slot)[0]) + wired
        else:
            device = arena.segment(_DEVICE, slot).copy()
            uplink = arena.segment(_UPLINK, slot).copy()
            downlink = np.arange(1, len(times) + 1) * state.down_s
            backhaul = arena.segment(_BACKHAUL, slot) + wired
        queue = span - compute

        def gap(cumulative: np.ndarray) -> np.ndarray:
            return np.diff(cumulative, prepend=0.0)

        gaps = np.diff(times, prepend=request.t_arrival)
        if exits is None:
            exits = np.full(len(times), request.device.spec.model.num_blocks, dtype=np.int64)
        self._write_tokens(
            request.id,
            times,
            gaps,
            gap(device),
            gap(uplink),
            gap(backhaul),
            gap(queue),
            gap(compute),
            gap(downlink),
            exits,
        )

    def _write_tokens(
        self,
        request_id: int,
        times: np.ndarray,
        gaps: np.ndarray,
        device: np.ndarray,
        uplink: np.ndarray,
        backhaul: np.ndarray,
        queue: np.ndarray,
        step: np.ndarray,
        downlink: np.ndarray,
        exits: IntArray,
    ) -> None:
        """The token table's rows of request ``request_id``; ``exits``: each token's exit
        block."""
        writer = self._token_writer
        assert writer is not None
        count = len(times)
        writer.append_block(
            (
                np.full(count, request_id, dtype=np.int64),
                np.arange(1, count + 1, dtype=np.int32),
                times,
                gaps,
                device,
                uplink,
                backhaul,
                queue,
                step,
                downlink,
                exits.astype(np.int32),
            )
        )

    # ---- slots ------------------------------------------------------------------------------

    def _open(self, state: GenState) -> None:
        """Give ``state`` a slot (its scheduler id) and a segment of the token arena."""
        if self._free:
            slot = self._free.pop()
        else:
            slot = len(self._states)
            self._states.append(None)
            if slot == len(self._split):
                self._grow(2 * slot)
        state.slot = slot
        self._states[slot] = state
        self._split[slot] = state.split
        kept = state.request.decision.rho_server
        self._kept[slot] = kept
        self._pruned_open += kept != 1.0
        self._is_split[slot] = state.mode == _SPLIT
        self._splits_open += state.mode == _SPLIT
        self._is_spec[slot] = state.mode == _SPECULATIVE
        self._spec_open += state.mode == _SPECULATIVE
        self._emitted[slot] = 0
        self._output[slot] = state.output
        self._compute[slot] = 0.0
        self._span[slot] = 0.0
        self._energy[slot] = 0.0
        self._preempted[slot] = 0
        self._dev_cum[slot] = 0.0
        self._up_cum[slot] = 0.0
        self._back_cum[slot] = 0.0
        self._arena.open(slot, state.output)
        exit_arena = self._exit_arena
        if exit_arena is not None:
            last = state.request.device.spec.model.num_blocks
            self._num_blocks[slot] = last
            exit_arena.open(slot, state.output)
            segment = exit_arena.segment(0, slot)
            if state.token_exits is None:
                segment[:] = last
            else:
                segment[:] = state.token_exits
                self._exits_open += 1

    def _grow(self, slots: int) -> None:
        for name in (
            "_split",
            "_kept",
            "_is_split",
            "_is_spec",
            "_emitted",
            "_output",
            "_compute",
            "_span",
            "_ready_at",
            "_energy",
            "_preempted",
            "_dev_cum",
            "_up_cum",
            "_back_cum",
            "_num_blocks",
        ):
            old = getattr(self, name)
            new = np.zeros(slots, dtype=old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)

    # ---- rows -------------------------------------------------------------------------------

    def _refuse(self, request: Request, reason: int) -> None:
        """``request`` is infeasible, now, for ``reason``."""
        now = self.env.now
        self._write_row(
            request,
            now,
            _INFEASIBLE,
            reason,
            device_queue_s=0.0,
            device_compute_s=0.0,
            uplink_s=0.0,
            server_queue_s=0.0,
            server_compute_s=0.0,
            downlink_s=0.0,
            device_j=0.0,
            uplink_j=0.0,
            server_j=0.0,
            ttft_s=_NAN,
            tpot_s=_NAN,
            itl_p99_s=_NAN,
            preemptions=0,
            kv_device=0.0,
            kv_server=0.0,
        )

    def _complete_row(
        self,
        request: Request,
        times: np.ndarray,
        **parts: Any,
    ) -> None:
        """The row of a completed request whose tokens reach the device at ``times`` (s)."""
        output = len(times)
        first = float(times[0])
        last = float(times[-1])
        if output > 1:
            tpot = (last - first) / (output - 1)
            itl = float(np.percentile(np.diff(times), 99))
        else:
            tpot = itl = _NAN
        self.tokens_delivered += output
        self._write_row(
            request,
            last,
            _COMPLETED,
            _NO_REASON,
            ttft_s=first - request.t_arrival,
            tpot_s=tpot,
            itl_p99_s=itl,
            **parts,
        )

    @inline_builds  # the row, built by name, compiled to tuples
    def _write_row(
        self,
        request: Request,
        t_done: float,
        status: int,
        reason: int,
        *,
        device_queue_s: float,
        device_compute_s: float,
        uplink_s: float,
        server_queue_s: float,
        server_compute_s: float,
        downlink_s: float,
        device_j: float,
        uplink_j: float,
        server_j: float,
        ttft_s: float,
        tpot_s: float,
        itl_p99_s: float,
        preemptions: int,
        kv_device: float,
        kv_server: float,
        backhaul_s: float = 0.0,
        exits: IntArray | None = None,
    ) -> None:
        engine = self.engine
        state = request.gen
        assert state is not None
        decision = request.decision
        device = request.device
        spec = device.spec
        device_index, cell, model_code = device.codes
        t_arrival = request.t_arrival
        latency = t_done - t_arrival
        engine.note_done(t_done)
        completed = status == _COMPLETED
        device_total_j = device_j + uplink_j
        total_j = device_total_j + server_j
        compact = request.compact
        bits = native_bits(spec.model) if compact is None else compact.bits
        rounds, accepted_mean, draft_j, share = _spec_columns(state.spec)
        exit_block, mean_exit_block = _exit_columns(exits, spec.model.num_blocks, completed)
        row = build(
            TRACE_ROW,
            template=engine.row_template(spec, decision, spec.model, model_code, bits),
            request_id=request.id,
            device_id=device_index,
            cell_id=cell,
            server_id=request.server_index,
            split=decision.split,
            rho_device=decision.rho_device,
            rho_server=decision.rho_server,
            tx_power_w=decision.tx_power_w,
            f_device_hz=decision.f_device_hz,
            f_server_hz=request.server.spec.hardware.f_max_hz,  # the clock used: the top
            payload_bits=state.payload_bits,
            t_arrival=t_arrival,
            t_done=t_done,
            status=status,
            latency_s=latency,
            latency_device_queue_s=device_queue_s,
            latency_device_compute_s=device_compute_s,
            latency_uplink_s=uplink_s,
            latency_server_queue_s=server_queue_s,
            latency_server_compute_s=server_compute_s,
            latency_downlink_s=downlink_s,
            energy_device_compute_j=device_j,
            energy_uplink_j=uplink_j,
            energy_server_j=server_j,
            energy_device_j=device_total_j,
            energy_total_j=total_j,
            predicted_latency_s=decision.predicted_latency_s,
            predicted_energy_j=decision.predicted_energy_j,
            deadline_met=completed and latency <= spec.deadline_s,
            work_scale=request.work_scale,
            gain=request.gain_seen,
            bandwidth_hz=request.band_seen,
            policy_feasible=bool(decision.feasible),
            warmup=t_arrival < engine.warmup_s,
            latency_backhaul_s=backhaul_s,
            exit_block=exit_block,
            cold_start_s=state.cold_s,
            model_load_bytes=state.load_bytes,
            handovers=0,  # generative requests over a topology are refused (no mobility)
            model_bytes_device=decision.rho_device
            * spec.model.split_table.device_params[decision.split]
            * bits[0]
            / 8.0,
        ) + build(
            GENERATIVE_TAIL,
            mode=state.mode,
            prompt_tokens=state.prompt,
            output_tokens=state.output,
            ttft_s=ttft_s,
            tpot_s=tpot_s,
            itl_p99_s=itl_p99_s,
            e2e_s=latency if completed else _NAN,
            preemptions=preemptions,
            kv_peak_bytes_device=kv_device,
            kv_peak_bytes_server=kv_server,
            energy_per_token_j=total_j / state.output if completed else _NAN,
            reason=reason,
            spec_rounds=rounds,
            spec_accepted_tokens_mean=accepted_mean,
            draft_energy_j=draft_j,
            verify_batch_share=share,
            mean_exit_block=mean_exit_block,
        )
        writer = engine.writer
        writer.append(row)
        writer.maybe_flush()

    def one_pass_tail(
        self, split: int, last_split: int, status: int, memory_refused: bool = False
    ) -> tuple[Any, ...]:
        """The generative columns of a one-pass request's row: its mode, and 0 or NaN."""
        mode = _MODE_CODES[mode_of_split(split, last_split)]
        reason = _NO_REASON
        if status == _INFEASIBLE:
            reason = _MEMORY if memory_refused else _POLICY
        key = (mode, reason)
        tail = self._tails.get(key)
        if tail is None:
            tail = self._tails[key] = _one_pass_tail(mode, reason)
        return tail

    # ---- the end ----------------------------------------------------------------------------

    def close(self) -> None:
        """The run is over: every request left and every server freed its KV cache (else a
        RuntimeError: a bug), and the token table is written."""
        stuck = [state.request.id for state in self._states if state is not None]
        if stuck:
            raise RuntimeError(f"generative requests {stuck[:10]} never completed")
        for server in self._servers:
            server.check_idle()
        if self._token_writer is not None:
            self._token_writer.close()

    def server_stats(self) -> dict[str, dict[str, int]]:
        """Per continuous-batching server: steps, preemptions, peak and total KV blocks."""
        return {server.spec.id: server.stats() for server in self._servers}


@inline_builds
def _one_pass_tail(mode: int, reason: int) -> tuple[Any, ...]:
    """The generative columns of a one-pass request of mode ``mode``: 0 or NaN."""
    tail: tuple[Any, ...] = build(
        GENERATIVE_TAIL,
        mode=mode,
        prompt_tokens=0,
        output_tokens=0,
        ttft_s=_NAN,
        tpot_s=_NAN,
        itl_p99_s=_NAN,
        e2e_s=_NAN,
        preemptions=0,
        kv_peak_bytes_device=0.0,
        kv_peak_bytes_server=0.0,
        energy_per_token_j=_NAN,
        reason=reason,
        spec_rounds=0,
        spec_accepted_tokens_mean=_NAN,
        draft_energy_j=0.0,
        verify_batch_share=_NAN,
        mean_exit_block=_NAN,
    )
    return tail


def _exit_columns(exits: IntArray | None, num_blocks: int, completed: bool) -> tuple[int, float]:
    """``(exit_block, mean_exit_block)`` of a generative request's row: the deepest and the
    mean block its decoded tokens (output tokens 2..O; ``exits[0]`` is the prefill's) left
    after; ``L`` for a request without early exit or without a decode; the mean is NaN for a
    request that did not complete."""
    if not completed:
        return num_blocks, _NAN
    if exits is None or len(exits) < 2:
        return num_blocks, float(num_blocks)
    decoded = exits[1:]
    return int(decoded.max()), float(decoded.mean())


def _spec_columns(spec: SpecState | None) -> tuple[int, float, float, float]:
    """The speculative columns of a generative request's row: its rounds, the mean accepted
    drafts per round, the draft's energy and its mean share of the verification steps (0 or
    NaN in another mode)."""
    if spec is None:
        return 0, _NAN, 0.0, _NAN
    if not spec.rounds:
        return 0, _NAN, spec.energy_j, _NAN
    return spec.rounds, spec.accepted / spec.rounds, spec.energy_j, spec.share / spec.rounds
