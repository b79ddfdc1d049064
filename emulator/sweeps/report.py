"""One self-contained HTML page of a run or a sweep: ``coinfer report DIR``.

The page opens offline: its style is inline and its figures are PNG images inlined as base64
``data:`` addresses; it loads nothing from anywhere. It shows, in order, the figures (a run:
its latency CDF and its timeline, :mod:`~coinfer.emulator.sweeps.timeline`; a sweep: every
kind of :mod:`~coinfer.emulator.sweeps.plots` its tables can draw), the summary table (a run's
headline figures; a sweep's mean ± 95 % CI over seeds per configuration), the topology drawing
when the scenario has a topology, the scenario as YAML and the provenance (seed, package
versions, wall time, input traces; a sweep's seeds and configurations).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import yaml

from coinfer.emulator.errors import InputError
from coinfer.emulator.sweeps.plots import KINDS, OKABE_ITO, PlotOptions, finish, plot, styled
from coinfer.emulator.sweeps.store import PLAN_FILE, SweepStore

if TYPE_CHECKING:
    from matplotlib.figure import Figure

REPORT_FILE = "report.html"
RUN_FILE = "run.json"
#: The sweep metrics in the summary table: (metric, factor to the unit, unit).
SWEEP_METRICS = (
    ("latency_p50_s", 1e3, "ms"),
    ("latency_p99_s", 1e3, "ms"),
    ("deadline_met_ratio", 100.0, "%"),
    ("energy_per_request_j", 1e3, "mJ"),
    ("distortion_mean", 1.0, ""),
    ("generative.ttft_p99_s", 1e3, "ms"),
    ("generative.tpot_p99_s", 1e3, "ms"),
    ("generative.slo_attainment", 100.0, "%"),
)
_DPI = 110
_STYLE = """
body { font-family: sans-serif; max-width: 1100px; margin: 1em auto; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0; }
td, th { border: 1px solid #ddd; padding: 2px 8px; text-align: left; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1em 0; } figure img { max-width: 100%; }
figcaption { font-size: 0.9em; color: #555; }
pre { background: #f7f7f7; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
"""


def write_report(directory: str | Path, out: str | Path | None = None) -> Path:
    """Write the report of the run or sweep in ``directory`` (to ``out``, default
    ``directory/report.html``) and return its path."""
    directory = Path(directory)
    if (directory / PLAN_FILE).is_file():
        page = sweep_page(directory)
    elif (directory / RUN_FILE).is_file():
        page = run_page(directory)
    else:
        raise InputError(
            f"{str(directory)!r}: neither a run's folder ({RUN_FILE}) nor a sweep's "
            f"({PLAN_FILE}); expected the folder of coinfer run or coinfer sweep",
            value=str(directory),
            expected=f"a folder holding {RUN_FILE} or {PLAN_FILE}",
        )
    path = Path(out) if out is not None else directory / REPORT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


# ---- a run ----------------------------------------------------------------------------------


def run_page(directory: Path) -> str:
    """The page of one run's folder (``run.json``, ``trace.parquet``)."""
    from coinfer.emulator.sweeps.timeline import timeline_figure

    sidecar = json.loads((directory / RUN_FILE).read_text(encoding="utf-8"))
    scenario = sidecar.get("scenario") or {}
    trace_path = directory / "trace.parquet"
    figures: list[tuple[str, str]] = []
    if trace_path.is_file():
        trace = pd.read_parquet(trace_path)
        options = PlotOptions()
        with styled(options):
            figures.append((_png(_latency_cdf(trace, scenario, options)), "Latency CDF"))
            timeline = timeline_figure(trace, scenario, options)
            finish(timeline, options)
            figures.append(
                (
                    _png(timeline),
                    "Requests waiting and in service, active uploads and server utilisation "
                    "over simulated time",
                )
            )
    name = str(scenario.get("name", directory.name))
    provenance = {
        "folder": str(directory),
        "seed": sidecar.get("seed"),
        "requests": sidecar.get("requests"),
        "wall time (s)": sidecar.get("wall_time_s"),
        "stopped by": sidecar.get("stopped_by"),
        **{f"version of {k}": v for k, v in (sidecar.get("versions") or {}).items()},
        **{f"input trace {k}": v for k, v in _flat(sidecar.get("input_traces") or {})},
    }
    summary = sidecar.get("summary") or {}
    sections = [
        _figures_section(figures),
        "<h2>Summary</h2>" + _key_values(_flat(summary)),
        _topology_section(scenario, sidecar.get("seed")),
        "<h2>Scenario</h2>" + _yaml(scenario),
        "<h2>Provenance</h2>" + _key_values(provenance.items()),
    ]
    return _page(f"coinfer run {name}", sections)


def _latency_cdf(trace: pd.DataFrame, scenario: Mapping[str, Any], options: PlotOptions) -> Figure:
    from coinfer.emulator.sweeps.plots import _deadlines_of_scenario, _figure, _reference

    measured = trace[~trace["warmup"].astype(bool)] if "warmup" in trace else trace
    done = measured[measured["status"].astype(str) == "completed"]
    latency = np.sort(done["latency_s"].to_numpy(float)) * 1e3
    figure, (ax,) = _figure(options, 6.0, 3.6)
    if len(latency):
        share = np.arange(1, len(latency) + 1) / len(latency)
        ax.step(latency, share, where="post", color=OKABE_ITO[0], label="completed requests")
        if latency[0] > 0 and latency[-1] > 20 * latency[0]:
            ax.set_xscale("log")
    for deadline in _deadlines_of_scenario(scenario)[:4]:
        _reference(ax, deadline * 1e3, f"T0 = {deadline * 1e3:g} ms", vertical=True)
    ax.set_ylim(0, 1)
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("share of completed requests")
    finish(figure, options)
    return figure


def _topology_section(scenario: Mapping[str, Any], seed: Any) -> str:
    """The topology drawing (an inline PNG), or nothing without a topology."""
    if not scenario.get("topology"):
        return ""
    from coinfer.emulator.scenario.schema import scenario_from_dict
    from coinfer.topologies.build import resolve_topology
    from coinfer.topologies.draw import draw_topology

    data = {k: v for k, v in scenario.items() if k != "cells"}  # the resolved dump has them
    data["devices"] = [
        {k: v for k, v in group.items() if k not in ("cell", "distance_m")}
        for group in scenario.get("devices", [])
    ]
    try:
        resolved = resolve_topology(scenario_from_dict(data), seed)
    except InputError:
        try:
            data.pop("servers", None)  # a topology file: its nodes are the servers
            resolved = resolve_topology(scenario_from_dict(data), seed)
        except InputError as error:
            return f"<h2>Topology</h2><p>Not drawn: {html.escape(str(error))}</p>"
    with tempfile.TemporaryDirectory() as folder:
        path = draw_topology(resolved, Path(folder) / "topology.png")
        drawing = base64.b64encode(path.read_bytes()).decode("ascii")
    return "<h2>Topology</h2>" + _figure_html(drawing, "Devices, access points, servers and links")


# ---- a sweep --------------------------------------------------------------------------------


def sweep_page(directory: Path) -> str:
    """The page of a sweep's folder: every figure its tables can draw, the aggregate."""
    from coinfer.emulator.sweeps.aggregate import collect

    store = SweepStore(directory)
    tables = collect(store)
    plan = tables.plan
    figures = []
    for kind in KINDS:
        try:
            figure = plot(kind, tables, store, PlotOptions())
        except InputError:  # the sweep has no axis or metric for this kind
            continue
        figures.append((_png(figure), f"{kind}"))
    columns = list(plan["columns"])
    configurations = plan.get("configurations") or []
    base = configurations[0]["scenario"] if configurations else {}
    provenance = {
        "folder": str(directory),
        "name": plan.get("name"),
        "seeds": ", ".join(str(s) for s in plan.get("seeds", [])),
        "configurations": len(configurations),
        "varied": ", ".join(columns),
        "runs finished": int((tables.results["status"] == "ok").sum()),
        "runs failed": int((tables.results["status"] == "failed").sum()),
        "runs not run": int((tables.results["status"] == "missing").sum()),
    }
    sections = [
        _figures_section(figures),
        "<h2>Summary (mean ± 95% CI over seeds)</h2>" + _aggregate_table(tables.aggregate, columns),
        _topology_section(base, (plan.get("seeds") or [None])[0]),
        "<h2>Scenario of the first configuration</h2>" + _yaml(base),
        "<h2>Provenance</h2>" + _key_values(provenance.items()),
    ]
    return _page(f"coinfer sweep {plan.get('name', directory.name)}", sections)


def _aggregate_table(aggregate: pd.DataFrame, columns: Sequence[str]) -> str:
    metrics = [m for m in SWEEP_METRICS if f"{m[0]}_mean" in aggregate]
    headers = [*columns, "runs", *(f"{m} ({u})" if u else m for m, _, u in metrics)]
    rows = []
    for _, row in aggregate.iterrows():
        cells = [html.escape(_text(row[c])) for c in columns] + [str(row["runs"])]
        for metric, scale, _ in metrics:
            mean, half = float(row[f"{metric}_mean"]), float(row[f"{metric}_ci95"])
            cells.append(_mean_ci(mean, half, scale))
        rows.append(cells)
    return _table(headers, rows, numeric_from=len(columns))


def _mean_ci(mean: float, half: float, scale: float) -> str:
    if math.isnan(mean):
        return "-"
    text = f"{mean * scale:.4g}"
    return text if math.isnan(half) else f"{text} ± {half * scale:.2g}"


# ---- HTML -----------------------------------------------------------------------------------


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure_html(data: str, caption: str) -> str:
    return (
        f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _figures_section(figures: Iterable[tuple[str, str]]) -> str:
    shown = "".join(_figure_html(data, caption) for data, caption in figures)
    return "<h2>Figures</h2>" + (shown or "<p>No figure: no finished run.</p>")


def _flat(data: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = []
    for key, value in data.items():
        if isinstance(value, Mapping):
            items += _flat(value, f"{prefix}{key}.")
        else:
            items.append((f"{prefix}{key}", value))
    return items


def _text(value: Any) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.6g}"
    return "-" if value is None else str(value)


def _key_values(items: Iterable[tuple[str, Any]]) -> str:
    rows = [[html.escape(str(k)), html.escape(_text(v))] for k, v in items if v is not None]
    return _table(["", "value"], rows, numeric_from=1)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{cell}</td>' if i >= numeric_from else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _yaml(data: Mapping[str, Any]) -> str:
    text = yaml.safe_dump(_plain(data), sort_keys=False, allow_unicode=True)
    return f"<pre>{html.escape(text)}</pre>"


def _plain(value: Any) -> Any:
    """JSON data as YAML can write it (inf and NaN as YAML's .inf and .nan)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _page(title: str, sections: Iterable[str]) -> str:
    body = "\n".join(s for s in sections if s)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>\n{body}\n</body></html>\n"
    )
