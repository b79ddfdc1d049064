"""The run summary: what a researcher looks at first, computed from the trace."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

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


def summarize(
    trace: pd.DataFrame,
    stats: EngineStats,
    warmup_s: float,
    slo_ttft_s: float = np.inf,
    slo_tpot_s: float = np.inf,
) -> Summary:
    """The :class:`Summary` of a run from its trace and the engine's own measurements; with
    generative requests (the trace has their columns), also :func:`generative_summary` with
    the SLOs ``slo_ttft_s`` and ``slo_tpot_s`` (s)."""
    measured = trace[~trace["warmup"].to_numpy(dtype=bool)]
    status = measured["status"].astype(str).to_numpy()
    done = measured[status == "completed"]
    latency = done["latency_s"].to_numpy(dtype=float)
    window = max(stats.arrivals_end_s - warmup_s, 0.0)

    def mean(column: str) -> float:
        values = done[column].to_numpy(dtype=float)
        return float(values.mean()) if len(values) else float("nan")

    def quantile(q: float) -> float:
        return float(np.quantile(latency, q)) if len(latency) else float("nan")

    span = stats.sim_end_s if stats.sim_end_s > 0 else float("nan")
    return Summary(
        requests=len(measured),
        completed=len(done),
        dropped=int((status == "dropped").sum()),
        infeasible=int((status == "infeasible").sum()),
        throughput_per_s=len(done) / window if window > 0 else float("nan"),
        latency_mean_s=float(latency.mean()) if len(latency) else float("nan"),
        latency_p50_s=quantile(0.50),
        latency_p95_s=quantile(0.95),
        latency_p99_s=quantile(0.99),
        energy_per_request_j=mean("energy_total_j"),
        device_energy_per_request_j=mean("energy_device_j"),
        distortion_mean=mean("distortion_bound"),
        deadline_met_ratio=_deadline_met_ratio(measured),
        sim_end_s=stats.sim_end_s,
        server_utilisation={k: v / span for k, v in stats.server_busy_s.items()},
        cell_utilisation={k: v / span for k, v in stats.cell_busy_s.items()},
        link_utilisation={k: v / span for k, v in stats.link_busy_s.items()},
        generative=(
            generative_summary(measured, window, slo_ttft_s, slo_tpot_s)
            if "output_tokens" in measured.columns
            else {}
        ),
    )


def _deadline_met_ratio(measured: pd.DataFrame) -> float:
    """The share of the measured requests with a finite deadline that completed within it (NaN:
    none has one; an infinite deadline is no deadline, not one always met)."""
    bounded = np.isfinite(measured["deadline_s"].to_numpy(dtype=float))
    if not bounded.any():
        return float("nan")
    return float(measured["deadline_met"].to_numpy(dtype=bool)[bounded].mean())


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
    generative = measured[measured["output_tokens"].to_numpy() > 0]
    if generative.empty:
        return {}
    status = generative["status"].astype(str).to_numpy()
    done = generative[status == "completed"]

    def quantiles(column: str) -> dict[str, float]:
        values = done[column].to_numpy(dtype=float)
        values = values[~np.isnan(values)]
        return {
            f"{column.removesuffix('_s')}_{name}_s": (
                float(np.quantile(values, q)) if len(values) else float("nan")
            )
            for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))
        }

    ttft = done["ttft_s"].to_numpy(dtype=float)
    tpot = done["tpot_s"].to_numpy(dtype=float)
    met = (ttft <= slo_ttft_s) & ((tpot <= slo_tpot_s) | np.isnan(tpot))
    set_slo = np.isfinite(slo_ttft_s) or np.isfinite(slo_tpot_s)
    tokens = float(done["output_tokens"].to_numpy(dtype=float).sum())
    energy = done["energy_per_token_j"].to_numpy(dtype=float)
    device_energy = done["energy_device_j"].to_numpy(dtype=float) / done["output_tokens"].to_numpy(
        dtype=float
    )
    return {
        "requests": float(len(generative)),
        "completed": float(len(done)),
        **quantiles("ttft_s"),
        **quantiles("tpot_s"),
        **quantiles("itl_p99_s"),
        "tokens_per_s": tokens / window_s if window_s > 0 else float("nan"),
        "energy_per_token_j": float(energy.mean()) if len(energy) else float("nan"),
        "device_energy_per_token_j": (
            float(device_energy.mean()) if len(device_energy) else float("nan")
        ),
        "preemptions": float(generative["preemptions"].to_numpy(dtype=float).sum()),
        "slo_ttft_s": float(slo_ttft_s),
        "slo_tpot_s": float(slo_tpot_s),
        "slo_attainment": float(met.sum() / len(generative)) if set_slo else float("nan"),
    }
