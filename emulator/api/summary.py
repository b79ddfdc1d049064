"""The run summary: what a researcher looks at first, computed while the trace is written.

A :class:`SummaryAccumulator` takes every chunk of rows the trace writer flushes, so a run of
any length gets its summary without reading its trace back; :func:`summarize` computes the same
figures from a trace in memory. Accumulators of the shards of a run merge exactly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from coinfer.emulator.api.exact_sum import ExactSum
from coinfer.emulator.engine.core import EngineStats
from coinfer.emulator.tables import format_table
from coinfer.emulator.trace.columns import GENERATIVE_TRACE, TRACE

if TYPE_CHECKING:
    import pandas as pd


#: The trace columns :func:`summarize` reads (a run can load just these), checked against the
#: trace's declaration on import.
SUMMARY_COLUMNS: tuple[str, ...] = TRACE.require(
    "warmup",
    "status",
    "latency_s",
    "energy_total_j",
    "energy_device_j",
    "distortion_bound",
    "deadline_s",
    "deadline_met",
)

#: The generative columns :func:`summarize` reads too, when the trace has them.
GENERATIVE_SUMMARY_COLUMNS: tuple[str, ...] = GENERATIVE_TRACE.require(
    "t_arrival",
    "output_tokens",
    "ttft_s",
    "tpot_s",
    "itl_p99_s",
    "preemptions",
    "energy_per_token_j",
)

_LINKS_SHOWN = 5  # the table shows the busiest wired links; to_dict() has them all


@dataclass(frozen=True)
class Summary:
    """Headline figures of one run; requests arriving in the warm-up are left out.

    Latency statistics are over completed requests; ratios are over every measured request.
    Utilisations are time averages over the whole run ``[0, sim_end_s]``.
    """

    requests: int  #: measured requests (after the warm-up)
    completed: int
    dropped: int
    infeasible: int
    throughput_per_s: float  #: completed requests per second of the arrival window
    latency_mean_s: float
    latency_p50_s: float
    latency_p95_s: float
    latency_p99_s: float
    energy_per_request_j: float  #: mean total energy (device + server) of completed requests
    device_energy_per_request_j: float  #: mean device energy of completed requests
    distortion_mean: float  #: mean distortion bound of completed requests
    #: requests completed within their deadline / measured requests with a (finite) deadline;
    #: NaN when no measured request has one (the summary then says "no deadline")
    deadline_met_ratio: float
    sim_end_s: float  #: time the last request left, s
    server_utilisation: dict[str, float]
    cell_utilisation: dict[str, float]
    #: each shared wired link direction's busy fraction (empty without backhaul)
    link_utilisation: dict[str, float] = field(default_factory=dict)
    #: generative requests (empty without any): see :func:`generative_summary`
    generative: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dictionary."""
        return asdict(self)

    def _repr_html_(self) -> str:
        """A table in display units, for Jupyter (:mod:`coinfer.emulator.api.html`)."""
        from coinfer.emulator.api.html import summary_html

        return summary_html(self)

    def format(self) -> str:
        """A human-readable two-column table."""
        ms = 1e3
        rows = [
            ("requests (after warm-up)", self.requests),
            (
                "completed / dropped / infeasible",
                f"{self.completed} / {self.dropped} / {self.infeasible}",
            ),
            ("throughput", f"{self.throughput_per_s:.4g} req/s"),
            ("latency mean", f"{self.latency_mean_s * ms:.4g} ms"),
            (
                "latency p50 / p95 / p99",
                f"{self.latency_p50_s * ms:.4g} / {self.latency_p95_s * ms:.4g} / "
                f"{self.latency_p99_s * ms:.4g} ms",
            ),
            ("energy per request", f"{self.energy_per_request_j * 1e3:.4g} mJ"),
            ("device energy per request", f"{self.device_energy_per_request_j * 1e3:.4g} mJ"),
            ("mean distortion bound", f"{self.distortion_mean:.4g}"),
            (
                "deadline met",
                "no deadline"
                if np.isnan(self.deadline_met_ratio)
                else f"{self.deadline_met_ratio:.2%}",
            ),
        ]
        rows += [
            (f"server {k} utilisation", f"{v:.1%}") for k, v in self.server_utilisation.items()
        ]
        rows += [(f"cell {k} utilisation", f"{v:.1%}") for k, v in self.cell_utilisation.items()]
        busiest = sorted(self.link_utilisation.items(), key=lambda kv: -kv[1])[:_LINKS_SHOWN]
        rows += [(f"link {k} utilisation", f"{v:.1%}") for k, v in busiest]
        g = self.generative
        if g:

            def three(name: str) -> str:
                return " / ".join(f"{g[f'{name}_{q}_s'] * ms:.4g}" for q in ("p50", "p90", "p99"))

            rows += [
                ("generative requests", f"{g['requests']:.0f} ({g['completed']:.0f} completed)"),
                ("TTFT p50 / p90 / p99", f"{three('ttft')} ms"),
                ("TPOT p50 / p90 / p99", f"{three('tpot')} ms"),
                ("ITL p99 of a request: p50 / p90 / p99", f"{three('itl_p99')} ms"),
                ("output tokens per second", f"{g['tokens_per_s']:.4g}"),
                ("energy per output token", f"{g['energy_per_token_j'] * 1e3:.4g} mJ"),
                (
                    "device energy per output token",
                    f"{g['device_energy_per_token_j'] * 1e3:.4g} mJ",
                ),
                ("preemptions", f"{g['preemptions']:.0f}"),
            ]
            if not np.isnan(g["slo_attainment"]):
                rows.append(
                    (
                        f"SLO attainment (TTFT ≤ {g['slo_ttft_s'] * ms:.4g} ms, "
                        f"TPOT ≤ {g['slo_tpot_s'] * ms:.4g} ms)",
                        f"{g['slo_attainment']:.2%}",
                    )
                )
        return format_table(("metric", "value"), rows)


_QUANTILES = (("p50", 0.50), ("p95", 0.95), ("p99", 0.99))
_GENERATIVE_QUANTILES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))
_STATUSES = ("completed", "dropped", "infeasible")
_MEANS = ("latency_s", "energy_total_j", "energy_device_j", "distortion_bound")
_GENERATIVE_MEANS = ("energy_per_token_j", "device_energy_per_token_j")
_GENERATIVE_QUANTILED = ("ttft_s", "tpot_s", "itl_p99_s")


class _Values:
    """The values of one column kept for exact quantiles: arrays appended chunk by chunk,
    joined into one when the quantiles are asked for (8 bytes per value)."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: list[np.ndarray] = []

    def add(self, values: np.ndarray) -> None:
        if len(values):
            self._parts.append(np.array(values, dtype=float))

    def merge(self, other: _Values) -> None:
        self._parts.extend(other._parts)

    def all(self) -> np.ndarray:
        """Every value kept, in one array (joined once, then kept joined)."""
        if len(self._parts) != 1:
            self._parts = [np.concatenate(self._parts)] if self._parts else [np.empty(0)]
        return self._parts[0]

    def quantile(self, q: float) -> float:
        """``numpy.quantile`` (linear interpolation) of the values (NaN for none): it depends
        only on the values, not on their order, so it equals the quantile of the whole trace."""
        values = self.all()
        return float(np.quantile(values, q)) if len(values) else float("nan")


class SummaryAccumulator:
    """The :class:`Summary` of a run built while its trace is written, one chunk of rows at a
    time (:meth:`add`, an Arrow table of trace rows: the trace writer calls it for every chunk
    it flushes), never by reading the trace back; accumulators of disjoint sets of rows (the
    shards of a run) merge exactly (:meth:`merge`). :meth:`summary` then gives the figures.

    What is kept: counts; exact sums (:class:`~coinfer.emulator.api.exact_sum.ExactSum`) for
    the means, so that a mean is the correctly rounded sum over the count, the same whatever
    the chunks or shards; and, for the exact quantiles, the values they are taken over: the
    latency of each completed measured request, and TTFT, TPOT and ITL p99 of each completed
    generative one, 8 bytes per value (80 MB for 10,000,000 completed requests). Quantiles are
    ``numpy.quantile`` of those values: exactly those of the whole trace.

    ``slo_ttft_s`` and ``slo_tpot_s`` (s): the objectives of the SLO attainment of generative
    requests (inf: none).
    """

    def __init__(self, slo_ttft_s: float = np.inf, slo_tpot_s: float = np.inf) -> None:
        self.slo_ttft_s = float(slo_ttft_s)
        self.slo_tpot_s = float(slo_tpot_s)
        self.requests = 0  #: measured rows
        self.status = dict.fromkeys(_STATUSES, 0)  #: measured rows by status
        self.bounded = 0  #: measured rows with a finite deadline
        self.deadline_met = 0  #: of those, completed within it
        self.sums = {name: ExactSum() for name in _MEANS}  #: over completed measured rows
        self.latency = _Values()
        self.has_generative_columns = False  #: a chunk with the generative columns was seen
        self.generative = dict.fromkeys(
            ("requests", "completed", "tokens", "preemptions", "slo_met"), 0
        )
        self.generative_sums = {name: ExactSum() for name in _GENERATIVE_MEANS}
        self.generative_values = {name: _Values() for name in _GENERATIVE_QUANTILED}

    # ---- adding rows -------------------------------------------------------------------------

    def add(self, chunk: pa.Table) -> None:
        """Add a chunk of trace rows (an Arrow table with at least :data:`SUMMARY_COLUMNS`)."""
        names = set(chunk.column_names)

        def floats(name: str) -> np.ndarray:
            return np.asarray(chunk.column(name).to_numpy(), dtype=float)

        masks = _status_masks(chunk.column("status"))
        self._add(
            np.asarray(chunk.column("warmup").to_numpy(), dtype=bool),
            masks,
            floats,
            generative="output_tokens" in names,
        )

    def add_frame(self, frame: pd.DataFrame) -> None:
        """Add trace rows given as a pandas DataFrame (as :meth:`add`)."""
        status = frame["status"].astype(str).to_numpy()
        self._add(
            frame["warmup"].to_numpy(dtype=bool),
            {name: status == name for name in _STATUSES},
            lambda name: frame[name].to_numpy(dtype=float),
            generative="output_tokens" in frame.columns,
        )

    def _add(
        self,
        warmup: np.ndarray,
        masks: dict[str, np.ndarray],
        floats: Any,
        *,
        generative: bool,
    ) -> None:
        measured = ~warmup
        self.requests += int(measured.sum())
        for name in _STATUSES:
            self.status[name] += int((masks[name] & measured).sum())
        done = masks["completed"] & measured
        for name in _MEANS:
            values = floats(name)[done]
            self.sums[name].add(values)
            if name == "latency_s":
                self.latency.add(values)
        bounded = np.isfinite(floats("deadline_s")) & measured
        self.bounded += int(bounded.sum())
        self.deadline_met += int((floats("deadline_met") > 0)[bounded].sum())
        if generative:
            self.has_generative_columns = True
            self._add_generative(measured, done, floats)

    def _add_generative(self, measured: np.ndarray, done: np.ndarray, floats: Any) -> None:
        tokens = floats("output_tokens")
        rows = measured & (tokens > 0)
        done = done & rows
        g = self.generative
        g["requests"] += int(rows.sum())
        g["completed"] += int(done.sum())
        g["tokens"] += int(tokens[done].sum())
        g["preemptions"] += int(floats("preemptions")[rows].sum())
        ttft, tpot = floats("ttft_s")[done], floats("tpot_s")[done]
        met = (ttft <= self.slo_ttft_s) & ((tpot <= self.slo_tpot_s) | np.isnan(tpot))
        g["slo_met"] += int(met.sum())
        for name in _GENERATIVE_QUANTILED:
            values = floats(name)[done]
            self.generative_values[name].add(values[~np.isnan(values)])
        self.generative_sums["energy_per_token_j"].add(floats("energy_per_token_j")[done])
        self.generative_sums["device_energy_per_token_j"].add(
            floats("energy_device_j")[done] / tokens[done]
        )

    def merge(self, other: SummaryAccumulator) -> None:
        """Add the rows ``other`` accumulated (rows of the same run, none of them here)."""
        if (other.slo_ttft_s, other.slo_tpot_s) != (self.slo_ttft_s, self.slo_tpot_s):
            raise ValueError("merging summaries of runs with different SLOs")
        self.requests += other.requests
        self.bounded += other.bounded
        self.deadline_met += other.deadline_met
        for name in _STATUSES:
            self.status[name] += other.status[name]
        for name, total in self.sums.items():
            total.merge(other.sums[name])
        self.latency.merge(other.latency)
        self.has_generative_columns |= other.has_generative_columns
        for key in self.generative:
            self.generative[key] += other.generative[key]
        for name, total in self.generative_sums.items():
            total.merge(other.generative_sums[name])
        for name, values in self.generative_values.items():
            values.merge(other.generative_values[name])

    # ---- the figures -------------------------------------------------------------------------

    def summary(self, stats: EngineStats, warmup_s: float) -> Summary:
        """The :class:`Summary` of the rows added, with the engine's own measurements."""
        window = max(stats.arrivals_end_s - warmup_s, 0.0)
        completed = self.status["completed"]
        span = stats.sim_end_s if stats.sim_end_s > 0 else float("nan")
        quantiles = {name: self.latency.quantile(q) for name, q in _QUANTILES}
        return Summary(
            requests=self.requests,
            completed=completed,
            dropped=self.status["dropped"],
            infeasible=self.status["infeasible"],
            throughput_per_s=completed / window if window > 0 else float("nan"),
            latency_mean_s=self.sums["latency_s"].mean(),
            latency_p50_s=quantiles["p50"],
            latency_p95_s=quantiles["p95"],
            latency_p99_s=quantiles["p99"],
            energy_per_request_j=self.sums["energy_total_j"].mean(),
            device_energy_per_request_j=self.sums["energy_device_j"].mean(),
            distortion_mean=self.sums["distortion_bound"].mean(),
            deadline_met_ratio=(self.deadline_met / self.bounded if self.bounded else float("nan")),
            sim_end_s=stats.sim_end_s,
            server_utilisation={k: v / span for k, v in stats.server_busy_s.items()},
            cell_utilisation={k: v / span for k, v in stats.cell_busy_s.items()},
            link_utilisation={k: v / span for k, v in stats.link_busy_s.items()},
            generative=self.generative_figures(window),
        )

    def generative_figures(self, window_s: float) -> dict[str, float]:
        """The generative figures (see :func:`generative_summary`); empty without any."""
        g = self.generative
        if not g["requests"]:
            return {}
        figures: dict[str, float] = {"requests": float(g["requests"])}
        figures["completed"] = float(g["completed"])
        for name in _GENERATIVE_QUANTILED:
            for label, q in _GENERATIVE_QUANTILES:
                key = f"{name.removesuffix('_s')}_{label}_s"
                figures[key] = self.generative_values[name].quantile(q)
        set_slo = np.isfinite(self.slo_ttft_s) or np.isfinite(self.slo_tpot_s)
        return {
            **figures,
            "tokens_per_s": float(g["tokens"]) / window_s if window_s > 0 else float("nan"),
            "energy_per_token_j": self.generative_sums["energy_per_token_j"].mean(),
            "device_energy_per_token_j": self.generative_sums["device_energy_per_token_j"].mean(),
            "preemptions": float(g["preemptions"]),
            "slo_ttft_s": self.slo_ttft_s,
            "slo_tpot_s": self.slo_tpot_s,
            "slo_attainment": g["slo_met"] / g["requests"] if set_slo else float("nan"),
        }


def _status_masks(column: pa.ChunkedArray) -> dict[str, np.ndarray]:
    """For each status of :data:`_STATUSES`, which rows of the (dictionary-encoded) column
    have it, read from the codes without building a string per row."""
    masks: dict[str, list[np.ndarray]] = {name: [] for name in _STATUSES}
    for chunk in column.chunks:
        if not pa.types.is_dictionary(chunk.type):
            labels = np.asarray(chunk.to_numpy(zero_copy_only=False), dtype=str)
            for name in _STATUSES:
                masks[name].append(labels == name)
            continue
        codes = chunk.indices.to_numpy(zero_copy_only=False)
        dictionary = chunk.dictionary.to_pylist()
        for name in _STATUSES:
            hits = [code for code, label in enumerate(dictionary) if label == name]
            masks[name].append(np.isin(codes, hits))
    return {
        name: np.concatenate(parts) if parts else np.zeros(0, dtype=bool)
        for name, parts in masks.items()
    }


def summarize(
    trace: pd.DataFrame,
    stats: EngineStats,
    warmup_s: float,
    slo_ttft_s: float = np.inf,
    slo_tpot_s: float = np.inf,
) -> Summary:
    """The :class:`Summary` of a run from its trace (a DataFrame) and the engine's own
    measurements; with generative requests (the trace has their columns), also
    :func:`generative_summary` with the SLOs ``slo_ttft_s`` and ``slo_tpot_s`` (s).

    The same computation as the one made while a run writes its trace
    (:class:`SummaryAccumulator`), so both give the same figures, bit for bit. Means are
    correctly rounded sums over counts (:mod:`~coinfer.emulator.api.exact_sum`), not numpy's
    pairwise sums: they may differ from ``numpy.mean`` in the last bit or two.
    """
    accumulator = SummaryAccumulator(slo_ttft_s, slo_tpot_s)
    accumulator.add_frame(trace)
    return accumulator.summary(stats, warmup_s)


def generative_summary(
    measured: pd.DataFrame, window_s: float, slo_ttft_s: float, slo_tpot_s: float
) -> dict[str, float]:
    """The generative figures of the measured rows (warm-up left out); empty without any.

    Over completed generative requests: ``ttft``, ``tpot`` and ``itl_p99`` (each request's 99th
    percentile inter-token gap) at their 50th, 90th and 99th percentiles (``*_p50_s`` ...; TPOT
    and ITL over requests of at least two tokens), ``tokens_per_s`` (their output tokens per
    second of the arrival window ``window_s``), the mean ``energy_per_token_j`` (J, device and
    server), the mean ``device_energy_per_token_j`` (J, the device's energy over its output
    tokens) and the ``preemptions``; over every measured generative request,
    ``slo_attainment``: the share that completed with TTFT ≤ ``slo_ttft_s`` and TPOT ≤
    ``slo_tpot_s`` (a one-token request meets any TPOT), NaN when neither objective is set.
    """
    accumulator = SummaryAccumulator(slo_ttft_s, slo_tpot_s)
    accumulator.add_frame(measured.assign(warmup=False))
    return accumulator.generative_figures(window_s)
