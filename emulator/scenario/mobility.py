"""The scenario's mobility fields: how each device group moves, and how handovers happen.

::

    devices:
      - {name: walker, mobility: {model: random-waypoint, speed_min_m_per_s: 0.5,
                                  speed_max_m_per_s: 1.5, pause_s: 2}}
    handover: {step_s: 0.1, hysteresis_db: 3, time_to_trigger_s: 0.16, interruption_s: 0.03,
               in_flight: continue, shadowing_decorrelation_m: 50}

A device group's ``mobility`` names a member of the ``coinfer.mobility`` plug-in family
(:mod:`coinfer.emulator.plugins`; the built-ins live in :mod:`coinfer.emulator.engine.mobility`)
with its parameters; the scenario's ``handover`` section sets the radio side: the step at which
positions, path loss and shadowing are updated, and the A3 event. Mobility needs a topology
(positions of access points and devices). Units are SI: m, s, m/s, dB.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Self

import numpy as np
from pydantic import Field, model_validator

from coinfer.emulator.errors import InputError
from coinfer.emulator.inputs import InputModel
from coinfer.emulator.plugins import MOBILITY, Registered
from coinfer.emulator.scenario.paths import FILE
from coinfer.traces.positions import PositionTrace, project_equirectangular


class MobilityParams(InputModel):
    """What every mobility model's parameters share: the registered name of the model.

    A plug-in mobility model's ``Params`` extends this model (see ``docs/mobility.md``)."""

    model: str = Field(
        default="static",
        description="mobility model: static, linear, random-waypoint, gauss-markov, trace, or a "
        "registered plug-in",
    )

    def read_data(self, where: str) -> np.ndarray | None:
        """What the model needs from files, read before the run (None: nothing); errors name
        ``where``."""
        return None


class Area(InputModel):
    """A rectangle devices stay in, m."""

    x_min_m: float = Field(ge=-1e7, le=1e7, description="west edge, m")
    y_min_m: float = Field(ge=-1e7, le=1e7, description="south edge, m")
    x_max_m: float = Field(ge=-1e7, le=1e7, description="east edge, m")
    y_max_m: float = Field(ge=-1e7, le=1e7, description="north edge, m")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not (self.x_max_m > self.x_min_m and self.y_max_m > self.y_min_m):
            raise ValueError(
                f"area: got x {self.x_min_m:g}..{self.x_max_m:g} m, y {self.y_min_m:g}.."
                f"{self.y_max_m:g} m, expected min below max on both axes"
            )
        return self


class StaticMobility(MobilityParams):
    """The device stays where the topology put it (today's behaviour; no handover checks)."""

    model: Literal["static"] = "static"


class LinearMobility(MobilityParams):
    """A straight line at constant speed from the device's position."""

    model: Literal["linear"] = "linear"
    speed_m_per_s: float = Field(default=1.0, ge=0, le=1000, description="speed, m/s")
    direction_deg: float = Field(
        default=0.0, ge=-360, le=360, description="heading, degrees counter-clockwise from east"
    )


class RandomWaypointMobility(MobilityParams):
    """Random waypoint: walk to a point drawn uniformly in the area at a speed drawn uniformly
    in ``[speed_min, speed_max]``, pause, repeat."""

    model: Literal["random-waypoint"] = "random-waypoint"
    speed_min_m_per_s: float = Field(default=0.5, ge=0, le=1000, description="slowest leg, m/s")
    speed_max_m_per_s: float = Field(default=1.5, ge=0, le=1000, description="fastest leg, m/s")
    pause_s: float = Field(default=0.0, ge=0, le=1e6, description="pause at each waypoint, s")
    area: Area | None = Field(
        default=None,
        description="where waypoints are drawn (default: the bounding box of the access points "
        "and devices)",
    )

    @model_validator(mode="after")
    def _speeds(self) -> Self:
        if self.speed_max_m_per_s < self.speed_min_m_per_s:
            raise ValueError(
                f"speed_max_m_per_s: got {self.speed_max_m_per_s:g}, expected at least "
                f"speed_min_m_per_s ({self.speed_min_m_per_s:g})"
            )
        return self


class GaussMarkovMobility(MobilityParams):
    """Gauss–Markov velocity (per axis, per step of ``handover.step_s``):
    ``v_n = a·v_(n-1) + (1 − a)·mu + sigma·sqrt(1 − a²)·w_n``, ``w_n`` standard normal; the
    position advances by ``v_n·step``. Stationary: mean ``mu``, variance ``sigma²``."""

    model: Literal["gauss-markov"] = "gauss-markov"
    memory: float = Field(
        default=0.85, ge=0, le=1, description="a: 0 a memoryless walk, 1 a straight line"
    )
    mean_speed_m_per_s: float = Field(default=1.0, ge=0, le=1000, description="|mu|, m/s")
    mean_direction_deg: float | Literal["random"] = Field(
        default="random",
        description="heading of mu, degrees counter-clockwise from east, or random (drawn per "
        "device)",
    )
    speed_std_m_per_s: float = Field(
        default=0.5, ge=0, le=1000, description="sigma: standard deviation of each velocity axis"
    )
    area: Area | None = Field(
        default=None,
        description="a rectangle the device bounces off (reflected position and velocity); "
        "default: none, the plane",
    )


class TraceMobility(MobilityParams):
    """Positions replayed from a CSV file (time, x, y; or time, latitude, longitude) or from a
    registered position trace (a GPS path of the traces catalog), linearly interpolated; the
    first point is moved onto the device's own position (every device of the group replays
    the same path from where it was dropped)."""

    model: Literal["trace"] = "trace"
    file: str | None = Field(
        default=None,
        description="CSV file, relative to the scenario file (or give trace)",
        json_schema_extra=FILE,
    )
    trace: str | None = Field(
        default=None,
        description="a registered position trace, e.g. ucc-5g/netflix-driving/"
        "2019.11.26_09.53.40/positions (`coinfer traces list`; or give file)",
    )
    time_column: str = Field(default="time_s", description="column of times, s")
    x_column: str = Field(default="x_m", description="column of east positions, m (or longitude)")
    y_column: str = Field(default="y_m", description="column of north positions, m (or latitude)")
    gps: bool = Field(
        default=False,
        description="x and y are longitude and latitude in degrees (projected to metres "
        "around the first point)",
    )
    loop: bool = Field(default=False, description="replay the path again when it ends")

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.file is None) == (self.trace is None):
            given = "both" if self.file is not None else "neither"
            raise ValueError(
                f"file, trace: got {given}, expected exactly one of file (a CSV path) and "
                "trace (a registered position trace)"
            )
        return self

    @property
    def reference(self) -> str:
        """The path's source as the scenario gives it: the trace name or the file."""
        return self.trace if self.trace is not None else str(self.file)

    def read_data(self, where: str) -> np.ndarray:
        """The path as rows of (time s, x m, y m), times from 0 and increasing; GPS projected
        to metres east and north of the first point (equirectangular, Earth radius 6371 km).
        A registered ``trace`` is looked for in ``$COINFER_TRACE_DIR`` and the download cache
        (a run reads it beforehand from its ``trace_dir``: ``load_scenario_traces``).
        Raises :class:`InputError` naming ``where.file`` (or ``where.trace``) for a source that
        cannot be used."""
        if self.trace is not None:
            from coinfer.traces.resolve import open_trace  # only when a trace is replayed

            field = f"{where}.trace"
            try:
                trace = open_trace("positions", name=self.trace)
            except InputError as err:
                err.within(field, path=field)
                raise
            assert isinstance(trace, PositionTrace)  # open_trace checks the kind
            return trace.path()
        import pandas as pd  # only when a path is replayed

        assert self.file is not None  # exactly one of file and trace (validated)
        path = Path(self.file)
        field = f"{where}.file"
        try:
            frame = pd.read_csv(path)
        except (OSError, ValueError) as err:
            raise InputError(
                f"{field}: cannot read {str(path)!r} ({err}); expected a CSV file",
                path=field,
            ) from err
        columns = (self.time_column, self.x_column, self.y_column)
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise InputError(
                f"{field}: {str(path)!r} has no column {missing[0]!r}; expected columns "
                f"{list(columns)} (found {list(frame.columns)})",
                path=field,
            )
        values = frame[list(columns)].to_numpy(dtype=float)
        times = values[:, 0]
        if len(values) < 1 or not np.isfinite(values).all() or (np.diff(times) <= 0).any():
            raise InputError(
                f"{field}: {str(path)!r}: expected at least one row of finite numbers with "
                "strictly increasing times",
                path=field,
            )
        if self.gps:
            values[:, 1], values[:, 2] = project_equirectangular(values[:, 1], values[:, 2])
        values[:, 0] -= times[0]
        return values


Mobility = Annotated[MobilityParams, Registered(MOBILITY)]


class Handover(InputModel):
    """How mobile devices are measured and handed over (the A3 event of 3GPP TS 38.331)."""

    step_s: float = Field(
        default=0.1,
        gt=0,
        le=3600,
        description="measurement step: positions, path loss and shadowing are updated on this "
        "grid, s",
    )
    hysteresis_db: float = Field(
        default=3.0, ge=0, le=60, description="A3: a neighbour must be this much stronger, dB"
    )
    time_to_trigger_s: float = Field(
        default=0.16,
        ge=0,
        le=60,
        description="A3: for this long (rounded up to whole steps), s",
    )
    interruption_s: float = Field(
        default=0.03, ge=0, le=60, description="uploads pause this long at a handover, s"
    )
    in_flight: Literal["continue", "restart"] = Field(
        default="continue",
        description="an upload caught by a handover continues at the new cell with the bits "
        "left, or restarts there",
    )
    shadowing_decorrelation_m: float = Field(
        default=50.0,
        gt=0,
        le=1e5,
        description="Gudmundson shadowing: correlation exp(-moved / this) between two positions, m",
    )
