"""One run split across workers, when its deployment falls apart into independent parts.

A deployment's *resource graph* joins each cell to the servers its requests may reach (its own
and those of its routes) and to the wired links of those routes that have a finite bandwidth
(an ideal link adds latency only: nobody waits for it). Cells in different connected
components of that graph (:func:`independent_parts`) never share a queue, a band or a link, so
their requests never meet: the run of the whole deployment is the union of the runs of its
parts. :func:`simulate_sharded` deals the parts to ``shards`` tasks (largest first, each to the
least loaded shard, by number of devices) and runs them on an executor of
:mod:`~coinfer.emulator.sweeps.executors` (local processes or a Dask cluster). Each task
builds the whole deployment (same seed, same placements, same per-device random streams), starts
only the devices of its parts (:meth:`~coinfer.emulator.engine.core.Engine.start`), writes its
rows to one Parquet part (``OUT/trace.parquet/part-000.parquet``, ...) and returns its summary
accumulated while writing (:class:`~coinfer.emulator.api.summary.SummaryAccumulator`), which
the driver merges exactly.

Same seed, sharded or not: the same rows. Each device draws from its own streams, keyed by its
index (:mod:`coinfer.emulator.randomness`), and events of one part keep their order whatever
else the event queue holds. Request ids are numbered in arrival order over the whole run; a
shard numbers its own requests, and the driver renumbers them afterwards by arrival time over
all parts (:func:`renumber_parts`: it reads two columns of every part and rewrites the parts).
Arrival instants shared by requests of two parts (deterministic arrivals in step in two cells)
are numbered part by part, which may differ from the unsharded run; :class:`ShardedRun` counts
them (``tied_arrivals``).

Refused, before any work, with :class:`~coinfer.emulator.errors.InputError`: fewer independent
parts than shards (the message names the servers and links that tie cells together: a shared
cloud, a shared backhaul link), and a run bounded by a number of ``requests`` (which requests
are the first N depends on every cell: give ``duration_s``). Refused after the run: a policy
that drew from its random stream (one stream for all cells, so its draws depend on the order of
every cell's requests).

On a real cluster, every worker must have coinfer installed and see the output folder, at the
same path, on a shared file system (NFS, a cluster file system), and the input traces the
scenario replays (``trace_dir``); the driver reads two columns of each part back to renumber
them. An object store is not supported yet.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from coinfer.emulator.api.estimate import MAX_EVENTS
from coinfer.emulator.api.run import (
    TRACE_FILE,
    RunResult,
    check_no_run_in,
    make_engine,
    prepare,
    summary_accumulator,
    write_sidecar,
)
from coinfer.emulator.api.summary import SummaryAccumulator
from coinfer.emulator.deployment.replay import load_scenario_traces
from coinfer.emulator.deployment.spec import Deployment
from coinfer.emulator.engine.core import EngineStats
from coinfer.emulator.engine.merged import merged_groups
from coinfer.emulator.errors import InputError
from coinfer.emulator.output_files import check_output_dir, partial_path
from coinfer.emulator.scenario.schema import Scenario
from coinfer.emulator.sweeps.executors import Executor
from coinfer.emulator.trace.columns import TraceWriter

_NAMED = 3  # shared resources named in a refusal


@dataclass(frozen=True)
class Part:
    """One connected component of the resource graph: indices into the deployment."""

    cells: tuple[int, ...]
    servers: tuple[int, ...]
    links: tuple[int, ...]
    devices: tuple[int, ...]


def _resource_graph(deployment: Deployment) -> nx.Graph:
    """Cells joined to the servers and the contended wired links their requests may use."""
    graph = nx.Graph()
    contended = {link.index for link in deployment.links if math.isfinite(link.bandwidth_bps)}
    for cell in deployment.cells:
        graph.add_edge(("cell", cell.index), ("server", cell.server))
        for route in cell.routes:
            graph.add_edge(("cell", cell.index), ("server", route.server))
            for link in route.links:
                if link in contended:
                    graph.add_edge(("cell", cell.index), ("link", link))
    for device in deployment.devices:
        graph.add_edge(("cell", device.cell), ("server", device.server))
    interference = deployment.channel.interference
    if interference is not None:  # cells of one sub-band hear each other's uploads
        for cell in deployment.cells:
            graph.add_edge(("cell", cell.index), ("band", cell.index % interference.reuse_factor))
    mobility = deployment.mobility
    if mobility is not None and mobility.devices:  # a moving device may hand over to any cell
        for cell in deployment.cells:
            graph.add_edge(("cell", cell.index), ("mobility", 0))
    return graph


def independent_parts(deployment: Deployment) -> list[Part]:
    """The connected components of the resource graph, in order of their first cell."""
    parts = []
    for component in nx.connected_components(_resource_graph(deployment)):
        cells = frozenset(i for kind, i in component if kind == "cell")
        parts.append(
            Part(
                tuple(sorted(cells)),
                tuple(sorted(i for kind, i in component if kind == "server")),
                tuple(sorted(i for kind, i in component if kind == "link")),
                tuple(d.index for d in deployment.devices if d.cell in cells),
            )
        )
    return sorted(parts, key=lambda part: part.cells[:1])


def shared_resources(deployment: Deployment) -> list[str]:
    """The servers and contended wired links used by more than one cell, described with the
    cells that share them (``"server 'cloud' (cells a, b, c)"``): servers first, the most
    shared first."""
    graph = _resource_graph(deployment)
    names = {
        "server": [s.id for s in deployment.servers],
        "link": [k.id for k in deployment.links],
        "mobility": ["moving devices"],  # they hand over between the cells
        "band": [f"sub-band {k}" for k in range(len(deployment.cells))],  # interference
    }
    cell_ids = [cell.id for cell in deployment.cells]
    shared = []
    for node in graph.nodes:
        if node[0] == "cell":
            continue
        cells = sorted(cell_ids[i] for _, i in graph.neighbors(node))
        if len(cells) > 1:
            shared.append((node[0] != "server", -len(cells), node, cells))
    return [
        f"{kind} {names[kind][index]!r} (cells {', '.join(cells)})"
        for _, _, (kind, index), cells in sorted(shared)
    ]


def deal(parts: Sequence[Part], shards: int) -> list[tuple[int, ...]]:
    """The devices of each shard: parts dealt largest first, each to the shard with the fewest
    devices so far (ties: the lowest shard)."""
    loads: list[list[int]] = [[] for _ in range(shards)]
    for part in sorted(parts, key=lambda p: -len(p.devices)):
        lightest = min(range(shards), key=lambda k: (len(loads[k]), k))
        loads[lightest].extend(part.devices)
    return [tuple(sorted(devices)) for devices in loads]


def check_shardable(scenario: Scenario, deployment: Deployment, shards: int) -> list[Part]:
    """The independent parts of ``deployment``, after refusing (:class:`InputError`) what
    cannot be split into ``shards`` exactly."""
    if shards < 1:
        raise InputError(
            f"got {shards}, expected a positive integer",
            argument="shards",
            value=shards,
            expected="a positive integer",
        )
    if scenario.requests is not None and shards > 1:
        raise InputError(
            f"got {scenario.requests}, expected a run bounded by duration_s when it "
            "is sharded (which requests are the first N depends on every cell at once)",
            path="requests",
            subject="requests",
            value=scenario.requests,
            expected="duration_s instead of requests",
        )
    if shards > 1 and merged_groups(deployment.devices):
        raise InputError(
            "got merged Poisson arrivals, expected per-device arrivals when the run is "
            "sharded (a merged group draws its arrivals from one stream for all its devices)",
            path="arrivals.merged",
            subject="arrivals.merged",
            value=True,
            expected="merged: false",
        )
    parts = independent_parts(deployment)
    if len(parts) < shards:
        shared = shared_resources(deployment)
        named = "; ".join(shared[:_NAMED])
        if len(shared) > _NAMED:
            named += f"; and {len(shared) - _NAMED} more"
        raise InputError(
            f"got {shards}, but the deployment falls apart into only {len(parts)} "
            f"independent part{'s' if len(parts) != 1 else ''} "
            f"({named + ' tie cells together' if shared else 'too few cells'}); expected at "
            "most that many shards",
            argument="shards",
            value=shards,
            expected=f"at most {len(parts)} (the independent parts of the deployment)",
        )
    return parts


@dataclass(frozen=True)
class ShardTask:
    """What one worker runs: the scenario on the seed, only ``devices`` sending."""

    scenario: Scenario
    seed: int
    index: int
    devices: tuple[int, ...]
    part_path: str  #: the Parquet part its rows go to
    trace_dir: str | None = None


@dataclass(frozen=True)
class ShardOutcome:
    """What one worker returns: its engine's measurements and its accumulated summary."""

    index: int
    stats: EngineStats
    summary: SummaryAccumulator
    policy: str
    policy_drew: bool  #: the policy drew from its (single, shared) random stream
    wall_time_s: float  #: the shard's set-up and run, s
    cpu_time_s: float = 0.0  #: CPU time of its process over the same span, s


def run_shard(task: ShardTask) -> ShardOutcome:
    """Run one shard (in a worker): its rows to ``task.part_path``, its summary returned."""
    started, cpu_started = time.perf_counter(), time.process_time()
    traces = load_scenario_traces(task.scenario, task.trace_dir)
    writer = TraceWriter({}, task.part_path)
    accumulated = summary_accumulator(task.scenario)
    writer.observe(accumulated.add)
    engine = make_engine(task.scenario, task.seed, traces, writer, devices=set(task.devices))
    rng = getattr(engine.policy, "rng", None)
    before = None if rng is None else rng.bit_generator.state
    stats = engine.run()
    drew = rng is not None and rng.bit_generator.state != before
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return ShardOutcome(task.index, stats, accumulated, engine.policy_name, drew, wall, cpu)


def merge_stats(outcomes: Sequence[ShardOutcome], owners: dict[str, int]) -> EngineStats:
    """The measurements of the whole run: counts added, the last instant the latest, and each
    resource's busy time from the shard that owns it (``owners``: resource id to shard)."""
    by_index = {outcome.index: outcome.stats for outcome in outcomes}

    def owned(field: str) -> dict[str, float]:
        names = getattr(outcomes[0].stats, field)
        return {name: getattr(by_index[owners[name]], field)[name] for name in names}

    batching = {}
    for name in outcomes[0].stats.batching:
        batching[name] = by_index[owners[name]].batching[name]
    return EngineStats(
        requests=sum(o.stats.requests for o in outcomes),
        sim_end_s=max(o.stats.sim_end_s for o in outcomes),
        arrivals_end_s=max(o.stats.arrivals_end_s for o in outcomes),
        server_busy_s=owned("server_busy_s"),
        cell_busy_s=owned("cell_busy_s"),
        link_busy_s=owned("link_busy_s"),
        tokens_delivered=sum(o.stats.tokens_delivered for o in outcomes),
        batching=batching,
    )


def renumber_parts(paths: Sequence[Path]) -> int:
    """Give the rows of the parts the request ids of the unsharded run: every request numbered
    in arrival order over all parts (each part numbered its own from 0, in arrival order).
    Rewrites each part in place (a batch at a time, under a temporary name, then renamed).
    Returns how many requests arrived at the same instant as the request of another part
    numbered just before them (those are numbered part by part)."""
    arrival_times = []
    for path in paths:
        table = pq.read_table(path, columns=["request_id", "t_arrival"])
        local = table.column("request_id").to_numpy()
        t_arrival = np.empty(len(local))
        t_arrival[local] = table.column("t_arrival").to_numpy()
        arrival_times.append(t_arrival)
    counts = [len(t) for t in arrival_times]
    part = np.repeat(np.arange(len(paths)), counts)
    local = np.concatenate([np.arange(n) for n in counts]) if counts else np.empty(0, int)
    times = np.concatenate(arrival_times) if arrival_times else np.empty(0)
    order = np.lexsort((local, part, times))
    global_id = np.empty(len(order), dtype=np.int64)
    global_id[order] = np.arange(len(order), dtype=np.int64)
    ordered_times, ordered_parts = times[order], part[order]
    tied = (ordered_times[1:] == ordered_times[:-1]) & (ordered_parts[1:] != ordered_parts[:-1])
    offsets = np.concatenate([[0], np.cumsum(counts)])
    for k, path in enumerate(paths):
        mapping = global_id[offsets[k] : offsets[k + 1]]
        source = pq.ParquetFile(path)
        column = source.schema_arrow.get_field_index("request_id")
        with pq.ParquetWriter(partial_path(path), source.schema_arrow, compression="zstd") as out:
            for group in range(source.num_row_groups):
                table = source.read_row_group(group)
                ids = mapping[table.column(column).to_numpy()]
                out.write_table(table.set_column(column, "request_id", pa.array(ids)))
        source.close()
        os.replace(partial_path(path), path)
    return int(tied.sum())


@dataclass(frozen=True)
class ShardedRun:
    """A sharded run: its result (read like any run's) and how it was split."""

    result: RunResult
    shards: int
    parts: int  #: independent parts of the deployment
    devices_per_shard: tuple[int, ...]
    shard_wall_time_s: tuple[float, ...]  #: each shard's own wall time (set-up and run)
    shard_cpu_time_s: tuple[float, ...]  #: each shard's CPU time over the same span
    #: requests arriving at the instant of the request of another part numbered before them
    tied_arrivals: int


def simulate_sharded(
    scenario: Scenario,
    seed: int | None,
    out_dir: str | Path,
    shards: int,
    executor: Executor,
    *,
    trace_dir: str | Path | None = None,
    overwrite: bool = False,
    force: bool = False,
    max_events: float = MAX_EVENTS,
) -> ShardedRun:
    """Run ``scenario`` on ``seed`` split into ``shards`` tasks on ``executor`` (entered here),
    writing ``out_dir/trace.parquet/part-K.parquet`` and ``out_dir/run.json``; its summary is
    the merge of the shards' (exact). See the module's docstring for what is refused."""
    started = time.perf_counter()
    deployment, seed = prepare(
        scenario, seed, trace_dir=trace_dir, force=force, max_events=max_events
    )
    parts = check_shardable(scenario, deployment, shards)
    out = check_output_dir(out_dir, "out_dir")
    if not overwrite:
        check_no_run_in(out)
    folder = out / TRACE_FILE
    if folder.is_dir():
        shutil.rmtree(folder)
    elif folder.exists():
        folder.unlink()
    folder.mkdir(parents=True)
    owners = _owners(deployment, parts, shards)
    dealt = deal(parts, shards)
    paths = [folder / f"part-{k:03d}.parquet" for k in range(shards)]
    tasks = [
        ShardTask(
            scenario,
            seed,
            k,
            devices,
            str(paths[k]),
            None if trace_dir is None else str(trace_dir),
        )
        for k, devices in enumerate(dealt)
    ]
    with executor:
        outcomes = sorted(executor.map_unordered(run_shard, tasks, _failed), key=lambda o: o.index)
    policy = outcomes[0].policy
    if any(outcome.policy_drew for outcome in outcomes):
        shutil.rmtree(folder)
        raise InputError(
            f"{policy!r} draws random numbers from one stream shared by every cell, so "
            "its sharded run would differ from the unsharded one; expected a policy that "
            "decides each request from its own context (or run it unsharded)",
            path="policy.name",
            subject="policy.name",
            value=policy,
            expected="a policy without random draws",
        )
    tied = renumber_parts(paths)
    stats = merge_stats(outcomes, owners)
    summary = outcomes[0].summary
    for outcome in outcomes[1:]:
        summary.merge(outcome.summary)
    wall = time.perf_counter() - started
    result = RunResult(scenario, seed, stats, wall, out, None, accumulated=summary)
    sharding = {
        "shards": shards,
        "parts": len(parts),
        "devices_per_shard": [len(d) for d in dealt],
        "shard_wall_time_s": [o.wall_time_s for o in outcomes],
        "shard_cpu_time_s": [o.cpu_time_s for o in outcomes],
        "tied_arrivals": tied,
        "executor": executor.description,
    }
    traces = load_scenario_traces(scenario, trace_dir)
    write_sidecar(result, traces.describe(scenario), extra={"sharding": sharding})
    return ShardedRun(
        result,
        shards,
        len(parts),
        tuple(len(d) for d in dealt),
        tuple(o.wall_time_s for o in outcomes),
        tuple(o.cpu_time_s for o in outcomes),
        tied,
    )


def _owners(deployment: Deployment, parts: Sequence[Part], shards: int) -> dict[str, int]:
    """The shard of each server, cell and link id (as :func:`deal` deals the parts)."""
    dealt = deal(parts, shards)
    shard_of_device = {d: k for k, devices in enumerate(dealt) for d in devices}
    owners: dict[str, int] = {}
    for part in parts:
        # a part without devices sends nothing: its resources stay idle in every shard
        k = shard_of_device[part.devices[0]] if part.devices else 0
        owners.update({deployment.cells[i].id: k for i in part.cells})
        owners.update({deployment.servers[i].id: k for i in part.servers})
        owners.update({deployment.links[i].id: k for i in part.links})
    for server in deployment.servers:  # a server no cell reaches
        owners.setdefault(server.id, 0)
    for link in deployment.links:  # an ideal link
        owners.setdefault(link.id, 0)
    return owners


def _failed(task: ShardTask, err: BaseException) -> ShardOutcome:
    if isinstance(err, InputError):
        raise err
    raise RuntimeError(f"shard {task.index} failed: {type(err).__name__}: {err}") from err
