"""Moving devices: their radio state on the measurement grid, the A3 handover, and what a
handover does to the uploads in flight.

**The grid.** Positions, path loss and shadowing change only at the times ``k·step_s``
(``handover.step_s``). A :class:`RadioTrack` computes a device's steps *lazily*: when a request
of the device arrives, when its upload starts, or when a handover check falls due during an
upload, the track advances from its last computed step to the one needed, all steps at once
(:meth:`MobilityModel.positions <coinfer.emulator.engine.mobility.MobilityModel.positions>` gives
``n`` steps at once exactly as ``n`` single steps, and the shadowing draws are a fixed number
per step). A device nobody asks about costs no event and no computation; the positions,
gains and handovers are those of a step-by-step update (``tests/emulator/test_mobility.py``
checks it).

**Shadowing** (Gudmundson): per access point, ``S_k = ρ·S_(k−1) + sqrt(1 − ρ²)·σ·w_k`` with
``ρ = exp(−moved / d_corr)``, ``moved`` the distance covered in the step and ``w_k`` standard
normal (drawn at every step, used only when the device moved). A device that does not move keeps
its gains exactly.

**A3.** At every step from the device's first move on (until then it keeps the cell the
topology associated it with), the strongest other cell is compared with the serving one:
the event *holds* when its gain exceeds the serving gain by more than ``hysteresis_db``. When it
has held at ``n + 1`` consecutive steps, ``n = ceil(time_to_trigger_s / step_s)``, the device
hands over to the strongest other cell at that step: a device whose event starts to hold at
step ``j`` hands over at ``(j + n)·step_s``.

**Uploads in flight.** While a moving device has uploads on the air (or paused), one timeout is
kept pending at its next handover (or, when none is due within :data:`LOOKAHEAD_STEPS`, at the
end of that window). At a handover every upload of the device leaves its cell's uplink
(:meth:`~coinfer.emulator.engine.uplink.Uplink.withdraw`), pauses ``interruption_s`` and then
starts on the new cell's uplink, with the bits it had left (``in_flight: continue``) or all of
them (``restart``); the request's server stays when the new cell can reach it, else it becomes
the new cell's own (``topology.routing``). An upload that would start during an interruption
waits for its end. The request's gain is the serving gain at the (re)start of its upload.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from coinfer.emulator.compiled import use_compiled
from coinfer.emulator.deployment.pathloss import PathLossModel, pathloss_model
from coinfer.emulator.deployment.spec import MobileDevice, MobilityPlan
from coinfer.emulator.engine.mobility import MobilityModel, MobilitySetting
from coinfer.emulator.errors import InputError
from coinfer.emulator.plugins import MOBILITY
from coinfer.emulator.randomness import Streams
from coinfer.emulator.records import build
from coinfer.emulator.trace.columns import HANDOVERS
from coinfer.emulator.trace.writer import TableWriter

use_compiled(__name__, __file__)  # its compiled build, if built from this source

if TYPE_CHECKING:
    from coinfer.emulator.engine.core import Engine, Request, _Device

#: Steps a pending handover check looks ahead of an upload (it is renewed while uploads last).
LOOKAHEAD_STEPS = 64
#: Below this, two times are the same grid time (s per s of the step).
_GRID_EPS = 1e-9


class RadioTrack:
    """A moving device's position, gains to every cell, A3 state and serving cell per step."""

    def __init__(
        self,
        model: MobilityModel,
        plan: MobileDevice,
        cells_m: np.ndarray,
        pathloss: PathLossModel,
        shadowing_std_db: float,
        decorrelation_m: float,
        hysteresis_db: float,
        ttt_steps: int,
        serving: int,
        shadow_rng: Callable[[], np.random.Generator],
        los_rng: Callable[[], np.random.Generator],
    ) -> None:
        self.model = model
        self.k = 0  #: the last step computed
        self.position_m = np.asarray(plan.start_m, dtype=float)  #: at step k
        self.cells_m = cells_m
        self._pathloss = pathloss
        self._sigma = shadowing_std_db
        self._decorrelation_m = decorrelation_m
        self._hysteresis_db = hysteresis_db
        self._ttt_steps = ttt_steps
        self._shadow_rng = shadow_rng
        self._los_rng = los_rng
        self._rng: np.random.Generator | None = None
        self.shadowing_db = np.array(plan.shadowing_db, dtype=float)  #: at step k, per cell
        self.gains = np.array(plan.gains, dtype=float)  #: linear, at step k, per cell
        self._gains_db = 10.0 * np.log10(self.gains)
        self.serving = serving  #: the serving cell at step k
        self._held = 0  # consecutive steps the A3 event has held
        self._moved = False  # whether it has left its position at time 0
        self.cells = [serving]  #: the serving cell at every step computed
        self.serving_gains = [float(self.gains[serving])]  #: its gain at every step, linear
        self.handover_steps: list[int] = []  #: step of each handover, in order
        self.handovers: list[tuple[int, int]] = []  #: (from cell, to cell) of each

    def advance(self, k: int) -> None:
        """Compute every step up to ``k`` (nothing if already done)."""
        count = k - self.k
        if count <= 0:
            return
        positions = self.model.positions(count)
        noise = None
        if self._sigma > 0.0:
            if self._rng is None:
                self._rng = self._shadow_rng()
            noise = self._sigma * self._rng.standard_normal((count, len(self.cells_m)))
        offsets = positions[:, None, :] - self.cells_m[None, :, :]
        distances = np.maximum(np.hypot(offsets[..., 0], offsets[..., 1]), 1.0)
        pathloss = self._pathloss.gains(distances.ravel(), self._los_rng).reshape(distances.shape)
        previous = self.position_m
        shadow, gains, gains_db = self.shadowing_db, self.gains, self._gains_db
        serving, held, has_moved = self.serving, self._held, self._moved
        for i in range(count):
            step = self.k + i + 1
            moved = math.hypot(positions[i, 0] - previous[0], positions[i, 1] - previous[1])
            previous = positions[i]
            if moved > 0.0:
                if noise is not None:
                    rho = math.exp(-moved / self._decorrelation_m)
                    shadow = rho * shadow + math.sqrt(1.0 - rho * rho) * noise[i]
                gains = pathloss[i] * 10.0 ** (shadow / 10.0)
                gains_db = 10.0 * np.log10(gains)
                has_moved = True
            if not has_moved:  # still where the topology associated it
                self.cells.append(serving)
                self.serving_gains.append(float(gains[serving]))
                continue
            others = gains_db.copy()
            others[serving] = -math.inf
            best = int(np.argmax(others))
            held = held + 1 if others[best] > gains_db[serving] + self._hysteresis_db else 0
            if held > self._ttt_steps:
                self.handover_steps.append(step)
                self.handovers.append((serving, best))
                serving, held = best, 0
            self.cells.append(serving)
            self.serving_gains.append(float(gains[serving]))
        self.k += count
        self.position_m = np.asarray(previous, dtype=float)
        self.shadowing_db, self.gains, self._gains_db = shadow, gains, gains_db
        self.serving, self._held, self._moved = serving, held, has_moved

    def handovers_between(self, k0: int, k1: int) -> int:
        """Handovers at steps in ``(k0, k1]`` (both computed)."""
        steps = self.handover_steps
        return bisect.bisect_right(steps, k1) - bisect.bisect_right(steps, k0)

    def last_handover(self, k: int) -> int | None:
        """The step of the last handover at or before step ``k`` (computed), or None."""
        index = bisect.bisect_right(self.handover_steps, k)
        return self.handover_steps[index - 1] if index else None

    def next_handover(self, k: int, horizon: int) -> int | None:
        """The step of the first handover after step ``k`` and at most ``k + horizon``."""
        self.advance(k + horizon)
        index = bisect.bisect_right(self.handover_steps, k)
        if index < len(self.handover_steps):
            return self.handover_steps[index]
        return None


class Handovers:
    """The engine's side of mobility: tracks for the moving devices, their cells kept current
    lazily, and the uploads caught by handovers (see the module docstring)."""

    def __init__(self, engine: Engine, plan: MobilityPlan, streams: Streams) -> None:
        self.engine = engine
        self.env = engine.env
        handover = plan.handover
        self.step_s = handover.step_s
        self.interruption_s = handover.interruption_s
        self.restart = handover.in_flight == "restart"
        for cell, uplink in zip(engine.deployment.cells, engine._uplinks, strict=True):
            if getattr(type(uplink), "withdraw", None) in (None, _base_withdraw()):
                raise InputError(
                    f"cell {cell.id!r}: sharing {cell.sharing!r} cannot hand uploads over (it "
                    "has no withdraw method); expected fdma, ps, fifo or a sharing that "
                    "implements withdraw, since devices move (docs/mobility.md)",
                    path="topology.access_point.sharing",
                )
        channel = engine.deployment.channel
        pathloss = pathloss_model(channel.pathloss)
        cells_m = np.array(plan.cells_m, dtype=float)
        ttt_steps = math.ceil(handover.time_to_trigger_s / handover.step_s - _GRID_EPS)
        models = MOBILITY.load_many(d.params.model for d in plan.devices)
        self.tracks: dict[int, RadioTrack] = {}
        for mobile in plan.devices:
            spec = engine.deployment.devices[mobile.device]
            index = spec.index
            setting = MobilitySetting(
                start_m=mobile.start_m,
                area=plan.area,
                step_s=handover.step_s,
                rng=_stream(streams, "mobility", index),
                data=mobile.data,
            )
            self.tracks[index] = RadioTrack(
                models[mobile.params.model](mobile.params, setting),
                mobile,
                cells_m,
                pathloss,
                channel.shadowing_std_db,
                handover.shadowing_decorrelation_m,
                handover.hysteresis_db,
                ttt_steps,
                spec.cell,
                _stream(streams, "mobility-shadowing", index),
                _stream(streams, "mobility-los", index),
            )
        self._uploads: dict[int, dict[Request, None]] = {}  # per device: uploads in flight
        self._uplink_of: dict[Request, Any] = {}  # the uplink an upload is on (absent: paused)
        self._on_air_s: dict[Request, float] = {}  # seconds on air before the current stint
        self._epoch: dict[Request, int] = {}  # bumped at each pause (a stale resume is ignored)
        self._watching: set[int] = set()  # devices with a handover check pending

    def track_of(self, device: _Device) -> RadioTrack | None:
        """The device's track, or None for a device that does not move."""
        return self.tracks.get(device.spec.index)

    # ---- keeping a device's cell current -------------------------------------------------

    def _step(self, t: float) -> int:
        return math.floor(t / self.step_s + _GRID_EPS)

    def sync(self, device: _Device, track: RadioTrack) -> int:
        """Bring the device's cell and gain up to now; returns the current step."""
        k = self._step(self.env.now)
        track.advance(k)
        cell = track.cells[k]
        if cell != device.codes[1]:
            self.engine.move_device(device, cell)
        device.mean_gain = track.serving_gains[k]
        return k

    # ---- uploads -------------------------------------------------------------------------

    def start_upload(self, request: Request, track: RadioTrack) -> None:
        """The request's upload begins (its device is done computing): at the device's cell
        now, after any interruption in progress."""
        device = request.device
        k = self.sync(device, track)
        request.handovers += track.handovers_between(self._step(request.t_arrival), k)
        if request.cell != device.codes[1]:
            self._reroute(request, device.codes[1])
        self._uploads.setdefault(device.spec.index, {})[request] = None
        self._on_air_s[request] = 0.0
        self._epoch[request] = 0
        last = track.last_handover(k)
        resume_at = -math.inf if last is None else last * self.step_s + self.interruption_s
        if resume_at > self.env.now:
            self._pause_until(request, resume_at)
        else:
            self._transmit(request)
        self._watch(device, track)

    def _transmit(self, request: Request) -> None:
        device = request.device
        request.mean_gain = device.mean_gain
        self._uplink_of[request] = device.uplink
        device.uplink.start(request)

    def _pause_until(self, request: Request, t: float) -> None:
        self._epoch[request] += 1
        epoch = self._epoch[request]
        self.env.timeout(t - self.env.now).callbacks.append(
            lambda _event: self._resume(request, epoch)
        )

    def _resume(self, request: Request, epoch: int) -> None:
        if self._epoch.get(request) != epoch:
            return  # another handover moved the resumption
        track = self.tracks[request.device.spec.index]
        self.sync(request.device, track)
        self._transmit(request)

    def uploaded(self, request: Request) -> None:
        """The request's bits are all sent: forget it; its ``tx_start_s`` becomes the time it
        would have started to be on air as long as it was in all (its energy, s × W)."""
        if request not in self._on_air_s:
            return  # nothing to send: it never went on the air
        now = self.env.now
        on_air = self._on_air_s.pop(request) + (now - request.tx_start_s)
        request.tx_start_s = now - on_air
        del self._uplink_of[request], self._epoch[request]
        self._uploads[request.device.spec.index].pop(request)

    def _reroute(self, request: Request, cell: int) -> None:
        """The request now goes through ``cell``: its server stays if the cell reaches it."""
        options = self.engine._cell_options[cell]
        assert options is not None  # mobility comes with a topology
        chosen = next((o for o in options if o.index == request.server_index), options[0])
        if chosen.index != request.server_index:
            en_route = self.engine._en_route
            en_route[request.server_index] -= 1
            en_route[chosen.index] += 1
        request.server, request.server_index, request.route = (
            chosen.server,
            chosen.index,
            chosen.route,
        )
        request.cell = cell

    # ---- handover checks while uploads are in flight --------------------------------------

    def _watch(self, device: _Device, track: RadioTrack) -> None:
        index = device.spec.index
        if index in self._watching or not self._uploads.get(index):
            return
        k = self._step(self.env.now)
        due = track.next_handover(k, LOOKAHEAD_STEPS)
        at = (k + LOOKAHEAD_STEPS if due is None else due) * self.step_s
        self._watching.add(index)
        self.env.timeout(max(at - self.env.now, 0.0)).callbacks.append(
            lambda _event: self._check(device, track)
        )

    def _check(self, device: _Device, track: RadioTrack) -> None:
        self._watching.discard(device.spec.index)
        uploads = self._uploads.get(device.spec.index)
        if not uploads:
            return
        self.sync(device, track)
        cell = device.codes[1]
        for request in list(uploads):
            if request.cell != cell:
                self._hand_over(request, cell)
        self._watch(device, track)

    def _hand_over(self, request: Request, cell: int) -> None:
        current = self._uplink_of.get(request)
        if current is not None and current.in_harq_tail(request):
            return  # its bits are on air: the re-sends of its last block end in this cell
        uplink = self._uplink_of.pop(request, None)
        if uplink is not None:  # on the air or waiting for its turn: leave the old cell
            self._on_air_s[request] += uplink.withdraw(request)
        request.handovers += 1
        if self.restart:
            request.left = request.payload_bits
        self._reroute(request, cell)
        self._pause_until(request, self.env.now + self.interruption_s)

    # ---- the handover table ----------------------------------------------------------------

    def write_table(self, writer: TableWriter, end_s: float) -> int:
        """Every handover up to ``end_s`` (s) in ``writer``'s table, by time then device;
        returns how many."""
        k = self._step(end_s)
        rows = []
        for index, track in self.tracks.items():
            track.advance(k)
            for step, (old, new) in zip(track.handover_steps, track.handovers, strict=True):
                if step <= k:
                    rows.append((step, index, old, new))
        rows.sort()
        for step, index, old, new in rows:
            writer.append(
                build(
                    HANDOVERS,
                    time_s=step * self.step_s,
                    device_id=index,
                    from_cell=old,
                    to_cell=new,
                )
            )
        writer.close()
        return len(rows)


def _base_withdraw() -> Any:
    from coinfer.emulator.engine.uplink import Uplink

    return Uplink.withdraw


def _stream(streams: Streams, source: str, index: int) -> Callable[[], np.random.Generator]:
    return lambda: streams.stream(source, index)
