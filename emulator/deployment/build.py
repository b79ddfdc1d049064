"""Resolving a scenario into the flat :class:`~coinfer.emulator.deployment.spec.Deployment`.

:func:`build_deployment` turns a scenario (device groups attached to cells, cells attached to
servers) into per-device, per-cell and per-server specs with every name looked up and every
random placement drawn; a scenario with a ``topology`` section is resolved by
:mod:`coinfer.topologies.build` from a networkx graph into the same deployment.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from coinfer.emulator.deployment.placement import (
    catalogs_for,
    group_distances,
    group_mean_gains,
    group_model,
    lookup,
    with_group_exits,
)
from coinfer.emulator.deployment.replay import ScenarioTraces, attach_replays, load_scenario_traces
from coinfer.emulator.deployment.spec import (
    CellSpec,
    Deployment,
    DeviceSpec,
    ServerSpec,
    check_model_cache,
)
from coinfer.emulator.deployment.token_laws import (
    FROM_TRACE,
    TokenSource,
    is_generative,
    resolve_token_counts,
)
from coinfer.emulator.errors import InputError
from coinfer.emulator.model.speculative import ACCEPTANCE, DraftSetup
from coinfer.emulator.scenario.schema import EmpiricalWork, Scenario


def build_deployment(
    scenario: Scenario, seed: int | None = None, traces: ScenarioTraces | None = None
) -> Deployment:
    """Resolve ``scenario`` (hardware and model names, cells, placements) for one seed.

    ``traces``: the input traces the device groups replay, as read by
    :func:`emulator.replay.load_scenario_traces` (read here from the default trace directories
    when None and the scenario replays any). Raises :class:`InputError` naming the field for an
    unknown hardware class, model or trace, or a model option that does not apply.
    """
    seed = scenario.seed if seed is None else seed
    read_work_files(scenario)
    if traces is None:
        traces = load_scenario_traces(scenario)
    resolved = _resolve(scenario, seed, traces)
    if not resolved.devices:
        raise InputError(
            "the scenario places no device (with a topology: its device counts, e.g. "
            "topology.devices_per_cell, are 0), expected at least one",
            expected="at least one device",
        )
    deployment = attach_drafts(attach_tokens(resolved, scenario), scenario)
    check_model_cache(deployment)
    return attach_replays(deployment, scenario, seed, traces)


def read_work_files(scenario: Scenario) -> None:
    """Read every empirical work law's file now, so that one that cannot be read is refused
    before the run (naming ``devices[i].work.file``) rather than at its first draw."""
    for index, group in enumerate(scenario.devices):
        if isinstance(group.work, EmpiricalWork):
            group.work.values(f"devices[{index}].work.file")


def _resolve(scenario: Scenario, seed: int, traces: ScenarioTraces) -> Deployment:
    """The deployment of ``scenario`` on ``seed`` before any trace is attached (but with the
    registered paths its mobility replays)."""
    if scenario.topology is not None:
        from coinfer.topologies.build import resolve_topology  # networkx only when it is needed

        return resolve_topology(scenario, seed, traces.positions).deployment
    hardware, models = catalogs_for(scenario)
    server_index = {s.id: i for i, s in enumerate(scenario.servers)}
    servers = tuple(
        ServerSpec(
            index=i,
            id=s.id,
            hardware=lookup(
                lambda s=s: hardware.get(s.hardware, "server"),
                f"servers[{i}]",
                path=f"servers[{i}].hardware",
            ),
            workers=s.workers,
            discipline=s.discipline,
            queue_capacity=s.queue_capacity,
            discipline_params=s.discipline_params,
        )
        for i, s in enumerate(scenario.servers)
    )
    cell_index = {c.id: i for i, c in enumerate(scenario.cells)}
    counts = [0] * len(scenario.cells)
    for group in scenario.devices:
        counts[cell_index[group.cell or scenario.cells[0].id]] += group.count
    cells = tuple(
        CellSpec(
            index=i,
            id=c.id,
            bandwidth_hz=c.uplink_band_hz,
            noise_psd_w_per_hz=c.noise_w_per_hz,
            sharing=c.sharing,
            server=server_index[c.server or scenario.servers[0].id],
            num_devices=counts[i],
            sharing_params=c.sharing_params,
            link=c.link,
        )
        for i, c in enumerate(scenario.cells)
    )
    devices: list[DeviceSpec] = []
    for g, group in enumerate(scenario.devices):
        where = f"devices[{g}]"
        spec = lookup(
            lambda group=group: hardware.get(group.hardware, "device"),
            where,
            path=f"{where}.hardware",
        )
        model = lookup(lambda group=group: group_model(models, group), where, path=f"{where}.model")
        model = lookup(lambda m=model, g=group: with_group_exits(m, g), where, path=where)
        cell = cells[cell_index[group.cell or scenario.cells[0].id]]
        distances = group_distances(group, seed, g)
        gains = group_mean_gains(scenario.channel, distances, seed, g)
        # One spec per device: everything but the index, id, distance and gain is the group's
        # (looked up once here, not once per device).
        first, name, arrivals, work = len(devices), group.name, group.arrivals, group.work
        scale_payload, deadline_s, energy_budget_j = (
            group.scale_payload,
            group.deadline_s,
            group.energy_budget_j,
        )
        devices.extend(
            DeviceSpec(
                index=first + k,
                id=f"{name}-{k}",
                group=name,
                cell=cell.index,
                server=cell.server,
                hardware=spec,
                model=model,
                arrivals=arrivals,
                work=work,
                scale_payload=scale_payload,
                deadline_s=deadline_s,
                energy_budget_j=energy_budget_j,
                distance_m=distance,
                mean_gain=gain,
                download=group.download,
            )
            for k, (distance, gain) in enumerate(
                zip(distances.tolist(), gains.tolist(), strict=True)
            )
        )
    return Deployment(
        devices=tuple(devices),
        cells=cells,
        servers=servers,
        channel=scenario.channel,
        downlink=scenario.downlink,
        policy=scenario.policy,
        model_cache=scenario.model_cache,
    )


def attach_tokens(deployment: Deployment, scenario: Scenario) -> Deployment:
    """``deployment`` with a :class:`TokenSource` on every device of a group with ``tokens``.

    Raises :class:`InputError` naming ``devices[i].tokens`` for a model that cannot generate or
    an empirical file that cannot be read.
    """
    sources: dict[str, TokenSource] = {}
    for index, group in enumerate(scenario.devices):
        if group.tokens is None:
            continue
        where = f"devices[{index}].tokens"
        if group.tokens == "trace":
            sources[group.name] = FROM_TRACE
        else:
            sources[group.name] = resolve_token_counts(group.tokens, where)
    if not sources:
        return deployment
    devices = []
    checked: set[str] = set()
    for spec in deployment.devices:
        source = sources.get(spec.group)
        if source is None:
            devices.append(spec)
            continue
        if spec.group not in checked:
            checked.add(spec.group)
            if not is_generative(spec.model):
                index = next(i for i, g in enumerate(scenario.devices) if g.name == spec.group)
                raise InputError(
                    f"devices[{index}].tokens: model {spec.model.name!r} (family "
                    f"{spec.model.family}) has no token costs; expected a decoder model (e.g. "
                    "llama-3-8b, gpt2) for generative requests, or remove tokens",
                    path=f"devices[{index}].tokens",
                )
        devices.append(replace(spec, tokens=source))
    return replace(deployment, devices=tuple(devices))


def attach_drafts(deployment: Deployment, scenario: Scenario) -> Deployment:
    """``deployment`` with a :class:`DraftSetup` on every device of a group with
    ``speculative`` (``docs/edge-llm.md``): the draft model looked up in the catalog, its
    acceptance from the group (``alpha`` or ``tokens_per_round``) or the catalog's pair table.

    Raises :class:`InputError` naming ``devices[i].speculative.FIELD`` for an unknown draft, a
    draft that cannot generate, an unreadable file, or a pair without a catalogued alpha.
    """
    setups: dict[str, DraftSetup] = {}
    _, models = catalogs_for(scenario)
    targets = {spec.group: spec.model.name for spec in deployment.devices}
    for index, group in enumerate(scenario.devices):
        spec = group.speculative
        if spec is None:
            continue
        where = f"devices[{index}].speculative"
        draft = lookup(lambda spec=spec: models.get(spec.draft), where, path=f"{where}.draft")
        if not is_generative(draft):
            raise InputError(
                f"{where}.draft: model {draft.name!r} has no token costs; expected a decoder "
                "model (e.g. llama-3.2-1b) as the draft",
                path=f"{where}.draft",
            )
        observed = np.zeros(0, dtype=np.int64)
        alpha, source = math.nan, "the scenario"
        if spec.tokens_per_round is not None:
            values = spec.tokens_per_round.values(f"{where}.tokens_per_round.file")
            observed = np.maximum(np.rint(values), 1).astype(np.int64)
            source = f"observed tokens per round ({spec.tokens_per_round.file})"
        elif spec.alpha is not None:
            alpha = spec.alpha
        else:
            target = targets.get(group.name, group.model)
            pair = ACCEPTANCE.get((draft.name, target))
            if pair is None:
                known = ", ".join(f"{d} -> {t}" for d, t in ACCEPTANCE)
                raise InputError(
                    f"{where}.alpha: the catalog has no acceptance rate for draft "
                    f"{draft.name!r} and target {target!r}; expected alpha (in [0, 1]) or "
                    f"tokens_per_round, or a catalogued pair ({known})",
                    path=f"{where}.alpha",
                )
            alpha, source = pair
        setups[group.name] = DraftSetup(
            draft=draft,
            alpha=alpha,
            tokens_per_round=observed,
            probability_bits=spec.probability_bits,
            source=source,
        )
    if not setups:
        return deployment
    devices = tuple(
        replace(spec, speculative=setups[spec.group]) if spec.group in setups else spec
        for spec in deployment.devices
    )
    return replace(deployment, devices=devices)
