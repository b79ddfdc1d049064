"""The run summary: what a researcher looks at first, computed from the trace."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from coinfer.emulator.engine.core import EngineStats
from coinfer.emulator.tables import format_table
from coinfer.emulator.trace.columns import TRACE

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
    "deadline_met",
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
    deadline_met_ratio: float  #: requests completed within their deadline / measured requests
    sim_end_s: float  #: time the last request left, s
    server_utilisation: dict[str, float]
    cell_utilisation: dict[str, float]
    #: each shared wired link direction's busy fraction (empty without backhaul)
    link_utilisation: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dictionary."""
        return asdict(self)

    def format(self) -> str:
        """A human-readable two-column table."""
        ms = 1e3
        rows = [
            ("requests", self.requests),
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
            ("deadline met", f"{self.deadline_met_ratio:.2%}"),
        ]
        rows += [
            (f"server {k} utilisation", f"{v:.1%}") for k, v in self.server_utilisation.items()
        ]
        rows += [(f"cell {k} utilisation", f"{v:.1%}") for k, v in self.cell_utilisation.items()]
        busiest = sorted(self.link_utilisation.items(), key=lambda kv: -kv[1])[:_LINKS_SHOWN]
        rows += [(f"link {k} utilisation", f"{v:.1%}") for k, v in busiest]
        return format_table(("metric", "value"), rows)


def summarize(trace: pd.DataFrame, stats: EngineStats, warmup_s: float) -> Summary:
    """The :class:`Summary` of a run from its trace and the engine's own measurements."""
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
        deadline_met_ratio=(
            float(measured["deadline_met"].to_numpy(dtype=bool).mean())
            if len(measured)
            else float("nan")
        ),
        sim_end_s=stats.sim_end_s,
        server_utilisation={k: v / span for k, v in stats.server_busy_s.items()},
        cell_utilisation={k: v / span for k, v in stats.cell_busy_s.items()},
        link_utilisation={k: v / span for k, v in stats.link_busy_s.items()},
    )
