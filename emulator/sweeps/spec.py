"""The sweep file: a base scenario, what to vary, the policies to compare and the seeds.

::

    name: policies-vs-load            # default: the file's stem
    base: ../scenarios/busy-cell.yaml # a scenario file, relative to this file ...
    # scenario: {...}                 # ... or the scenario inline (exactly one of the two)
    set:                              # dotted path -> value, applied to every run
      duration_s: 20
    axes:                             # a grid: every combination of these values
      devices.0.arrivals.rate_per_s: [0.25, 0.5, 1.0]
    points:                           # and/or an explicit list of points (dotted path -> value)
      - {cells.0.bandwidth_hz: 10.0e6, servers.0.workers: 1}
    policies:                         # each replaces the scenario's `policy`
      - {name: fixed, params: {split: 6}}
      - min-latency                   # a name alone: default parameters
    seeds: [1, 2, 3]                  # or {start: 0, count: 10}; default: the scenario's seed

Configurations are policies × points × the grid (each part optional); every configuration runs
on every seed. Values are applied in the order base, ``set``, policy, point, grid, so a point or
an axis may change a policy parameter (``policy.params.split``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

from pydantic import ConfigDict, Field, ValidationError, model_validator

from coinfer.emulator.errors import InputError, input_error_from_validation
from coinfer.emulator.inputs import SAFE_NAME, InputModel
from coinfer.emulator.yaml_files import read_yaml


class _Spec(InputModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class SeedRange(_Spec):
    """Seeds ``start, start + 1, ..., start + count - 1``."""

    start: int = Field(default=0, ge=0, description="first seed")
    count: int = Field(ge=1, le=1_000_000, description="number of seeds")


class PolicyEntry(_Spec):
    """One policy to compare: a name and its parameters (replaces the scenario's ``policy``)."""

    name: str = Field(min_length=1, description="policy name or module:Class")
    params: dict[str, Any] = Field(default_factory=dict, description="the policy's parameters")


class SweepSpec(_Spec):
    """A sweep file, validated (see the module docstring)."""

    name: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        pattern=SAFE_NAME,
        description="sweep name; names the default sweep folder, so letters, digits, '.', '_' "
        "and '-' only, starting with a letter or digit",
    )
    base: str | None = Field(default=None, description="scenario file, relative to the sweep")
    scenario: dict[str, Any] | None = Field(default=None, description="inline scenario")
    overrides: dict[str, Any] = Field(
        default_factory=dict, alias="set", description="dotted path -> value for every run"
    )
    axes: dict[str, list[Any]] = Field(
        default_factory=dict, description="dotted path -> values: a grid of every combination"
    )
    points: list[dict[str, Any]] = Field(
        default_factory=list, description="explicit points: dotted path -> value"
    )
    policies: list[PolicyEntry | str] = Field(
        default_factory=list, description="policies to compare (each replaces `policy`)"
    )
    seeds: list[int] | SeedRange | None = Field(
        default=None, description="seeds, or {start, count}; default: the scenario's seed"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.base is None) == (self.scenario is None):
            raise ValueError("give exactly one of base (a scenario file) and scenario (inline)")
        for path, values in self.axes.items():
            _check_path(f"axes.{path}", path)
            if not values:
                raise ValueError(f"axes.{path}: got an empty list, expected at least one value")
        for index, point in enumerate(self.points):
            for path in point:
                _check_path(f"points[{index}].{path}", path)
                if path in self.axes:
                    raise ValueError(
                        f"points[{index}].{path}: also an axis; expected each path in one place"
                    )
        for path in self.overrides:
            _check_path(f"set.{path}", path, seed_allowed=True)
        if isinstance(self.seeds, list):
            if not self.seeds:
                raise ValueError("seeds: got an empty list, expected at least one seed")
            if any(seed < 0 for seed in self.seeds):
                raise ValueError(f"seeds: got {self.seeds}, expected integers >= 0")
            if len(set(self.seeds)) != len(self.seeds):
                raise ValueError(f"seeds: got {self.seeds}, expected no repeats")
        return self

    def policy_entries(self) -> list[PolicyEntry]:
        """The policies as entries (a bare name means default parameters)."""
        return [PolicyEntry(name=p) if isinstance(p, str) else p for p in self.policies]

    def seed_list(self) -> list[int] | None:
        """The seeds in order, or None for the scenario's own seed."""
        if self.seeds is None or isinstance(self.seeds, list):
            return self.seeds
        return list(range(self.seeds.start, self.seeds.start + self.seeds.count))


def _check_path(where: str, path: str, *, seed_allowed: bool = False) -> None:
    if not path or any(not part for part in path.split(".")):
        raise ValueError(f"{where}: got path {path!r}, expected a dotted path like devices.0.count")
    if path == "seed" and not seed_allowed:
        raise ValueError(f"{where}: the seed is not an axis; list the seeds under `seeds`")


def sweep_from_dict(data: Any, source: str = "sweep") -> SweepSpec:
    """Validate a plain mapping into a :class:`SweepSpec`; errors name the field."""
    if not isinstance(data, dict):
        raise InputError(
            f"{source}: got a {type(data).__name__} at the top level, expected a mapping"
        )
    try:
        return SweepSpec.model_validate(data)
    except ValidationError as err:
        raise input_error_from_validation(err, source, model=SweepSpec) from err


def load_sweep(path: str | Path) -> SweepSpec:
    """Read and validate a sweep YAML file (its ``name`` defaults to the file's stem)."""
    path = Path(path)
    spec = sweep_from_dict(read_yaml(path, "sweep file"), f"sweep {str(path)!r}")
    if spec.name is None:
        spec = spec.model_copy(update={"name": path.stem})
    return spec
