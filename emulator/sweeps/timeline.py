"""What a run looked like over simulated time, read off its trace (no engine instrumentation).

A request meets its stages one after the other, so the trace's latency parts, added in order
to its arrival time, give the interval of each stage: waiting at the device, computing there,
uploading, crossing the backhaul, waiting at the server, computing there, downloading. The
number of requests in a stage at time t is then exact, by a sweep over the intervals' ends:
a step function that rises at each start and falls at each end. Its time integral is the sum
of the intervals' lengths (Little's law on the sample path), which the tests check.

A server with ``w`` workers is busy ``min(n, w) / w`` of the time when ``n`` requests are in its
compute stage; its utilisation in a window is the time average of that over the window, and
over the whole run ``[0, end]`` it is the run summary's ``server_utilisation`` (the engine's
own busy-time integral) for a first-come-first-served server.

Units: s.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from coinfer.emulator.errors import InputError
from coinfer.emulator.sweeps.plots import (
    BREAKDOWN_ORDER,
    OKABE_ITO,
    STYLES,
    PlotOptions,
    finish,
    styled,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Stages drawn as queue lengths, and the stage whose occupancy is the active uploads.
QUEUES = {"latency_device_queue_s": "device queues", "latency_server_queue_s": "server queues"}
UPLINK = "latency_uplink_s"
SERVICE = "latency_server_compute_s"
#: Windows of the utilisation panel over the run.
WINDOWS = 60


@dataclass(frozen=True)
class Steps:
    """A step function of time: ``counts[i]`` holds on ``[times[i], times[i + 1])`` (and 0
    before ``times[0]``; the last count holds after the last time)."""

    times: np.ndarray
    counts: np.ndarray

    def integral(self, end_s: float) -> float:
        """The time integral of the function over ``[0, end_s]`` (count × s)."""
        if not len(self.times):
            return 0.0
        times = np.minimum(np.append(self.times, end_s), end_s)
        return float(np.sum(self.counts * np.diff(times)))


def stage_intervals(trace: pd.DataFrame, stage: str) -> tuple[np.ndarray, np.ndarray]:
    """Start and end times (s) of ``stage`` (a latency part) for each request that went
    through it (finite, positive length): the arrival time plus the parts before it."""
    order = [part for part in BREAKDOWN_ORDER if part in trace]
    if stage not in order:
        return np.array([]), np.array([])
    before = order[: order.index(stage)]
    start = trace["t_arrival"].to_numpy(float).copy()
    for part in before:
        start += trace[part].to_numpy(float)
    end = start + trace[stage].to_numpy(float)
    keep = np.isfinite(start) & np.isfinite(end) & (end > start)
    return start[keep], end[keep]


def occupancy(starts: np.ndarray, ends: np.ndarray) -> Steps:
    """How many of the intervals ``[start, end)`` hold at each time: a sweep over their ends
    (an end before a start at the same time, so back-to-back intervals count once)."""
    if not len(starts):
        return Steps(np.array([]), np.array([]))
    times = np.concatenate([starts, ends])
    steps = np.concatenate([np.ones(len(starts)), -np.ones(len(ends))])
    order = np.lexsort((steps, times))
    times, counts = times[order], np.cumsum(steps[order])
    last = np.append(times[1:] != times[:-1], True)  # the count after every event at a time
    return Steps(times[last], counts[last])


def busy_share(steps: Steps, workers: int, edges: np.ndarray) -> np.ndarray:
    """The time average of ``min(n, workers) / workers`` over each window between ``edges``."""
    level = np.minimum(steps.counts, workers) / workers
    times = np.append(steps.times, np.inf)
    shares = []
    for low, high in itertools.pairwise(edges):
        begin = np.clip(times[:-1], low, high)
        end = np.clip(times[1:], low, high)
        shares.append(float(np.sum(level * (end - begin)) / (high - low)))
    return np.asarray(shares)


def workers_of(scenario: Mapping[str, Any]) -> dict[str, int]:
    """Each declared server's number of workers (1 when not said)."""
    return {
        str(server.get("id")): int(server.get("workers", 1) or 1)
        for server in scenario.get("servers", []) or []
    }


def timeline_figure(
    trace: pd.DataFrame,
    scenario: Mapping[str, Any],
    options: PlotOptions,
    handovers: pd.DataFrame | None = None,
) -> Figure:
    """Three panels over simulated time: requests waiting (at the devices, at the servers) and
    in service at the servers; active uploads (per cell); each server's utilisation per window.
    The warm-up is shaded. ``scenario``: the resolved scenario (for the servers' workers).
    With ``handovers`` (the handover table of a run whose devices move), a fourth panel: the
    serving cell over time of the devices that handed over most (:data:`SERVING_DEVICES`)."""
    if trace.empty or "t_arrival" not in trace:
        raise InputError("plot timeline: the run's trace has no request")
    end = float(np.nanmax(trace["t_done"].to_numpy(float)))
    end = max(end, float(trace["t_arrival"].max()))
    serving = handovers is not None and not handovers.empty
    figure, axes = _timeline_axes(options, 4 if serving else 3)
    queues, uploads, busy = axes[:3]
    for index, (stage, name) in enumerate([*QUEUES.items(), (SERVICE, "in service")]):
        steps = occupancy(*stage_intervals(trace, stage))
        if len(steps.times):
            queues.step(
                np.append(0.0, steps.times),
                np.append(0.0, steps.counts),
                where="post",
                color=OKABE_ITO[index],
                linewidth=1.0,
                label=name,
            )
    cells = (
        sorted(trace["cell_id"].astype(str).unique(), key=natural_order)
        if "cell_id" in trace
        else []
    )
    for index, cell in enumerate(cells[:6]):
        steps = occupancy(*stage_intervals(trace[trace["cell_id"].astype(str) == cell], UPLINK))
        if len(steps.times):
            uploads.step(
                np.append(0.0, steps.times),
                np.append(0.0, steps.counts),
                where="post",
                color=OKABE_ITO[(index + 3) % len(OKABE_ITO)],
                linewidth=1.0,
                label=f"uploads, cell {cell}",
            )
    edges = np.linspace(0.0, end, WINDOWS + 1)
    workers = workers_of(scenario)
    servers = sorted(trace["server_id"].dropna().astype(str).unique(), key=natural_order)
    for index, server in enumerate(servers[:6]):
        rows = trace[trace["server_id"].astype(str) == server]
        steps = occupancy(*stage_intervals(rows, SERVICE))
        share = busy_share(steps, workers.get(server, 1), edges)
        busy.stairs(
            share,
            edges,
            color=OKABE_ITO[(index + 5) % len(OKABE_ITO)],
            linewidth=1.0,
            label=f"utilisation, server {server}",
        )
    warmup = float(scenario.get("warmup_s") or 0.0)
    if serving:
        assert handovers is not None
        _serving_cells(axes[3], handovers, end)
    for ax in axes:
        if warmup > 0:
            ax.axvspan(0.0, min(warmup, end), color="#000000", alpha=0.08, linewidth=0)
        ax.set_xlim(0.0, end)
        if ax is not axes[-1] or not serving:
            ax.set_ylim(bottom=0.0)
    from matplotlib.ticker import MaxNLocator

    for ax in (queues, uploads):
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    queues.set_ylabel("requests")
    uploads.set_ylabel("active uploads")
    busy.set_ylabel("utilisation")
    busy.set_ylim(0.0, 1.02)
    axes[-1].set_xlabel("simulated time (s)" + ("; shaded: warm-up" if warmup > 0 else ""))
    return figure


def natural_order(name: str) -> list[tuple[int, int | str]]:
    """A sort key putting names with numbers in numeric order (``ap-2`` before ``ap-10``)."""
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", name)]


#: Devices whose serving cell the timeline draws (those with the most handovers).
SERVING_DEVICES = 4


def _serving_cells(ax: Any, handovers: pd.DataFrame, end: float) -> None:
    """Each of the most mobile devices' serving cell as a step function of time."""
    devices = handovers["device_id"].astype(str)
    busiest = devices.value_counts(sort=True).index[:SERVING_DEVICES]
    cells = sorted(
        set(handovers["from_cell"].astype(str)) | set(handovers["to_cell"].astype(str)),
        key=natural_order,
    )
    level = {cell: i for i, cell in enumerate(cells)}
    for index, device in enumerate(sorted(busiest)):
        rows = handovers[devices == device].sort_values("time_s")
        times = np.concatenate([[0.0], rows["time_s"].to_numpy(float), [end]])
        path = [str(rows["from_cell"].iloc[0]), *rows["to_cell"].astype(str)]
        values = [level[cell] for cell in path]
        ax.step(
            times,
            [*values, values[-1]],
            where="post",
            color=OKABE_ITO[index % len(OKABE_ITO)],
            linewidth=1.2,
            label=f"serving cell of {device}",
        )
    ax.set_yticks(range(len(cells)), cells)
    ax.set_ylim(-0.5, len(cells) - 0.5)
    ax.set_ylabel("serving cell")


def _timeline_axes(options: PlotOptions, panels: int = 3) -> tuple[Figure, list[Any]]:
    """``panels`` panels stacked, sharing the time axis, as wide as the style preset says."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    width = STYLES[options.style][0] or 7.0
    height = (4.8 if width < 5 else 5.5) * panels / 3
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    stacked = figure.subplots(panels, 1, sharex=True)
    for ax in stacked:
        ax.grid(True, color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
    return figure, list(stacked)


def plot_run(kind: str, run_dir: Path, options: PlotOptions) -> Figure:
    """The figure of ``kind`` for one run's folder (``run.json`` and ``trace.parquet``); only
    ``timeline`` is drawn from a single run (the others compare configurations)."""
    import json

    if kind != "timeline":
        raise InputError(
            f"got {kind!r} for {run_dir}, a run's folder; expected a sweep's folder for "
            f"{kind} (a run's folder draws only the timeline)",
            argument="kind",
            value=kind,
            expected="timeline",
        )
    sidecar = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    trace = pd.read_parquet(run_dir / "trace.parquet")
    moves = run_dir / "handovers.parquet"  # a run whose devices move (docs/mobility.md)
    handovers = pd.read_parquet(moves) if moves.is_file() else None
    with styled(options):
        figure = timeline_figure(trace, sidecar.get("scenario") or {}, options, handovers)
        finish(figure, options)
    return figure
