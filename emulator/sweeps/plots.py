"""Figures of a sweep, drawn with matplotlib's Agg canvas (no display, no pyplot state).

Every figure is saved as PNG and PDF, uses the Okabe–Ito colour-blind-safe palette and shows
95 % confidence intervals over seeds (Student t, as in the aggregate table). A *series* is a set
of configurations that differ only in the x axis; it is labelled by the policy and by whichever
other varied values tell series apart. Kinds:

* ``cdf``: latency CDF of each configuration (mean latency at each probability level over
  seeds, with its CI as a band), log x, the deadline(s) marked;
* ``load``: p50 and p99 latency and the deadline-met ratio against the offered load;
* ``pareto``: energy per request against latency, each policy's Pareto front drawn;
* ``breakdown``: mean latency split into its parts (device queue and compute, uplink, backhaul
  if the trace has it, server queue and compute, downlink), per configuration or per split;
* ``distortion``: mean distortion bound against a budget (latency T0 or energy E0);
* ``tokens``: TTFT p99, TPOT p99 (the scenario's SLO dashed) and SLO attainment against the
  offered load, for runs with generative requests;
* ``token-energy``: energy per output token (device and server) and the device's share of it
  against the offered load, for runs with generative requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from coinfer.emulator.api.intervals import t_interval
from coinfer.emulator.errors import InputError
from coinfer.emulator.sweeps.aggregate import QUANTILES_COLUMN, SweepResults
from coinfer.emulator.sweeps.metrics import QUANTILE_LEVELS
from coinfer.emulator.sweeps.plan import POLICY_COLUMN, format_value
from coinfer.emulator.sweeps.store import SweepStore
from coinfer.emulator.trace.columns import TRACE
from coinfer.emulator.trace.table import Role

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

KINDS = ("cdf", "load", "pareto", "breakdown", "distortion", "tokens", "token-energy")
#: Okabe & Ito (2008), the colour-blind-safe qualitative palette (black last).
OKABE_ITO = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)
_LINESTYLES = ("-", "--", ":", "-.")
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
#: Last path segments that make an axis the offered load, or a budget.
LOAD_FIELDS = ("rate_per_s", "rate_scale", "interval_s", "count", "requests")
BUDGET_FIELDS = ("deadline_s", "energy_budget_j")
#: Latency parts in the order a request meets them (other parts of the trace's declaration go
#: after, in trace order).
BREAKDOWN_ORDER = (
    "latency_device_queue_s",
    "latency_device_compute_s",
    "latency_uplink_s",
    "latency_backhaul_s",
    "latency_server_queue_s",
    "latency_server_compute_s",
    "latency_downlink_s",
)
LATENCY_STATS = ("mean", "p50", "p95", "p99")
MS = 1e3


@dataclass(frozen=True)
class PlotOptions:
    """What to draw: ``where`` filters configurations (path, value), ``x`` picks the axis of
    ``load`` / ``distortion``, ``by`` groups ``breakdown`` bars (``policy`` or ``split``),
    ``latency`` is the statistic on the Pareto plot's latency axis."""

    where: tuple[tuple[str, Any], ...] = ()
    x: str | None = None
    by: str = "policy"
    latency: str = "mean"


def plot(kind: str, tables: SweepResults, store: SweepStore, options: PlotOptions) -> Figure:
    """The figure of ``kind`` for a sweep's tables (``store`` to read traces if needed)."""
    if kind not in KINDS:
        raise InputError(
            f"got {kind!r}, expected one of {', '.join(KINDS)}",
            argument="kind",
            value=kind,
            expected=f"one of {', '.join(KINDS)}",
        )
    aggregate = _select(tables, options.where)
    if aggregate.empty or not (aggregate["runs"] > 0).any():
        raise InputError(
            f"plot {kind}: no finished run matches; expected at least one (see coinfer summarize)"
        )
    aggregate = aggregate[aggregate["runs"] > 0]
    draw = {
        "cdf": _cdf,
        "load": _load,
        "pareto": _pareto,
        "breakdown": _breakdown,
        "distortion": _distortion,
        "tokens": _tokens,
        "token-energy": _token_energy,
    }[kind]
    return draw(aggregate, tables, store, options)


def save_figure(figure: Figure, stem: Path) -> list[Path]:
    """Write ``stem.png`` (150 dpi) and ``stem.pdf``; return both paths."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    for path in paths:
        figure.savefig(path, dpi=150)
    return paths


# ---- shared pieces ------------------------------------------------------------------------------


def _figure(width: float, height: float, panels: int = 1) -> tuple[Figure, list[Axes]]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, panels, squeeze=False)[0]
    for ax in axes:
        ax.grid(True, color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
    return figure, list(axes)


def _style(colour: int, variant: int = 0) -> dict[str, Any]:
    """Colour by policy, line style and marker by the other varied values."""
    return {
        "color": OKABE_ITO[colour % len(OKABE_ITO)],
        "linestyle": _LINESTYLES[(variant + colour // len(OKABE_ITO)) % len(_LINESTYLES)],
        "marker": _MARKERS[variant % len(_MARKERS)],
    }


@dataclass(frozen=True)
class _Series:
    label: str
    rows: pd.DataFrame
    style: dict[str, Any]


def _select(tables: SweepResults, where: Sequence[tuple[str, Any]]) -> pd.DataFrame:
    aggregate = tables.aggregate
    columns = list(tables.plan["columns"])
    for path, value in where:
        if path not in columns:
            raise InputError(
                f"not a varied value of this sweep; expected one of: {', '.join(columns)}",
                argument="where",
                subject=path,
                path=path,
                expected=f"one of: {', '.join(columns)}",
            )
        aggregate = aggregate[[_equal(v, value) for v in aggregate[path]]]
    return aggregate


def _equal(cell: Any, value: Any) -> bool:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return float(cell) == float(value)
        except (TypeError, ValueError):
            return False
    if isinstance(cell, float) and isinstance(value, str):
        return format_value(cell) == value
    return cell == value or format_value(cell) == format_value(value)


def _series(aggregate: pd.DataFrame, columns: Sequence[str], x: str | None) -> list[_Series]:
    """Configurations grouped by every varied value except ``x``, in sweep order."""
    keys = [c for c in columns if c != x]
    shown = [c for c in keys if aggregate[c].astype(str).nunique() > 1 or c == POLICY_COLUMN]
    groups: dict[tuple[str, ...], list[int]] = {}
    for position, (_, row) in enumerate(aggregate.iterrows()):
        key = tuple(format_value(_plain(row[c])) for c in keys)
        groups.setdefault(key, []).append(position)
    policies = list(dict.fromkeys(aggregate[POLICY_COLUMN]))
    variants: dict[str, int] = {}
    result = []
    for key, positions in groups.items():
        parts = dict(zip(keys, key, strict=True))
        label = ", ".join(
            parts[c] if c == POLICY_COLUMN else f"{_short(c)}={parts[c]}" for c in shown
        )
        policy = aggregate[POLICY_COLUMN].iloc[positions[0]]
        variant = variants[policy] = variants.get(policy, -1) + 1
        style = _style(policies.index(policy), variant)
        result.append(_Series(label, aggregate.iloc[positions], style))
    return result


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def _short(path: str) -> str:
    return path.rsplit(".", 1)[-1] if "." in path else path


def _ci(values: pd.Series) -> np.ndarray:
    return np.nan_to_num(values.to_numpy(dtype=float), nan=0.0)


def _find_axis(columns: Sequence[str], fields: Sequence[str], given: str | None, kind: str) -> str:
    axes = ", ".join(c for c in columns if c != POLICY_COLUMN)
    if given is not None:
        if given not in columns or given == POLICY_COLUMN:
            raise InputError(
                f"not a varied value of this sweep; expected one of: {axes or '(none)'}",
                argument="x",
                subject=given,
                path=given,
                expected=f"one of: {axes}",
            )
        return given
    for column in columns:
        if _short(column) in fields:
            return column
    error = InputError(
        f"not given, and no axis of the sweep ends in {' or '.join(fields)}; expected one of: "
        f"{axes or '(none: vary a field first)'}",
        argument="x",
        expected=f"one of: {axes}",
    )
    raise error.within(f"plot {kind}")


def _numeric(aggregate: pd.DataFrame, column: str) -> np.ndarray:
    try:
        return aggregate[column].to_numpy(dtype=float)
    except (TypeError, ValueError):
        raise InputError(
            "its values are not numbers; expected a numeric axis",
            argument="x",
            subject=column,
            path=column,
            expected="a numeric axis",
        ) from None


def _legend(ax: Axes, entries: int) -> None:
    """A legend inside the axes, or beside them when it is long."""
    if entries > 4:
        ax.legend(fontsize="small", frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    elif entries:
        ax.legend(fontsize="small", frameon=False)


# ---- kinds --------------------------------------------------------------------------------------


def _cdf(
    aggregate: pd.DataFrame, tables: SweepResults, store: SweepStore, options: PlotOptions
) -> Figure:
    series = _series(aggregate, list(tables.plan["columns"]), None)
    figure, (ax,) = _figure(9.0 if len(series) > 4 else 7.0, 4.5)
    results = tables.results
    levels = np.asarray(QUANTILE_LEVELS)
    curves = []
    for item in series:
        config = item.rows["config_id"].iloc[0]
        ok = results[(results["config_id"] == config) & (results["status"] == "ok")]
        sketches = [np.asarray(q, dtype=float) for q in ok[QUANTILES_COLUMN] if q is not None]
        if not sketches:
            continue
        stack = np.vstack(sketches) * MS
        bands = np.array([t_interval(stack[:, j])[:2] for j in range(stack.shape[1])])
        mean, half = bands[:, 0], np.nan_to_num(bands[:, 1], nan=0.0)
        keep = np.isfinite(mean) & (mean > 0)
        if keep.any():
            curves.append((item, len(sketches), mean, half, keep))
    if not curves:
        raise InputError("plot cdf: no completed request in the selected runs")
    low_x = min(float(mean[keep].min()) for _, _, mean, _, keep in curves) / 1.5
    high_x = max(float(mean[keep].max()) for _, _, mean, _, keep in curves) * 1.5
    for item, n, mean, half, keep in curves:
        style = item.style
        ax.plot(
            mean[keep],
            levels[keep],
            color=style["color"],
            linestyle=style["linestyle"],
            label=f"{item.label} (n={n})",
        )
        low = np.maximum(mean - half, low_x)  # the band may run off the (log) axis
        ax.fill_betweenx(
            levels[keep], low[keep], (mean + half)[keep], color=style["color"], alpha=0.15
        )
    deadlines = _deadlines(tables.plan, set(aggregate["config_id"]))
    for number, deadline in enumerate(deadlines):
        ax.axvline(
            deadline * MS,
            color="#000000",
            linestyle="--",
            linewidth=1.0,
            label=f"deadline {deadline * MS:g} ms" if number < 4 else None,
        )
        high_x = max(high_x, deadline * MS * 1.5)
    ax.set_xscale("log")
    ax.set_xlim(low_x, high_x)
    ax.set_ylim(0, 1)
    ax.set_xlabel("latency (ms, log scale)")
    ax.set_ylabel("fraction of completed requests")
    ax.set_title("Latency CDF (mean over seeds; band: 95% CI)")
    _legend(ax, len(curves) + min(len(deadlines), 4))
    return figure


def _deadlines(plan: dict[str, Any], configs: set[str]) -> list[float]:
    found = set()
    for config in plan["configurations"]:
        if config["config_id"] in configs:
            for group in config["scenario"].get("devices", []):
                value = group.get("deadline_s")
                if isinstance(value, int | float) and np.isfinite(value):
                    found.add(float(value))
    return sorted(found)


def _load(
    aggregate: pd.DataFrame, tables: SweepResults, store: SweepStore, options: PlotOptions
) -> Figure:
    columns = list(tables.plan["columns"])
    axis = _find_axis(columns, LOAD_FIELDS, options.x, "load")
    measured = options.x is None
    figure, axes = _figure(13.0, 4.2, panels=3)
    panels = (
        ("latency_p50_s", MS, "p50 latency (ms)"),
        ("latency_p99_s", MS, "p99 latency (ms)"),
        ("deadline_met_ratio", 1.0, "deadline met (fraction of requests)"),
    )
    series = _series(aggregate, columns, axis)
    for item in series:
        rows = item.rows
        x = rows["offered_rate_per_s_mean"].to_numpy(float) if measured else _numeric(rows, axis)
        order = np.argsort(x)
        for ax, (metric, scale, _) in zip(axes, panels, strict=True):
            ax.errorbar(
                x[order],
                rows[f"{metric}_mean"].to_numpy(float)[order] * scale,
                yerr=_ci(rows[f"{metric}_ci95"])[order] * scale,
                capsize=3,
                label=item.label,
                **item.style,
            )
    for ax, (metric, _, ylabel) in zip(axes, panels, strict=True):
        ax.set_xlabel("offered load (requests/s)" if measured else axis)
        ax.set_ylabel(ylabel)
        if metric.startswith("latency"):
            ax.set_yscale("log")
    axes[2].set_ylim(-0.02, 1.02)
    _legend(axes[2], len(series))
    figure.suptitle("Latency and deadlines against load (error bars: 95% CI over seeds)")
    return figure


def _pareto(
    aggregate: pd.DataFrame, tables: SweepResults, store: SweepStore, options: PlotOptions
) -> Figure:
    if options.latency not in LATENCY_STATS:
        raise InputError(
            f"got {options.latency!r}, expected one of {', '.join(LATENCY_STATS)}",
            argument="latency",
            value=options.latency,
            expected=f"one of {', '.join(LATENCY_STATS)}",
        )
    metric = f"latency_{options.latency}_s"
    figure, (ax,) = _figure(7.0, 4.8)
    policies = list(dict.fromkeys(aggregate[POLICY_COLUMN]))
    for index, policy in enumerate(policies):
        rows = aggregate[aggregate[POLICY_COLUMN] == policy]
        x = rows[f"{metric}_mean"].to_numpy(float) * MS
        y = rows["energy_per_request_j_mean"].to_numpy(float) * MS
        style = _style(index)
        ax.errorbar(
            x,
            y,
            xerr=_ci(rows[f"{metric}_ci95"]) * MS,
            yerr=_ci(rows["energy_per_request_j_ci95"]) * MS,
            color=style["color"],
            marker=style["marker"],
            linestyle="none",
            capsize=3,
            label=str(policy),
        )
        front = pareto_front(x, y)
        if len(front) > 1:
            ax.step(
                x[front], y[front], where="post", color=style["color"], linewidth=1.2, alpha=0.8
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"{options.latency} latency (ms)")
    ax.set_ylabel("energy per request (mJ)")
    ax.set_title("Energy–latency trade-off; lines: each policy's Pareto front (95% CI bars)")
    _legend(ax, len(policies))
    return figure


def pareto_front(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices of the points no other point beats on both (lower is better), by increasing x."""
    finite = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    order = finite[np.lexsort((y[finite], x[finite]))]
    front: list[int] = []
    best = np.inf
    for i in order:
        if y[i] < best:
            front.append(int(i))
            best = y[i]
    return np.asarray(front, dtype=int)


def _parts(names: Sequence[str]) -> list[str]:
    """The latency parts whose ``breakdown.`` metric is among ``names``, in display order."""
    present = set(names)
    found = [n for n in TRACE.names_with(Role.LATENCY_PART) if f"breakdown.{n}" in present]
    ordered = [n for n in BREAKDOWN_ORDER if n in found]
    return ordered + [n for n in found if n not in ordered]


def _breakdown(
    aggregate: pd.DataFrame, tables: SweepResults, store: SweepStore, options: PlotOptions
) -> Figure:
    if options.by not in ("policy", "split"):
        raise InputError(
            f"got {options.by!r}, expected policy or split",
            argument="by",
            value=options.by,
            expected="policy or split",
        )
    parts = _parts([c.removesuffix("_mean") for c in aggregate.columns if c.endswith("_mean")])
    if options.by == "split":
        labels, means, totals, halves = _split_breakdown(aggregate, tables, store, parts)
    else:
        series = _series(aggregate, list(tables.plan["columns"]), None)
        labels = [item.label for item in series]
        rows = pd.concat([item.rows for item in series])
        means = np.array([rows[f"breakdown.{p}_mean"].to_numpy(float) for p in parts]).T
        totals = rows["latency_mean_s_mean"].to_numpy(float)
        halves = _ci(rows["latency_mean_s_ci95"])
    width = max(6.0, 0.7 * len(labels) + 3.0)
    figure, (ax,) = _figure(width, 4.8)
    positions = np.arange(len(labels))
    bottom = np.zeros(len(labels))
    for index, part in enumerate(parts):
        values = np.nan_to_num(means[:, index], nan=0.0) * MS
        name = part.removeprefix("latency_").removesuffix("_s").replace("_", " ")
        ax.bar(positions, values, bottom=bottom, color=_style(index)["color"], label=name)
        bottom += values
    ax.errorbar(
        positions,
        totals * MS,
        yerr=np.vstack([np.minimum(halves, totals), halves]) * MS,  # latency is never < 0
        fmt="none",
        color="#000000",
        ecolor="#000000",
        capsize=4,
        label="total, 95% CI",
    )
    ax.set_xticks(positions, labels, rotation=30, ha="right", fontsize="small")
    ax.set_ylabel("mean latency of completed requests (ms)")
    ax.set_title(f"Latency breakdown per {options.by}")
    ax.legend(fontsize="small", frameon=False, ncols=2)
    return figure


def _split_breakdown(
    aggregate: pd.DataFrame, tables: SweepResults, store: SweepStore, parts: list[str]
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Per (policy, split): mean parts over runs of each run's per-split means; CI of totals."""
    import pyarrow.parquet as pq

    results = tables.results
    configs = dict(zip(aggregate["config_id"], aggregate[POLICY_COLUMN], strict=True))
    per_key: dict[tuple[str, int], list[np.ndarray]] = {}
    ok = results[results["config_id"].isin(configs) & (results["status"] == "ok")]
    for run_id, config in zip(ok["run_id"], ok["config_id"], strict=True):
        path = store.run_dir(run_id) / "trace.parquet"
        if not path.is_file():
            continue
        present = [p for p in parts if p in pq.read_schema(path).names]
        trace = pq.read_table(path, columns=["warmup", "status", "split", *present]).to_pandas()
        done = trace[~trace["warmup"].astype(bool) & (trace["status"].astype(str) == "completed")]
        for split, group in done.groupby("split"):
            row = np.array([group[p].mean() if p in present else 0.0 for p in parts])
            per_key.setdefault((str(configs[config]), int(split)), []).append(row)
    if not per_key:
        raise InputError("plot breakdown by split: no trace of a finished run to read")
    keys = sorted(per_key, key=lambda k: (list(configs.values()).index(k[0]), k[1]))
    labels = [f"{policy} · split {split}" for policy, split in keys]
    means = np.array([np.mean(per_key[k], axis=0) for k in keys])
    totals, halves = [], []
    for key in keys:
        mean, half, _ = t_interval(np.sum(per_key[key], axis=1))
        totals.append(mean)
        halves.append(0.0 if np.isnan(half) else half)
    return labels, means, np.asarray(totals), np.asarray(halves)


def _distortion(
    aggregate: pd.DataFrame, tables: SweepResults, store: SweepStore, options: PlotOptions
) -> Figure:
    columns = list(tables.plan["columns"])
    axis = _find_axis(columns, BUDGET_FIELDS, options.x, "distortion")
    figure, (ax,) = _figure(7.0, 4.5)
    series = _series(aggregate, columns, axis)
    values = []
    for item in series:
        rows = item.rows
        x = _numeric(rows, axis)
        y = rows["distortion_mean_mean"].to_numpy(float)
        order = np.argsort(x)
        ax.errorbar(
            x[order],
            y[order],
            yerr=_ci(rows["distortion_mean_ci95"])[order],
            capsize=3,
            label=item.label,
            **item.style,
        )
        values.extend(y[np.isfinite(y)])
    positive = [v for v in values if v > 0]
    if positive and len(positive) == len(values) and max(positive) > 100 * min(positive):
        ax.set_yscale("log")
    names = {"deadline_s": "latency budget T0 (s)", "energy_budget_j": "energy budget E0 (J)"}
    ax.set_xlabel(names.get(_short(axis), axis))
    ax.set_ylabel("mean distortion bound D̂")
    ax.set_title("Distortion against budget (error bars: 95% CI over seeds)")
    _legend(ax, len(series))
    return figure


# ---- generative requests ------------------------------------------------------------------------

_SLO_LABEL = "SLO"
#: How far apart the smallest and largest plotted mean must be (ratio) for a log axis.
_LOG_SPAN = 20.0


@dataclass(frozen=True)
class _Panel:
    """One panel of a figure against load: a metric (its aggregate name without ``_mean``),
    the factor to its unit, the y label, the dashed reference(s) in that unit, and whether the
    metric is a fraction (linear axis from 0 to 1)."""

    metric: str
    scale: float
    ylabel: str
    references: tuple[float, ...] = ()
    fraction: bool = False


def _generative_rows(aggregate: pd.DataFrame, kind: str) -> None:
    if "generative.requests_mean" not in aggregate:
        raise InputError(
            f"plot {kind}: the runs have no generative request (no generative.* metric); "
            "expected a sweep of a scenario whose devices declare tokens (docs/generative.md)"
        )


def _slos(plan: dict[str, Any], configs: set[str]) -> tuple[list[float], list[float]]:
    """The distinct finite TTFT and TPOT objectives (s) of the selected configurations."""
    ttft: set[float] = set()
    tpot: set[float] = set()
    for config in plan["configurations"]:
        if config["config_id"] in configs:
            slo = config["scenario"].get("slo") or {}
            for found, key in ((ttft, "ttft_s"), (tpot, "tpot_s")):
                value = slo.get(key)
                if isinstance(value, int | float) and np.isfinite(value):
                    found.add(float(value))
    return sorted(ttft), sorted(tpot)


def _against_load(
    aggregate: pd.DataFrame,
    tables: SweepResults,
    options: PlotOptions,
    kind: str,
    panels: Sequence[_Panel],
    width: float,
) -> Figure:
    """One panel per metric against the load (the measured offered rate, or ``options.x``),
    one curve per series with its 95 % CI as error bars clipped to the axis' domain (above a
    log axis' floor, inside [0, 1] for a fraction), the references dashed, one legend below."""
    columns = list(tables.plan["columns"])
    axis = _find_axis(columns, LOAD_FIELDS, options.x, kind)
    measured = options.x is None
    series = _series(aggregate, columns, axis)
    figure, axes = _figure(width, 4.0, panels=len(panels))
    handles: dict[str, Any] = {}
    for ax, panel in zip(axes, panels, strict=True):
        curves = []
        for item in series:
            rows = item.rows
            x = (
                rows["offered_rate_per_s_mean"].to_numpy(float)
                if measured
                else _numeric(rows, axis)
            )
            y = rows[f"{panel.metric}_mean"].to_numpy(float) * panel.scale
            half = _ci(rows[f"{panel.metric}_ci95"]) * panel.scale
            keep = np.isfinite(x) & np.isfinite(y)
            order = np.argsort(x[keep])
            curves.append((item, x[keep][order], y[keep][order], half[keep][order]))
        means = np.concatenate([y for _, _, y, _ in curves]) if curves else np.array([])
        if panel.fraction:
            low, high, log = 0.0, 1.0, False
        else:
            positive = means[means > 0]
            log = bool(len(positive)) and positive.max() > _LOG_SPAN * positive.min()
            if len(positive) == 0:
                low, high = 0.0, 1.0
            elif log:
                low = min([positive.min(), *panel.references]) / 2.0
                high = max([positive.max(), *panel.references]) * 2.0
            else:
                low = 0.0
                high = max([positive.max(), *panel.references]) * 1.15
        for index, (item, x, y, half) in enumerate(curves):
            if not len(y):
                continue
            lower = np.minimum(half, np.maximum(y - low, 0.0))  # never below the axis' floor
            upper = np.minimum(half, np.maximum(high - y, 0.0)) if panel.fraction else half
            style = {**item.style, "marker": _MARKERS[index % len(_MARKERS)]}  # told apart
            drawn = ax.errorbar(
                x, y, yerr=np.vstack([lower, upper]), capsize=3, label=item.label, **style
            )
            handles.setdefault(item.label, drawn)
        for value in panel.references:
            reference = ax.axhline(value, color="#000000", linestyle="--", linewidth=1.0)
            handles.setdefault(_SLO_LABEL, reference)
        if log:
            ax.set_yscale("log")
        if panel.fraction:
            ax.set_ylim(-0.02, 1.02)
        else:
            tops = [float(np.max(y + h)) for _, _, y, h in curves if len(y)]
            ax.set_ylim(low, max([high, *(t * (1.3 if log else 1.05) for t in tops)]))
        ax.set_xlabel("offered load (requests/s)" if measured else axis)
        ax.set_ylabel(panel.ylabel)
        _log_x_if_wide(ax, np.concatenate([x for _, x, _, _ in curves]) if curves else [])
    if handles:
        labels = [
            label for label in [*(item.label for item in series), _SLO_LABEL] if label in handles
        ]
        figure.legend(
            [handles[label] for label in labels],
            labels,
            loc="outside lower center",
            ncols=min(len(labels), 5),
            frameon=False,
            fontsize="small",
        )
    return figure


def _log_x_if_wide(ax: Axes, x: Any) -> None:
    """A log x axis, ticks at 1, 2 and 5 per decade written plainly, when the positive x values
    span at least :data:`_LOG_SPAN` / 2 (loads from light to overload often do)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    values = np.asarray(x, dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    if not len(values) or values.max() < _LOG_SPAN / 2 * values.min():
        return
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _tokens(
    aggregate: pd.DataFrame, tables: SweepResults, store: SweepStore, options: PlotOptions
) -> Figure:
    _generative_rows(aggregate, "tokens")
    ttft, tpot = _slos(tables.plan, set(aggregate["config_id"]))
    panels = [
        _Panel("generative.ttft_p99_s", 1.0, "TTFT p99 (s)", tuple(ttft)),
        _Panel("generative.tpot_p99_s", MS, "TPOT p99 (ms)", tuple(v * MS for v in tpot)),
    ]
    if ttft or tpot:
        panels.append(
            _Panel("generative.slo_attainment", 1.0, "SLO attainment (share of requests)", (), True)
        )
    return _against_load(aggregate, tables, options, "tokens", panels, 4.3 * len(panels))


def _token_energy(
    aggregate: pd.DataFrame, tables: SweepResults, store: SweepStore, options: PlotOptions
) -> Figure:
    _generative_rows(aggregate, "token-energy")
    panels = [
        _Panel("generative.energy_per_token_j", 1.0, "energy per output token (J)"),
        _Panel("generative.device_energy_per_token_j", MS, "device energy per output token (mJ)"),
    ]
    return _against_load(aggregate, tables, options, "token-energy", panels, 9.0)
