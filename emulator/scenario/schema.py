"""The scenario: everything one emulation run needs, validated before any work starts.

A scenario is loaded from YAML (:func:`load_scenario`) or built in Python (``Scenario(...)``).
Every field carries its unit in its name or description, its default and its allowed range;
``coinfer validate`` and :func:`load_scenario` refuse a bad value with one message naming the
field. Units are SI throughout (s, Hz, W, J, bits, m).

The shape (see ``docs/scenarios.md`` for a commented example)::

    name, seed, duration_s | requests, warmup_s
    devices:   groups of identical devices (count, hardware, model, arrivals, work, budgets,
               distance to their cell's access point, the cell they attach to, optionally a
               link-capacity or SNR trace replayed on their uplink)
    cells:     access points (uplink bandwidth, noise, how uploads share the band, their server)
    servers:   edge servers (hardware class, workers, FCFS or processor sharing, queue capacity)
    channel:   path loss, shadowing, small-scale fading, what the policy knows of the gain
    downlink:  result size and rate, or none (the paper's setting)
    policy:    name and parameters
    topology:  optional: a networkx topology (a generator or a graph file, see
               ``docs/topologies.md``); devices and servers then become classes it places
    model_cache: optional: the models each server holds in its memory, its placement policy
               and where a missing model loads from (``docs/early-exit-and-placement.md``)

Every pluggable part (arrival process, work law, uplink sharing, server discipline, path loss,
fading law, topology generator; :mod:`coinfer.emulator.plugins`) is named by a registered name
(or ``module:Class``) with its typed parameters: beside the name in the same mapping
(``fading: {law: rician, k_factor: 3}``), or, for a name that is a field of a cell or server
(``sharing``, ``discipline``), beside that field.

The engine never reads this object directly: :mod:`emulator.deployment` resolves it into flat
per-device, per-cell and per-server specs, the seam where a networkx topology plugs in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Self

import numpy as np
from pydantic import (
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from coinfer.emulator.errors import InputError, input_error_from_validation
from coinfer.emulator.inputs import SAFE_NAME, InputModel
from coinfer.emulator.model.links import (
    LinkParams,
    ShannonLinkParams,
    check_link_band,
    uplink_band_hz,
)
from coinfer.emulator.plugins import (
    ARRIVALS,
    FADING,
    LINKS,
    PATHLOSS,
    PLACEMENT,
    SERVERS,
    SHARING,
    WORK,
    HostsMember,
    Registered,
)
from coinfer.emulator.scenario.mobility import Handover, Mobility
from coinfer.emulator.scenario.model_placement import EarlyExit, ModelCacheParams, ModelDownload
from coinfer.emulator.scenario.paths import FILE, NAME_OR_FILE, resolve_files
from coinfer.emulator.value_files import read_values
from coinfer.emulator.yaml_files import parse_yaml_or_text, read_yaml
from coinfer.topologies.config import (
    FileTopology,
    GeneratedParams,
    HierarchyTopology,
    TopologySpec,
)

#: Thermal noise PSD at 290 K, dBm/Hz (used with a noise figure).
THERMAL_NOISE_DBM_PER_HZ = -174.0


class _Spec(InputModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ---- arrivals and work ----------------------------------------------------------------------


class ArrivalParams(_Spec):
    """What every arrival process's parameters share: the registered name of the process.

    A plug-in arrival process's ``Params`` extends this model (see ``docs/extending.md``)."""

    process: str = Field(
        description="arrival process: poisson, deterministic, trace, or a registered plug-in"
    )

    def rate_scaled(self, factor: float) -> ArrivalParams | None:
        """These parameters with the arrival rate multiplied by ``factor`` (> 0), the same
        process otherwise; None if the process cannot be scaled (the default: a plug-in says
        how by overriding this). ``coinfer goodput`` scales every group's arrivals this way."""
        return None


class PoissonArrivals(ArrivalParams):
    """Poisson arrivals: exponential inter-arrival times, per device."""

    process: Literal["poisson"] = "poisson"
    rate_per_s: float = Field(
        gt=0, le=1e6, description="mean arrivals per second per device (at most 1e6)"
    )
    merged: bool = Field(
        default=False,
        description=(
            "draw the group's arrivals as one Poisson process of the group's total rate, each "
            "arrival's device picked uniformly (the same law; idle devices cost nothing; the "
            "arrival times differ from the per-device streams: docs/engine.md#randomness)"
        ),
    )

    def rate_scaled(self, factor: float) -> PoissonArrivals:
        """Poisson arrivals of rate ``rate_per_s × factor``."""
        return self.model_copy(update={"rate_per_s": self.rate_per_s * factor})


class DeterministicArrivals(ArrivalParams):
    """Periodic arrivals, one every ``interval_s``; each device starts at a random phase."""

    process: Literal["deterministic"] = "deterministic"
    interval_s: float = Field(
        ge=1e-6, le=1e9, description="time between arrivals of one device, s (1 µs .. 1e9 s)"
    )
    random_phase: bool = Field(
        default=True, description="start each device at a uniform random phase in [0, interval)"
    )

    def rate_scaled(self, factor: float) -> DeterministicArrivals:
        """One arrival every ``interval_s / factor``."""
        return self.model_copy(update={"interval_s": self.interval_s / factor})


class _TraceRef(_Spec):
    """A replayed input trace: a registered name or a file, and where each device starts in it."""

    trace: str | None = Field(
        default=None,
        min_length=1,
        description="registered trace name (coinfer traces list), read from --trace-dir, "
        "$COINFER_TRACE_DIR or the download cache",
    )
    file: str | None = Field(
        default=None,
        min_length=1,
        description="or: a trace file, relative to the scenario file",
        json_schema_extra=FILE,
    )
    time_scale: float = Field(
        default=1.0, gt=0, description="stretch the trace's time axis by this factor"
    )
    random_offset: bool = Field(
        default=True,
        description="each device starts at its own uniform random point of the trace's loop "
        "(false: every device at the start)",
    )

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.trace is None) == (self.file is None):
            raise ValueError("give exactly one of trace (a registered name) and file (a path)")
        return self

    @property
    def reference(self) -> str:
        """The registered name or the file path."""
        return self.trace if self.trace is not None else str(self.file)


class TraceArrivals(_TraceRef, ArrivalParams):
    """Arrivals replayed from an arrival trace, per device, looping at its end.

    Each device replays the whole trace from its own random offset. The trace loops with period
    ``last arrival + mean gap``; its times are multiplied by ``time_scale / rate_scale``. With
    token counts, a request's work scale is ``max(tokens, 1) / the profile's sequence length``.
    A ``file`` is a CSV ``time[,input_tokens,output_tokens]`` (s).
    """

    process: Literal["trace"] = "trace"
    rate_scale: float = Field(
        default=1.0, gt=0, description="multiply the arrival rate (divides the trace's times)"
    )
    tokens: Literal["input", "total", "none"] = Field(
        default="input",
        description="work scale = tokens / the profile's sequence length, with input (context) "
        "tokens, or total (input + generated) tokens; none: the group's work law",
    )

    def rate_scaled(self, factor: float) -> TraceArrivals:
        """The same trace replayed at ``rate_scale × factor`` (its times divided by it)."""
        return self.model_copy(update={"rate_scale": self.rate_scale * factor})


#: An arrival process: ``process`` names it, the other keys are its parameters.
Arrivals = Annotated[ArrivalParams, Registered(ARRIVALS)]


class WorkParams(_Spec):
    """What every work law's parameters share: the registered name of the law.

    A plug-in work law's ``Params`` extends this model (see ``docs/extending.md``)."""

    distribution: str = Field(
        default="constant",
        description="work law: constant, exponential, uniform, lognormal, or a registered plug-in",
    )


class ConstantWork(WorkParams):
    """Every request does the profile's work exactly (scale 1 unless ``value`` says otherwise)."""

    distribution: Literal["constant"] = "constant"
    value: float = Field(default=1.0, gt=0, le=1e6, description="work scale of every request")


class ExponentialWork(WorkParams):
    """Exponentially distributed work scale (gives M/M/· service times)."""

    distribution: Literal["exponential"] = "exponential"
    mean: float = Field(default=1.0, gt=0, le=1e6, description="mean work scale")


class UniformWork(WorkParams):
    """Work scale uniform in ``[low, high]``."""

    distribution: Literal["uniform"] = "uniform"
    low: float = Field(gt=0, le=1e6, description="smallest work scale")
    high: float = Field(gt=0, le=1e6, description="largest work scale")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.high < self.low:
            raise ValueError(f"high ({self.high:g}) below low ({self.low:g})")
        return self


class LognormalWork(WorkParams):
    """Log-normal work scale with the given mean and log-space standard deviation."""

    distribution: Literal["lognormal"] = "lognormal"
    mean: float = Field(default=1.0, gt=0, le=1e6, description="mean work scale")
    sigma: float = Field(
        gt=0, le=5, description="standard deviation of log(scale) (at most 5: e^25 spread)"
    )


#: A work law: ``distribution`` names it, the other keys are its parameters.
Work = Annotated[WorkParams, Registered(WORK)]


class EmpiricalWork(WorkParams):
    """Values drawn uniformly, with replacement, from a file of observed values (a bootstrap).

    The file is a CSV: one value per row, or several columns with a header row naming them
    (``column`` picks one; default the first); blank lines and lines starting with ``#`` are
    skipped. Every value must be a finite number > 0. The file is read once, on the first draw
    (:meth:`values`).
    """

    distribution: Literal["empirical"] = "empirical"
    file: str = Field(
        min_length=1,
        description="CSV file of observed values, relative to the scenario file",
        json_schema_extra=FILE,
    )
    column: str | None = Field(
        default=None,
        min_length=1,
        description="header name of the column to read (default: the first)",
    )
    _values: np.ndarray | None = PrivateAttr(default=None)

    def values(self, where: str = "file") -> np.ndarray:
        """The file's values (read on the first call; ``where`` names the field in errors)."""
        if self._values is None:
            self._values = read_values(Path(self.file), self.column, where)
        return self._values


#: The law of a token count: any work law's name and parameters (``constant``, ``uniform``,
#: ``lognormal``, ``exponential``, ``empirical`` or a registered plug-in); each drawn value is
#: rounded to a whole number of tokens, at least 1.
TokenLaw = Annotated[WorkParams, Registered(WORK)]


class TokenCounts(_Spec):
    """The prompt and output tokens of each request of a generative device group.

    Each count is drawn from its law (a work law: ``constant``, ``uniform``, ``lognormal``,
    ``exponential``, ``empirical`` from a file, or a plug-in), rounded to the nearest whole
    number and raised to at least 1, from the device's own random stream (``prompt-tokens``,
    ``output-tokens``).
    """

    prompt: TokenLaw = Field(description="law of the prompt tokens of a request, tokens")
    output: TokenLaw = Field(description="law of the output tokens of a request, tokens")


class CapacityReplay(_TraceRef):
    """A link-capacity trace replaces the Shannon rate of each device's uplink.

    The trace is the capacity the device would get alone on its cell's whole band; an upload on a
    share ``B_k`` of the band ``B`` gets ``C(t)·B_k/B``. Transmit power sets only the upload
    energy. Path loss, shadowing and fading do not apply. A ``file`` is a CSV ``time,rate``
    (s, bit/s) or, with ``format: mahimahi``, a Mahimahi packet-delivery file.
    """

    kind: Literal["capacity"] = "capacity"
    format: Literal["csv", "mahimahi"] = Field(
        default="csv", description="format of a file: csv (time,rate) or mahimahi"
    )
    rate_scale: float = Field(default=1.0, gt=0, le=1e6, description="multiply the capacity")
    csi_window_s: float = Field(
        default=1.0,
        gt=0,
        le=1e6,
        description="policies see the mean capacity over the last csi_window_s seconds, s",
    )


class SnrReplay(_TraceRef):
    """An SNR trace replaces the channel gain of each device's uplink.

    The SNR is taken as measured at ``reference_power_w`` over the cell's whole band ``B``:
    the gain is ``g(t) = SNR(t)·B·N0/P_ref``, and an upload at power ``p`` on a share ``B_k``
    gets ``B_k·log2(1 + p·g(t)/(B_k·N0))``. Path loss, shadowing and fading do not apply. A
    ``file`` is a CSV ``time,snr_db`` (s, dB).
    """

    kind: Literal["snr"] = "snr"
    snr_offset_db: float = Field(default=0.0, description="add this to every SNR, dB")
    reference_power_w: float | None = Field(
        default=None,
        gt=0,
        description="transmit power at which the SNR was measured, W (default: the device's "
        "maximum)",
    )


LinkTrace = Annotated[CapacityReplay | SnrReplay, Field(discriminator="kind")]


class DistanceRange(_Spec):
    """Devices dropped uniformly over the annulus ``min_m ≤ d ≤ max_m`` around the access point."""

    min_m: float = Field(default=10.0, gt=0, le=1e7, description="inner radius, m")
    max_m: float = Field(gt=0, le=1e7, description="outer radius, m (at most 1e7)")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.max_m < self.min_m:
            raise ValueError(f"max_m ({self.max_m:g}) below min_m ({self.min_m:g})")
        return self


class SpeculativeDraft(_Spec):
    """Speculative decoding across the link (``docs/edge-llm.md``): a draft model on the device
    proposes tokens that the group's model (the target, on the server) verifies.

    The acceptance of the drafts: ``alpha`` (each draft token accepted with that probability,
    independently; default: the catalog's value for the pair), or ``tokens_per_round``, an
    empirical distribution of the tokens a verification round yields (accepted drafts + 1, a
    CSV of observed values: each round draws one, capped at the round's drafts + 1).
    """

    draft: str = Field(
        min_length=1, description="draft model profile name (e.g. llama-3.2-1b), on the device"
    )
    alpha: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="acceptance rate of one draft token, in [0, 1] (default: the catalog's "
        "value for the draft and target pair)",
    )
    tokens_per_round: EmpiricalWork | None = Field(
        default=None,
        description="or: an empirical distribution of the tokens a round yields (accepted "
        "drafts + 1), {distribution: empirical, file: CSV}",
    )
    probability_bits: int = Field(
        default=0,
        ge=0,
        le=64,
        description="bits of the draft's probability sent with each draft token (0: token ids "
        "only; 16: fp16 probabilities, for lossless rejection sampling on the server)",
    )

    @model_validator(mode="after")
    def _one_acceptance(self) -> Self:
        if self.alpha is not None and self.tokens_per_round is not None:
            raise ValueError(
                "alpha and tokens_per_round: got both; expected one way to draw the accepted drafts"
            )
        return self


class DeviceGroup(_Spec):
    """``count`` identical devices: same hardware, model, traffic, budgets and cell."""

    name: str = Field(min_length=1, description="group name; device ids are NAME-0, NAME-1, ...")
    count: int = Field(default=1, ge=1, le=10_000_000, description="number of devices")
    hardware: str = Field(default="paper-device", description="device hardware class name")
    model: str = Field(
        default="bert-paper",
        description="model profile name, or a profile file (.yaml, .yml, .csv) relative to the "
        "scenario file",
        json_schema_extra=NAME_OR_FILE,
    )
    sequence_length: int | None = Field(
        default=None,
        gt=0,
        le=10**7,
        description="tokens per pass for text presets (default: preset's)",
    )
    image_size: int | None = Field(
        default=None, gt=0, le=10**5, description="image side in pixels for vision presets"
    )
    arrivals: Arrivals = Field(description="arrival process of each device")
    work: Work = Field(
        default_factory=ConstantWork,
        description="per-request work scale: multiplies FLOPs on both sides and the payload "
        "(e.g. tokens / profile tokens)",
    )
    scale_payload: bool = Field(
        default=True, description="whether the work scale also scales the uploaded activation"
    )
    deadline_s: float = Field(
        default=float("inf"),
        gt=0,
        allow_inf_nan=True,
        description="latency budget T0, s (default and .inf: none)",
    )
    energy_budget_j: float = Field(
        default=float("inf"),
        gt=0,
        allow_inf_nan=True,
        description="energy budget E0, J (default and .inf: none)",
    )
    distance_m: Annotated[float, Field(gt=0, le=1e7)] | DistanceRange = Field(
        default=500.0,
        description="distance to the access point, m (above 0, at most 1e7), or a range to drop in",
    )
    cell: str | None = Field(default=None, description="cell id (default: the first cell)")
    link_trace: LinkTrace | None = Field(
        default=None,
        description="replay a capacity or SNR trace on each device's uplink instead of the "
        "channel model",
    )
    tokens: TokenCounts | Literal["trace"] | None = Field(
        default=None,
        description="generative requests (decoder models): the prompt and output tokens of each "
        "request, from two laws, or 'trace': the input and output tokens of the replayed "
        "arrival trace; none (default): one forward pass per request, scaled by the work law",
    )
    exits: EarlyExit | None = Field(
        default=None,
        description="early-exit heads added to the model: a request stops after the block of "
        "the head it exits at (one-pass requests), or each decoded token does (generative "
        "requests on the server or on the device; docs/early-exit-and-placement.md)",
    )
    download: ModelDownload | None = Field(
        default=None,
        description="devices download the device side of their model over the cell's shared "
        "downlink before they first run it (needs a downlink); none: they hold it",
    )
    mobility: Mobility | None = Field(
        default=None,
        description="how each device moves (docs/mobility.md; needs a topology); none "
        "(default): static",
    )
    speculative: SpeculativeDraft | None = Field(
        default=None,
        description="generative requests: a draft model on the device for speculative "
        "decoding across the link (mode speculative, docs/edge-llm.md)",
    )

    @model_validator(mode="after")
    def _work_from_one_place(self) -> Self:
        arrivals = self.arrivals
        if self.speculative is not None and self.tokens is None:
            raise ValueError(
                "speculative: a draft model speeds up generative requests; expected tokens "
                "(the prompt and output tokens of each request) with it"
            )
        if self.tokens is not None:
            if "work" in self.model_fields_set and self.work != ConstantWork():
                raise ValueError(
                    "work: generative requests (tokens given) do their prompt and output "
                    "tokens, not a work scale; remove work"
                )
            if self.tokens == "trace" and not isinstance(arrivals, TraceArrivals):
                raise ValueError(
                    f"tokens: 'trace' takes the tokens of a replayed arrival trace, got arrivals "
                    f"process {arrivals.process!r}; expected arrivals: {{process: trace, ...}} "
                    "or tokens: {prompt: LAW, output: LAW}"
                )
            return self
        if (
            isinstance(arrivals, TraceArrivals)
            and arrivals.tokens != "none"
            and "work" in self.model_fields_set
        ):
            raise ValueError(
                f"work: the work scale comes from the trace's tokens (arrivals.tokens: "
                f"{arrivals.tokens}); remove work, or set arrivals.tokens: none"
            )
        return self


# ---- cells, servers, channel, downlink -------------------------------------------------------


class SharingParams(_Spec):
    """The parameters of an uplink sharing discipline (the built-ins have none).

    A plug-in sharing's ``Params`` extends this model; a scenario gives them beside the cell's
    ``sharing`` (see ``docs/extending.md``)."""


class DisciplineParams(_Spec):
    """The parameters of a server discipline (the built-ins have none).

    A plug-in discipline's ``Params`` extends this model; a scenario gives them beside the
    server's ``discipline`` (see ``docs/extending.md``)."""


#: A cell's link model (a member of the ``coinfer.links`` family with its parameters).
Link = Annotated[LinkParams, Registered(LINKS)]


class Cell(HostsMember):
    """One access point and its uplink band; the sharing discipline's own parameters, if any,
    are given beside ``sharing``."""

    model_config = ConfigDict(frozen=True, extra="allow")
    member_family = SHARING

    id: str = Field(min_length=1, description="cell id")
    bandwidth_hz: float = Field(
        default=5e6, gt=0, le=1e12, description="uplink bandwidth B, Hz (at most 1 THz)"
    )
    noise_psd_w_per_hz: float | None = Field(
        default=None,
        gt=0,
        le=1e-6,
        description="noise PSD N0, W/Hz (default 2e-19, the paper's; at most 1e-6)",
    )
    noise_figure_db: float | None = Field(
        default=None,
        ge=0,
        le=30,
        description="receiver noise figure, dB: N0 = -174 dBm/Hz + NF (instead of N0)",
    )
    sharing: str = Field(
        default="ps",
        description="how concurrent uploads share the band: fdma (static equal share among the "
        "cell's devices), ps (equal share among active uploads, re-rated as they come and go), "
        "fifo (one upload at a time on the whole band), pf (proportional fair shares among "
        "active uploads), pf-window (proportional fair TTI by TTI with an averaging window), "
        "pf-window-fd (the same, splitting each TTI's band), round-robin (TTI by TTI), "
        "or a registered plug-in",
    )
    server: str | None = Field(default=None, description="server id (default: the first server)")
    link: Link = Field(
        default_factory=ShannonLinkParams,
        description="link model: {model: shannon} (default) or {model: nr, preset: "
        "nr-fr1-100mhz, ...} (docs/radio.md)",
    )

    @model_validator(mode="after")
    def _one_noise(self) -> Self:
        if self.noise_psd_w_per_hz is not None and self.noise_figure_db is not None:
            raise ValueError("give noise_psd_w_per_hz or noise_figure_db, not both")
        check_link_band(self.link, self.bandwidth_hz, "bandwidth_hz" in self.model_fields_set)
        return self

    @property
    def uplink_band_hz(self) -> float:
        """The band the cell's uploads share, Hz: the link model's, else ``bandwidth_hz``."""
        return uplink_band_hz(self.link, self.bandwidth_hz)

    @property
    def noise_w_per_hz(self) -> float:
        """Noise PSD N0 in W/Hz."""
        if self.noise_figure_db is not None:
            return 10.0 ** ((THERMAL_NOISE_DBM_PER_HZ + self.noise_figure_db - 30.0) / 10.0)
        return 2e-19 if self.noise_psd_w_per_hz is None else self.noise_psd_w_per_hz

    @property
    def sharing_params(self) -> SharingParams:
        """The sharing discipline's parameters."""
        return self.member_params  # type: ignore[return-value]


class Server(HostsMember):
    """One edge server: a hardware class with parallel workers and a queue; the discipline's own
    parameters, if any, are given beside ``discipline``."""

    model_config = ConfigDict(frozen=True, extra="allow")
    member_family = SERVERS

    id: str = Field(min_length=1, description="server id")
    hardware: str = Field(default="paper-server", description="server hardware class name")
    workers: int = Field(default=1, ge=1, le=100_000, description="requests served in parallel")
    discipline: str = Field(
        default="fcfs",
        description="fcfs: first come first served on `workers` workers; ps: processor sharing, "
        "each of n requests runs at min(1, workers/n) of its speed; or a registered plug-in",
    )
    queue_capacity: int | None = Field(
        default=None,
        ge=0,
        description="fcfs: most requests waiting (not in service); ps: most requests in the "
        "server (at least 1). A request arriving to a full server is dropped. Default: unbounded",
    )

    @model_validator(mode="after")
    def _ps_has_room(self) -> Self:
        if self.discipline == "ps" and self.queue_capacity == 0:
            raise ValueError(
                "queue_capacity=0 with discipline ps would admit nothing; expected at least 1"
            )
        return self

    @property
    def discipline_params(self) -> DisciplineParams:
        """The discipline's parameters."""
        return self.member_params  # type: ignore[return-value]


class PathLossParams(_Spec):
    """What every path-loss model's parameters share: the registered name of the model.

    A plug-in path-loss model's ``Params`` extends this model (see ``docs/extending.md``)."""

    model: str = Field(
        default="log-distance",
        description="path-loss model: log-distance, 38901, or a registered plug-in",
    )


class LogDistancePathLoss(PathLossParams):
    """The paper's path loss ``g = K0·(d/d0)^(−α)``."""

    model: Literal["log-distance"] = "log-distance"
    k0_db: float = Field(
        default=-30.0, ge=-300, le=100, description="gain at the reference distance, dB"
    )
    reference_distance_m: float = Field(default=1.0, gt=0, le=1e4, description="d0, m")
    exponent: float = Field(default=2.8, gt=0, le=10, description="path-loss exponent α")


class PathLoss38901(PathLossParams):
    """3GPP TR 38.901 UMi-Street Canyon or UMa path loss."""

    model: Literal["38901"] = "38901"
    scenario: Literal["umi", "uma"] = Field(default="umi", description="deployment scenario")
    los: Literal["random", "los", "nlos", "mean"] = Field(
        default="random",
        description="random: draw LOS per device with the 38.901 probability; los / nlos: force; "
        "mean: gain averaged over the LOS probability",
    )
    carrier_hz: float = Field(default=3.5e9, gt=0.5e9, le=100e9, description="carrier, Hz")


#: A path-loss model: ``model`` names it, the other keys are its parameters.
PathLoss = Annotated[PathLossParams, Registered(PATHLOSS)]


class Fading(_Spec):
    """Small-scale block fading of the power gain (mean 1), redrawn every coherence time.

    The built-in laws share these fields; a plug-in law's ``Params`` extends this model with its
    own (see ``docs/extending.md``)."""

    law: str = Field(
        default="none",
        description="distribution of the amplitude: none, rayleigh, rician, nakagami, or a "
        "registered plug-in",
    )
    coherence_time_s: float = Field(
        default=0.01,
        ge=1e-6,
        le=1e9,
        description="block length over which the gain is constant, s (1 µs .. 1e9 s)",
    )
    k_factor: float = Field(
        default=0.0, ge=0, le=1e4, description="Rician K (linear, at most 1e4), law = rician"
    )
    m: float = Field(default=1.0, ge=0.5, le=1e4, description="Nakagami m, law = nakagami")


class Interference(_Spec):
    """Uploads of other cells on the same sub-band raise a cell's noise (docs/radio.md)."""

    reuse_factor: int = Field(
        default=1,
        ge=1,
        le=64,
        description="sub-bands the cells are spread over (cell i on sub-band i mod reuse_factor); "
        "1: every cell interferes with every other",
    )


class Channel(_Spec):
    """The wireless uplink's gain: path loss × shadowing × small-scale fading."""

    pathloss: PathLoss = Field(default_factory=LogDistancePathLoss, description="path-loss model")
    shadowing_std_db: float = Field(
        default=0.0, ge=0, le=20, description="log-normal shadowing std, dB (one draw per device)"
    )
    fading: Annotated[Fading, Registered(FADING)] = Field(
        default_factory=Fading, description="small-scale fading"
    )
    csi: Literal["instantaneous", "mean"] = Field(
        default="instantaneous",
        description="what the policy sees: the gain of the current block, or the mean gain",
    )
    interference: Interference | None = Field(
        default=None,
        description="inter-cell interference between cells of one sub-band (needs a topology "
        "and ps or pf sharing); none (default): cells do not interfere",
    )


class Downlink(_Spec):
    """Returning the result: a fixed rate without contention."""

    result_bits: float = Field(default=0.0, ge=0, le=1e15, description="result size, bits")
    rate_bps: float = Field(default=100e6, gt=0, le=1e13, description="downlink rate, bit/s")


class PolicySpec(_Spec):
    """Which policy decides each request, and its parameters."""

    name: str = Field(default="fixed", description="registered policy name")
    params: dict[str, Any] = Field(default_factory=dict, description="the policy's parameters")


class GenerativeSlo(_Spec):
    """Service-level objectives of generative requests: a request *attains* them when it
    completes with its time to first token and its time per output token within both."""

    ttft_s: float = Field(
        default=float("inf"),
        gt=0,
        allow_inf_nan=True,
        description="most time to first token, s (default and .inf: none)",
    )
    tpot_s: float = Field(
        default=float("inf"),
        gt=0,
        allow_inf_nan=True,
        description="most mean time per output token after the first, s (default: none)",
    )


# ---- the scenario ----------------------------------------------------------------------------


class Scenario(_Spec):
    """One emulation run's full description (see the module docstring)."""

    name: str = Field(
        default="scenario",
        min_length=1,
        max_length=100,
        pattern=SAFE_NAME,
        description="scenario name; names the default run folder, so letters, digits, '.', '_' "
        "and '-' only, starting with a letter or digit",
    )
    seed: int = Field(default=0, ge=0, description="root seed of every random stream")
    duration_s: float | None = Field(
        default=None,
        gt=0,
        le=1e9,
        description="arrivals stop at this time, s (at most 1e9); in-flight work drains",
    )
    requests: int | None = Field(
        default=None, gt=0, le=10**10, description="or: stop after this many arrivals in total"
    )
    warmup_s: float = Field(
        default=0.0, ge=0, description="requests arriving before this are left out of summaries"
    )
    devices: tuple[DeviceGroup, ...] = Field(min_length=1, description="device groups")
    cells: tuple[Cell, ...] = Field(
        default_factory=lambda: (Cell(id="cell-0"),),
        min_length=1,
        description="access points (default: one, cell-0)",
    )
    servers: tuple[Server, ...] = Field(
        default_factory=lambda: (Server(id="server-0"),),
        min_length=1,
        description="edge servers (default: one, server-0)",
    )
    channel: Channel = Field(default_factory=Channel, description="uplink channel model")
    downlink: Downlink | None = Field(default=None, description="result return; none = paper")
    policy: PolicySpec = Field(default_factory=PolicySpec, description="decision policy")
    hardware_files: tuple[str, ...] = Field(
        default=(),
        description="extra hardware YAML files, relative to the scenario file",
        json_schema_extra=FILE,
    )
    model_files: tuple[str, ...] = Field(
        default=(),
        description="extra model profile files, relative to the scenario file",
        json_schema_extra=FILE,
    )
    topology: TopologySpec | None = Field(
        default=None,
        description="a networkx topology (generator or graph file) instead of cells; devices "
        "and servers are then the classes it places",
    )
    slo: GenerativeSlo | None = Field(
        default=None,
        description="service-level objectives of generative requests: the summary reports the "
        "share of requests meeting both (docs/generative.md)",
    )
    model_cache: Annotated[ModelCacheParams, Registered(PLACEMENT)] | None = Field(
        default=None,
        description="the models each server holds in its memory and how a missing one is "
        "loaded (docs/early-exit-and-placement.md); none: every server holds every model",
    )
    handover: Handover | None = Field(
        default=None,
        description="measurement step and A3 handover of moving devices (docs/mobility.md); "
        "none: the defaults",
    )

    @model_validator(mode="after")
    def _check_references(self) -> Self:
        if (self.duration_s is None) == (self.requests is None):
            raise ValueError("give exactly one of duration_s and requests")
        if self.duration_s is not None and self.warmup_s >= self.duration_s:
            raise ValueError(
                f"warmup_s: got {self.warmup_s:g}, expected less than duration_s "
                f"({self.duration_s:g} s): every request would be left out of the summary"
            )
        _unique("device group", [group.name for group in self.devices])
        _unique("cell", [cell.id for cell in self.cells])
        _unique("server", [s.id for s in self.servers])
        if self.downlink is None:
            for index, group in enumerate(self.devices):
                if group.download is not None:
                    raise ValueError(
                        f"devices[{index}].download: the download shares the cell's downlink, "
                        "and the scenario has none; expected a downlink section (its rate_bps)"
                    )
        if self.topology is None:
            for index, group in enumerate(self.devices):
                if group.mobility is not None and group.mobility.model != "static":
                    raise ValueError(
                        f"devices[{index}].mobility: model {group.mobility.model!r} needs a "
                        "topology (positions of the access points); add a topology section, "
                        "or remove mobility"
                    )
        if self.topology is not None:
            if self.channel.interference is not None:
                for index, group in enumerate(self.devices):
                    if group.mobility is not None and group.mobility.model != "static":
                        raise ValueError(
                            f"devices[{index}].mobility: model {group.mobility.model!r} with "
                            "channel.interference is not supported (a moving device's gains "
                            "to the other cells would be those of its start); remove one of them"
                        )
            self._check_topology()
            return self
        if self.channel.interference is not None:
            raise ValueError(
                "channel.interference: needs a topology (the gains from each device to the "
                "other cells' access points); add a topology section, or remove interference"
            )
        cell_ids = {c.id for c in self.cells}
        server_ids = {s.id for s in self.servers}
        for index, group in enumerate(self.devices):
            if group.cell is not None and group.cell not in cell_ids:
                raise ValueError(
                    f"devices[{index}].cell: got {group.cell!r}, expected one of {sorted(cell_ids)}"
                )
        for index, cell in enumerate(self.cells):
            if cell.server is not None and cell.server not in server_ids:
                raise ValueError(
                    f"cells[{index}].server: got {cell.server!r}, expected one of "
                    f"{sorted(server_ids)}"
                )
        return self

    def _check_topology(self) -> None:
        """With a topology, cells and placements come from it; mixes name existing classes."""
        topology = self.topology
        assert topology is not None
        if "cells" in self.model_fields_set:
            raise ValueError(
                "cells: not used with a topology (its access points are the cells); remove "
                "cells, or set the radio fields in topology.access_point"
            )
        for index, group in enumerate(self.devices):
            for field in ("cell", "distance_m"):
                if field in group.model_fields_set:
                    raise ValueError(
                        f"devices[{index}].{field}: not used with a topology (it places the "
                        "devices and associates them with access points); remove it"
                    )
        if isinstance(topology, FileTopology):
            if "servers" in self.model_fields_set:
                raise ValueError(
                    "servers: not used with a topology file (its server and cloud nodes are the "
                    "servers); remove servers"
                )
            return
        if not isinstance(topology, GeneratedParams):
            return  # a plug-in generator with parameters of its own
        groups = [g.name for g in self.devices]
        classes = [s.id for s in self.servers]
        for name in topology.device_mix or {}:
            if name not in groups:
                raise ValueError(
                    f"topology.device_mix: got device group {name!r}, expected one of {groups}"
                )
        for name in topology.server_mix or {}:
            if name not in classes:
                raise ValueError(
                    f"topology.server_mix: got server class {name!r}, expected one of {classes} "
                    "(the servers ids)"
                )
        if isinstance(topology, HierarchyTopology) and topology.cloud not in classes:
            raise ValueError(
                f"topology.cloud: got server class {topology.cloud!r}, expected one of {classes} "
                "(the servers ids)"
            )


def _unique(kind: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for item in ids:
        if item in seen:
            raise ValueError(f"duplicate {kind} id {item!r}")
        seen.add(item)


# ---- loading and overriding -----------------------------------------------------------------


def scenario_from_dict(
    data: Any, source: str = "scenario", *, file: str | Path | None = None
) -> Scenario:
    """Validate a plain mapping into a :class:`Scenario`; errors name the field.

    ``source`` names the data in messages; ``file``: the file it was read from, if any.
    """
    file = None if file is None else str(file)
    if not isinstance(data, dict):
        raise InputError(
            f"{source}: got a {type(data).__name__} at the top level, expected a mapping",
            expected="a mapping",
            source=file,
        )
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise input_error_from_validation(err, source, file=file, model=Scenario) from err


def load_scenario_data(path: str | Path, _chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The raw mapping of a scenario YAML file, with file references made absolute and its
    ``base`` (if any) merged in.

    ``base: OTHER.yaml`` (relative to the file that names it) makes the file a set of changes
    to another scenario, which may have a base of its own: the base's mapping is read first,
    then this file's merged into it by path (:func:`merge_scenario_data`: mappings merged key
    by key, anything else, lists included, replaced). Each file's paths are relative to that
    file. A file that is its own base, directly or through others, is refused
    (:class:`InputError` naming the chain).
    """
    path = Path(path)
    data = read_yaml(path, "scenario file")
    if not isinstance(data, dict):
        raise InputError(
            f"scenario file {str(path)!r}: got a {type(data).__name__} at the top level, "
            "expected a mapping",
            expected="a mapping",
            source=str(path),
        )
    here = path.resolve()
    base = data.pop("base", None)
    own = resolve_files(data, here.parent, Scenario)
    if base is None:
        return own
    if not isinstance(base, str) or not base:
        raise InputError(
            f"scenario file {str(path)!r}: base: got {base!r}, expected a scenario file "
            "(a path relative to this file)",
            path="base",
            value=base,
            expected="a scenario file",
            source=str(path),
        )
    base_path = (here.parent / base).expanduser().resolve()
    chain = (*_chain, here)
    if base_path in chain:
        names = " -> ".join(str(p) for p in (*chain, base_path))
        raise InputError(
            f"scenario file {str(path)!r}: base: {names} is a cycle; expected a chain of "
            "bases that ends in a file without one",
            path="base",
            value=base,
            expected="a base that is not the file itself, directly or through others",
            source=str(path),
        )
    if not base_path.is_file():
        raise InputError(
            f"scenario file {str(path)!r}: base: {str(base_path)!r} does not exist; expected "
            "a scenario file (relative to the file that names it)",
            path="base",
            value=base,
            expected="an existing scenario file",
            source=str(path),
        )
    return merge_scenario_data(load_scenario_data(base_path, chain), own)


#: Keys that name what a mapping is (a policy, a fading law, an arrival process...): a mapping
#: of the changes naming another one than the base's replaces the base's whole.
MEMBER_KEYS = ("name", "law", "process", "distribution", "model", "generator", "kind")


def merge_scenario_data(
    base: dict[str, Any], changes: dict[str, Any], *, _root: bool = True
) -> dict[str, Any]:
    """``base`` with ``changes`` merged in by path: a mapping in both is merged key by key
    (recursively), unless the two name different members (:data:`MEMBER_KEYS`: ``policy:
    {name: joint}`` over ``{name: fixed, params: ...}``, ``fading: {law: rician}`` over
    ``{law: rayleigh, ...}``), when the changes' mapping replaces the base's whole; any other
    value of ``changes``, a list included, replaces the base's (a list of device groups is
    given whole). Neither argument is changed."""
    if not _root and _names_another(base, changes):
        return changes
    merged = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_scenario_data(merged[key], value, _root=False)
        else:
            merged[key] = value
    return merged


def _names_another(base: dict[str, Any], changes: dict[str, Any]) -> bool:
    return any(key in base and key in changes and base[key] != changes[key] for key in MEMBER_KEYS)


def apply_overrides(data: dict[str, Any], assignments: list[str]) -> dict[str, Any]:
    """Apply ``dotted.path=value`` assignments (values parsed as YAML) to a scenario mapping.

    List items are addressed by index (``devices.0.count=10``). Returns the modified mapping.
    A bad assignment raises :class:`InputError` whose ``argument`` is ``override``: its message
    reads ``override devices.3: got index '3', expected 0..0`` (the command line says
    ``--set devices.3: ...``).
    """
    for assignment in assignments:
        path, sep, text = assignment.partition("=")
        if not sep or not path:
            raise InputError(
                f"got {assignment!r}, expected dotted.path=value",
                argument="override",
                value=assignment,
                expected="dotted.path=value",
            )
        value = parse_yaml_or_text(text, f"override {path}")
        try:
            assign(data, path, value)
        except InputError as err:
            err.through("override")
            raise
    return data


def assign(data: dict[str, Any], path: str, value: Any) -> None:
    """Set the field at the dotted ``path`` of a scenario mapping to ``value``.

    List items are addressed by index (``devices.0.count``); missing mappings on the way are
    created. A path that does not fit the data raises :class:`InputError` naming the part of
    the path that does not: ``devices.3: got index '3', expected 0..0``.
    """
    keys = path.split(".")
    node: Any = data
    for depth, key in enumerate(keys[:-1]):
        node = _child(node, key, ".".join(keys[: depth + 1]))
    last = keys[-1]
    if isinstance(node, list):
        node[_index(node, last, path)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        parent = ".".join(keys[:-1])
        raise InputError(
            f"{parent} is not a mapping or list",
            subject=path,
            path=parent,
            value=node,
            expected="a mapping or list",
        )


def _index(node: list[Any], key: str, path: str) -> int:
    if not key.isdigit() or int(key) >= len(node):
        expected = f"0..{len(node) - 1}"
        raise InputError(
            f"got index {key!r}, expected {expected}",
            subject=path,
            path=path,
            value=key,
            expected=expected,
        )
    return int(key)


def _child(node: Any, key: str, path: str) -> Any:
    if isinstance(node, list):
        return node[_index(node, key, path)]
    if isinstance(node, dict):
        if key not in node or node[key] is None:
            node[key] = {}
        return node[key]
    raise InputError(
        f"got a {type(node).__name__}, expected a mapping or list",
        subject=path,
        path=path,
        value=node,
        expected="a mapping or list",
    )


def load_scenario(path: str | Path, overrides: list[str] | None = None) -> Scenario:
    """Load and validate a scenario YAML file, with optional ``dotted.path=value`` overrides."""
    data = apply_overrides(load_scenario_data(path), list(overrides or []))
    return scenario_from_dict(data, f"scenario {str(path)!r}", file=path)
