"""Expanding a sweep into configurations × seeds, each resolved, validated and identified.

A configuration is the base scenario with the sweep's ``set`` values, one policy, one point and
one combination of the grid applied, validated into a
:class:`~coinfer.emulator.scenario.schema.Scenario`. Its
id is the hash of that scenario without its seed (with the policy's parameters validated, so
defaults and number spellings do not matter); a run's id adds the seed. Two configurations that
resolve to the same scenario are refused: they would count the same runs twice.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from coinfer.emulator.api.estimate import MAX_EVENTS
from coinfer.emulator.errors import InputError, input_error_from_validation
from coinfer.emulator.scenario.paths import resolve_files
from coinfer.emulator.scenario.schema import (
    Scenario,
    apply_overrides,
    assign,
    load_scenario_data,
    scenario_from_dict,
)
from coinfer.emulator.sweeps.ids import canonical_json, config_id, jsonable, run_id
from coinfer.emulator.sweeps.spec import PolicyEntry, SweepSpec, load_sweep

#: The column holding each configuration's policy label.
POLICY_COLUMN = "policy"


@dataclass(frozen=True)
class Configuration:
    """One point of the sweep: a resolved scenario and the values that set it apart."""

    index: int  #: position in the sweep (policies, then points, then the grid)
    config_id: str
    policy: str  #: policy label: the name, plus the parameters that vary between its entries
    point: dict[str, Any]  #: varied dotted path -> its value in the validated scenario
    scenario: Scenario  #: resolved and validated (its ``seed`` is the base's; runs set their own)


@dataclass(frozen=True)
class PlannedRun:
    """One configuration on one seed."""

    run_id: str
    config_id: str
    seed: int


@dataclass(frozen=True)
class Plan:
    """Everything a sweep will run, in a fixed order (configuration-major, then seed)."""

    name: str
    source: str  #: where the sweep came from (a file name)
    columns: tuple[str, ...]  #: the varied dotted paths, in the order the sweep names them
    seeds: tuple[int, ...]
    configurations: tuple[Configuration, ...]
    runs: tuple[PlannedRun, ...]

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data (what ``sweep.json`` holds); non-finite floats stay floats."""
        return {
            "name": self.name,
            "source": self.source,
            "columns": list(self.columns),
            "seeds": list(self.seeds),
            "configurations": [
                {
                    "index": c.index,
                    "config_id": c.config_id,
                    "policy": c.policy,
                    "point": jsonable(c.point),
                    "scenario": jsonable(c.scenario),
                }
                for c in self.configurations
            ],
            "runs": [
                {"run_id": r.run_id, "config_id": r.config_id, "seed": r.seed} for r in self.runs
            ],
        }


def load_plan(
    path: str | Path,
    extra_overrides: Sequence[str] = (),
    *,
    validate: bool = True,
    trace_dir: str | Path | None = None,
    force: bool = False,
    max_events: float = MAX_EVENTS,
) -> Plan:
    """Read the sweep file at ``path`` and expand it (see :func:`build_plan`)."""
    path = Path(path)
    return build_plan(
        load_sweep(path),
        path.parent,
        source=f"sweep {str(path)!r}",
        extra_overrides=extra_overrides,
        validate=validate,
        trace_dir=trace_dir,
        force=force,
        max_events=max_events,
    )


def build_plan(
    spec: SweepSpec,
    base_dir: str | Path,
    *,
    source: str = "sweep",
    extra_overrides: Sequence[str] = (),
    validate: bool = True,
    trace_dir: str | Path | None = None,
    force: bool = False,
    max_events: float = MAX_EVENTS,
) -> Plan:
    """Expand ``spec`` (read from a file in ``base_dir``) into a :class:`Plan`.

    File paths in the sweep (its inline scenario, ``set``, points and axes) are relative to
    ``base_dir``; those of a ``base`` scenario file to that file. ``extra_overrides`` are
    ``dotted.path=value`` strings (the command line's ``--set``) applied after the sweep's own
    ``set``; their paths are left as given. With ``validate``, each configuration is also
    resolved into a deployment with its policy built (:func:`emulator.run.prepare`), so unknown
    hardware, models or policy parameters are refused before anything runs; the input traces a
    scenario replays are then read from ``trace_dir`` (else ``$COINFER_TRACE_DIR`` or the
    download cache), as the runs will read them. Raises :class:`InputError`.
    """
    base_dir = Path(base_dir)
    base = _base_data(spec, base_dir, source)
    for path, value in spec.overrides.items():
        _assign(base, path, value, base_dir, f"{source}: set")
    try:
        apply_overrides(base, list(extra_overrides))
    except InputError as err:
        err.within(source)
        raise

    entries: list[PolicyEntry | None] = list(spec.policy_entries()) or [None]
    points = spec.points or [{}]
    grid = list(itertools.product(*spec.axes.values()))
    columns = _columns(spec)

    resolved: list[tuple[dict[str, Any], Scenario]] = []
    for entry, point, combo in itertools.product(entries, points, grid):
        data = copy.deepcopy(base)
        values = {**point, **dict(zip(spec.axes, combo, strict=True))}
        where = f"{source}: configuration {len(resolved)} ({_describe(entry, values)})"
        if entry is not None:
            data["policy"] = {"name": entry.name, "params": copy.deepcopy(entry.params)}
        for path, value in values.items():
            _assign(data, path, value, base_dir, where)
        resolved.append((values, scenario_from_dict(data, where)))

    seeds = spec.seed_list() or [resolved[0][1].seed]
    labels = policy_labels([scenario for _, scenario in resolved])
    configurations: list[Configuration] = []
    runs: list[PlannedRun] = []
    seen: dict[str, int] = {}
    for index, ((values, scenario), label) in enumerate(zip(resolved, labels, strict=True)):
        values_text = "".join(f", {path}={format_value(v)}" for path, v in values.items())
        where = f"{source}: configuration {index} (policy {label}{values_text})"
        configuration = canonical_configuration(scenario, where)
        cid = config_id(configuration)
        if cid in seen:
            raise InputError(
                f"{where} resolves to the same scenario as configuration {seen[cid]}; "
                "expected every configuration to differ"
            )
        seen[cid] = index
        if validate:
            _prepare(scenario, seeds[0], where, trace_dir, force, max_events)
        resolved_data = scenario.model_dump(mode="python")
        point = {
            path: _resolved(resolved_data, path, values[path]) for path in columns if path in values
        }
        configurations.append(Configuration(index, cid, label, point, scenario))
        runs += [PlannedRun(run_id(configuration, seed), cid, seed) for seed in seeds]
    return Plan(
        name=spec.name or "sweep",
        source=source,
        columns=(POLICY_COLUMN, *columns),
        seeds=tuple(seeds),
        configurations=tuple(configurations),
        runs=tuple(runs),
    )


def canonical_configuration(scenario: Scenario, where: str) -> dict[str, Any]:
    """The scenario as the mapping its ids hash: no seed, the policy's parameters validated."""
    from coinfer.policies.registry import policy_class

    data = scenario.model_dump(mode="python")
    data.pop("seed", None)
    cls = policy_class(scenario.policy.name)
    try:
        params = cls.Params.model_validate(scenario.policy.params)
    except ValidationError as err:
        invalid = input_error_from_validation(
            err, f"{where}: parameters of policy {scenario.policy.name!r}"
        )
        raise invalid from err
    data["policy"] = {"name": scenario.policy.name, "params": params.model_dump(mode="python")}
    return data


def policy_labels(scenarios: Sequence[Scenario]) -> list[str]:
    """A label per scenario: its policy name, plus the parameters that vary for that name."""
    by_name: dict[str, list[dict[str, Any]]] = {}
    for scenario in scenarios:
        by_name.setdefault(scenario.policy.name, []).append(scenario.policy.params)
    varying: dict[str, list[str]] = {}
    for name, all_params in by_name.items():
        keys = list(dict.fromkeys(key for params in all_params for key in params))
        varying[name] = [
            key
            for key in keys
            if len({canonical_json(params.get(key, "<unset>")) for params in all_params}) > 1
        ]
    labels = []
    for scenario in scenarios:
        name, params = scenario.policy.name, scenario.policy.params
        shown = [f"{key}={format_value(params[key])}" for key in varying[name] if key in params]
        labels.append(f"{name}({', '.join(shown)})" if shown else name)
    return labels


def format_value(value: Any) -> str:
    """A short text for a value in a label or table (numbers in ``%g`` form)."""
    if isinstance(value, bool) or value is None:
        return str(value).lower() if value is not None else "null"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int | str):
        return str(value)
    return canonical_json(value)


def _columns(spec: SweepSpec) -> list[str]:
    paths = [path for point in spec.points for path in point]
    paths += list(spec.axes)
    return [path for path in dict.fromkeys(paths) if path != POLICY_COLUMN]


def _resolved(data: Any, path: str, given: Any) -> Any:
    """The validated value at ``path`` (``5.0e6`` read by YAML as text becomes 5000000.0)."""
    node = data
    for key in path.split("."):
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list | tuple) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return given
    return node


def _describe(entry: PolicyEntry | None, values: dict[str, Any]) -> str:
    parts = [] if entry is None else [f"policy {entry.name}"]
    parts += [f"{path}={format_value(value)}" for path, value in values.items()]
    return ", ".join(parts) or "the base scenario"


def _assign(data: dict[str, Any], path: str, value: Any, base_dir: Path, where: str) -> None:
    """Set ``path`` to ``value`` like an override (lists by index); its file paths relative to
    ``base_dir``."""
    value = resolve_files(copy.deepcopy(value), base_dir, Scenario, at=path)
    try:
        assign(data, path, value)
    except InputError as err:
        err.within(where)
        raise


def _base_data(spec: SweepSpec, base_dir: Path, source: str) -> dict[str, Any]:
    if spec.base is not None:
        return load_scenario_data(base_dir / spec.base)
    data = copy.deepcopy(spec.scenario)
    assert data is not None
    return resolve_files(data, base_dir, Scenario)


def _prepare(
    scenario: Scenario,
    seed: int,
    where: str,
    trace_dir: str | Path | None,
    force: bool = False,
    max_events: float = MAX_EVENTS,
) -> None:
    from coinfer.emulator.api.run import prepare

    try:
        prepare(scenario, seed, trace_dir=trace_dir, force=force, max_events=max_events)
    except InputError as err:
        err.within(where)
        raise
