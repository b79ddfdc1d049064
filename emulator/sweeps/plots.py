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
  against the offered load, for runs with generative requests;
* ``timeline``: queue lengths, active uploads and server utilisation over simulated time, of one
  run (:mod:`coinfer.emulator.sweeps.timeline`).

Every figure follows the same rules, whatever its kind: no title unless one is asked for, the
legend outside the data (below the axes by default), tick labels of a log axis written as values
(1, 2, 5 per decade when it spans few decades), each CI clipped to its axis' domain (a share in
[0, 1], a log axis never below its floor), the budget (T0, E0) as a dashed reference line on the
latency and energy axes, and curves that coincide drawn hollow and named in the legend
(``B (= A)``). :data:`STYLES` are size presets: ``ieee-1col`` (3.5 in wide) and ``ieee-2col``
(7.16 in), 8 pt text; every PDF embeds its fonts (TrueType, ``pdf.fonttype`` 42).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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

KINDS = (
    "cdf",
    "load",
    "pareto",
    "breakdown",
    "distortion",
    "tokens",
    "token-energy",
    "timeline",
)
#: Size presets: the figure's width (in; None: each kind's own) and its matplotlib settings.
STYLES: dict[str, tuple[float | None, dict[str, Any]]] = {
    "default": (None, {}),
    "ieee-1col": (3.5, {}),
    "ieee-2col": (7.16, {}),
}
_PAPER_RC: dict[str, Any] = {
    "font.size": 8,
    "axes.labelsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "figure.titlesize": 9,
    "lines.linewidth": 1.0,
    "lines.markersize": 3.5,
    "errorbar.capsize": 2,
}
_SCREEN_RC: dict[str, Any] = {"legend.fontsize": "small"}
#: Every PDF embeds its fonts as TrueType (journals refuse Type 3 fonts).
_SAVE_RC = {"pdf.fonttype": 42, "ps.fonttype": 42}
#: Where the legend goes: below the axes, right of them (both outside the data), inside the
#: axes where it hides least (matplotlib's "best"), or nowhere.
LEGENDS = ("below", "right", "inside", "none")
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
    #: a size preset of :data:`STYLES`
    style: str = "default"
    #: the figure's title (None: no title, as a paper's figure has its caption instead)
    title: str | None = None
    #: where the legend goes, one of :data:`LEGENDS`
    legend: str = "below"
    #: (shown text, replacement): renames a legend entry, a part of one (``joint`` in
    #: ``joint, rate_per_s=2``) or an axis label
    labels: tuple[tuple[str, str], ...] = ()


def plot(kind: str, tables: SweepResults, store: SweepStore, options: PlotOptions) -> Figure:
    """The figure of ``kind`` for a sweep's tables (``store`` to read traces if needed)."""
    _choice(kind, KINDS, "kind")
    _choice(options.style, tuple(STYLES), "style")
    _choice(options.legend, LEGENDS, "legend")
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
        "timeline": _timeline,
    }[kind]
    with styled(options):
        figure = draw(aggregate, tables, store, options)
        finish(figure, options)
    return figure


def _choice(value: str, choices: Sequence[str], argument: str) -> None:
    if value not in choices:
        raise InputError(
            f"got {value!r}, expected one of {', '.join(choices)}",
            argument=argument,
            value=value,
            expected=f"one of {', '.join(choices)}",
        )


def styled(options: PlotOptions) -> Any:
    """A context in which new figures take the style preset's fonts and line widths."""
    import matplotlib

    _choice(options.style, tuple(STYLES), "style")
    rc: Any = _PAPER_RC if options.style != "default" else _SCREEN_RC
    return matplotlib.rc_context(rc)


def save_figure(figure: Figure, stem: Path) -> list[Path]:
    """Write ``stem.png`` (300 dpi) and ``stem.pdf`` (fonts embedded); return both paths."""
    import matplotlib

    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    rc: Any = _SAVE_RC
    with matplotlib.rc_context(rc):
        for path in paths:
            figure.savefig(path, dpi=300)
    return paths


def finish(figure: Figure, options: PlotOptions) -> None:
    """What every kind gets last: log tick labels as values, the legend where asked, the
    labels renamed, the title if one was given."""
    for ax in figure.axes:
        for axis, scale in ((ax.xaxis, ax.get_xscale()), (ax.yaxis, ax.get_yscale())):
            if scale == "log":
                readable_log_ticks(axis)
    _place_legend(figure, options.legend)
    _relabel(figure, dict(options.labels))
    if options.title:
        figure.suptitle(options.title)


def readable_log_ticks(axis: Any) -> None:
    """Tick labels of a log axis as plain values: every 1, 2 and 5 when the axis spans at most
    three decades (every digit under half a decade), else every decade; never ``10^k`` only."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    low, high = sorted(axis.get_view_interval())
    decades = np.log10(high / low) if low > 0 and high > 0 else np.inf
    if decades <= 0.5:
        subs: tuple[float, ...] = tuple(range(1, 10))
    elif decades <= 3:
        subs = (1.0, 2.0, 5.0)
    else:
        subs = (1.0,)
    axis.set_major_locator(LogLocator(subs=subs))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(NullFormatter())


_REF = "reference"  # the gid of a reference line (a budget, an objective): last in the legend


def _legend_entries(figure: Figure) -> tuple[list[Any], list[str]]:
    """Every labelled artist of every panel, each label once, in drawing order, the
    references last."""
    handles: dict[str, Any] = {}
    for ax in figure.axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    order = sorted(handles, key=lambda label: getattr(handles[label], "get_gid", str)() == _REF)
    return [handles[label] for label in order], order


def _place_legend(figure: Figure, where: str) -> None:
    handles, labels = _legend_entries(figure)
    for shown in [*figure.legends, *(ax.get_legend() for ax in figure.axes)]:
        if shown is not None:
            shown.remove()
    if not labels or where == "none":
        return
    if where == "inside":
        figure.axes[0].legend(handles, labels, loc="best")
        return
    width = figure.get_figwidth()
    if where == "right":
        figure.legend(handles, labels, loc="outside right upper", frameon=False)
        return
    longest = max(len(label) for label in labels)
    columns = max(1, min(len(labels), int(width * 13 / (longest + 4))))
    figure.legend(
        handles,
        labels,
        loc="outside lower center",
        ncols=columns,
        frameon=False,
    )


def _relabel(figure: Figure, names: dict[str, str]) -> None:
    """Rename legend entries (whole, or each ``, ``-separated part) and axis labels; a name
    that matches nothing is refused, naming what there is."""
    if not names:
        return
    used: set[str] = set()

    def renamed(text: str) -> str:
        if text in names:
            used.add(text)
            return names[text]
        parts = text.split(", ")
        for index, part in enumerate(parts):
            key = part.split(" (")[0]
            if key in names:
                used.add(key)
                parts[index] = names[key] + part[len(key) :]
        note = text.rsplit(" (= ", 1)
        if len(note) == 2 and note[1].rstrip(")") in names:
            used.add(note[1].rstrip(")"))
            return renamed(note[0]) + f" (= {names[note[1].rstrip(')')]})"
        return ", ".join(parts)

    shown: list[str] = []
    legends = [*figure.legends, *(ax.get_legend() for ax in figure.axes)]
    for legend in legends:
        if legend is not None:
            for text in legend.get_texts():
                shown.append(text.get_text())
                text.set_text(renamed(text.get_text()))
    for ax in figure.axes:
        for get, set_ in ((ax.get_xlabel, ax.set_xlabel), (ax.get_ylabel, ax.set_ylabel)):
            if get():
                shown.append(get())
                set_(renamed(get()))
    unknown = [key for key in names if key not in used]
    if unknown:
        raise InputError(
            "matches no legend entry or axis label of this figure; expected one of: "
            + "; ".join(dict.fromkeys(shown)),
            argument="label",
            subject=unknown[0],
            expected="a legend entry or axis label",
        )


# ---- shared pieces ------------------------------------------------------------------------------


def _figure(
    options: PlotOptions, width: float, height: float, panels: int = 1
) -> tuple[Figure, list[Axes]]:
    """A figure of ``panels`` panels side by side, ``width`` × ``height`` in; in a style preset
    the preset's width (a one-column figure stacks its panels)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    preset, _ = STYLES[options.style]
    rows, columns = 1, panels
    if preset is not None:
        if preset < 5 and panels > 1:
            rows, columns = panels, 1
            height = 1.7 * panels + 0.7
        else:
            height = min(height * preset / width, 2.8) + 0.5
        width = preset
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
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


def coincident(curves: Sequence[tuple[np.ndarray, np.ndarray]]) -> dict[int, int]:
    """For each curve ``(x, y)`` that another drawn before it hides (same points, to 1e-9
    relative), the index of the first such curve."""
    same: dict[int, int] = {}
    for later, (x, y) in enumerate(curves):
        for earlier in range(later):
            ex, ey = curves[earlier]
            if (
                len(x)
                and x.shape == ex.shape
                and np.allclose(x, ex, rtol=1e-9, atol=0.0)
                and np.allclose(y, ey, rtol=1e-9, atol=0.0, equal_nan=True)
            ):
                same[later] = same.get(earlier, earlier)
                break
    return same


def _hollow(style: dict[str, Any]) -> dict[str, Any]:
    """The style of a curve drawn over an identical one: hollow, larger markers."""
    import matplotlib

    size = float(style.get("markersize", matplotlib.rcParams["lines.markersize"]))
    return {**style, "markerfacecolor": "none", "markersize": size * 1.8, "markeredgewidth": 1.2}


def _bounded(y: np.ndarray, half: np.ndarray, low: float, high: float = np.inf) -> np.ndarray:
    """Asymmetric error bars ``[below, above]`` of ``y ± half`` clipped to ``[low, high]``."""
    half = np.nan_to_num(half, nan=0.0)
    below = np.minimum(half, np.maximum(y - low, 0.0))
    above = np.minimum(half, np.maximum(high - y, 0.0))
    return np.vstack([below, above])


def _log_floor(values: np.ndarray, references: Sequence[float] = ()) -> tuple[float, float]:
    """The limits of a log axis showing the positive ``values`` and references."""
    positive = [float(v) for v in np.ravel(values) if np.isfinite(v) and v > 0]
    positive += [float(r) for r in references if np.isfinite(r) and r > 0]
    if not positive:
        return 0.1, 10.0
    return min(positive) / 2.0, max(positive) * 2.0


def _budgets(plan: dict[str, Any], configs: set[str], field: str) -> list[float]:
    """The distinct finite values of the device groups' ``field`` (``deadline_s``,
    ``energy_budget_j``) among the selected configurations."""
    found = set()
    for config in plan["configurations"]:
        if config["config_id"] in configs:
            for group in config["scenario"].get("devices", []):
                value = group.get(field)
                if isinstance(value, int | float) and np.isfinite(value):
                    found.add(float(value))
    return sorted(found)


def _deadlines(plan: dict[str, Any], configs: set[str]) -> list[float]:
    return _budgets(plan, configs, "deadline_s")


def _deadlines_of_scenario(scenario: Mapping[str, Any]) -> list[float]:
    """The distinct finite deadlines (s) of a resolved scenario's device groups."""
    plan = {"configurations": [{"config_id": "", "scenario": scenario}]}
    return _budgets(plan, {""}, "deadline_s")


def _reference(ax: Axes, value: float, label: str, vertical: bool = False) -> None:
    """A budget or objective as a dashed black line across the panel."""
    line = ax.axvline if vertical else ax.axhline
    line(value, color="#000000", linestyle="--", linewidth=1.0, label=label, zorder=1.5, gid=_REF)


def _budget_label(name: str, values: Sequence[float], scale: float, unit: str) -> list[str]:
    return [f"{name} = {v * scale:g} {unit}" for v in values]


# ---- kinds --------------------------------------------------------------------------------------


def _cdf(
    aggregate: pd.DataFrame, tables: SweepResults, store: SweepStore, options: PlotOptions
) -> Figure:
    series = _series(aggregate, list(tables.plan["columns"]), None)
    figure, (ax,) = _figure(options, 7.0, 4.5)
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
    deadlines = _deadlines(tables.plan, set(aggregate["config_id"]))
    low_x = min(float(mean[keep].min()) for _, _, mean, _, keep in curves) / 1.5
    high_x = max(float(mean[keep].max()) for _, _, mean, _, keep in curves) * 1.5
    high_x = max([high_x, *(d * MS * 1.5 for d in deadlines[:4])])
    same = coincident([(levels[keep], mean[keep]) for _, _, mean, _, keep in curves])
    for index, (item, n, mean, half, keep) in enumerate(curves):
        style = item.style
        label = f"{item.label} (n={n})"
        if index in same:
            label += f" (= {curves[same[index]][0].label})"
        ax.plot(
            mean[keep],
            levels[keep],
            color=style["color"],
            linestyle=":" if index in same else style["linestyle"],
            linewidth=2.5 if index in same else None,
            label=label,
        )
        low = np.maximum(mean - half, low_x)  # the band stays on the (log) axis
        high = np.minimum(mean + half, high_x)
        ax.fill_betweenx(levels[keep], low[keep], high[keep], color=style["color"], alpha=0.15)
    for deadline, label in zip(
        deadlines[:4], _budget_label("T0", deadlines, MS, "ms"), strict=False
    ):
        _reference(ax, deadline * MS, label, vertical=True)
    ax.set_xscale("log")
    ax.set_xlim(low_x, high_x)
    ax.set_ylim(0, 1)
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("share of completed requests")
    return figure


def _load(
    aggregate: pd.DataFrame, tables: SweepResults, store: SweepStore, options: PlotOptions
) -> Figure:
    deadlines = tuple(d * MS for d in _deadlines(tables.plan, set(aggregate["config_id"])))
    panels = [
        _Panel("latency_p50_s", MS, "p50 latency (ms)", deadlines, reference="T0"),
        _Panel("latency_p99_s", MS, "p99 latency (ms)", deadlines, reference="T0"),
    ]
    met = aggregate.get("deadline_met_ratio_mean")
    if met is not None and met.notna().any():  # no panel when no run has a deadline
        panels.append(
            _Panel("deadline_met_ratio", 1.0, "deadline met (share of requests)", (), True)
        )
    return _against_load(aggregate, tables, options, "load", panels, 12.0, log_latency=True)


def _pareto(
    aggregate: pd.DataFrame, tables: SweepResults, store: SweepStore, options: PlotOptions
) -> Figure:
    _choice(options.latency, LATENCY_STATS, "latency")
    metric = f"latency_{options.latency}_s"
    figure, (ax,) = _figure(options, 7.0, 4.8)
    configs = set(aggregate["config_id"])
    deadlines = [d * MS for d in _deadlines(tables.plan, configs)]
    budgets = [e * MS for e in _budgets(tables.plan, configs, "energy_budget_j")]
    policies = list(dict.fromkeys(aggregate[POLICY_COLUMN]))
    points = []
    for policy in policies:
        rows = aggregate[aggregate[POLICY_COLUMN] == policy]
        points.append(
            (
                rows[f"{metric}_mean"].to_numpy(float) * MS,
                rows["energy_per_request_j_mean"].to_numpy(float) * MS,
                _ci(rows[f"{metric}_ci95"]) * MS,
                _ci(rows["energy_per_request_j_ci95"]) * MS,
            )
        )
    low_x, high_x = _log_floor(np.concatenate([x for x, *_ in points]), deadlines)
    low_y, high_y = _log_floor(np.concatenate([y for _, y, *_ in points]), budgets)
    same = coincident([(x, y) for x, y, *_ in points])
    for index, (policy, (x, y, x_half, y_half)) in enumerate(zip(policies, points, strict=True)):
        style = _style(index)
        marker_style = {"color": style["color"], "marker": style["marker"]}
        label = str(policy)
        if index in same:
            marker_style = _hollow(marker_style)
            label += f" (= {policies[same[index]]})"
        ax.errorbar(
            x,
            y,
            xerr=_bounded(x, x_half, low_x, high_x),
            yerr=_bounded(y, y_half, low_y, high_y),
            linestyle="none",
            capsize=3,
            label=label,
            **marker_style,
        )
        front = pareto_front(x, y)
        if len(front) > 1:
            ax.step(
                x[front], y[front], where="post", color=style["color"], linewidth=1.2, alpha=0.8
            )
    for value, label in zip(deadlines[:4], _budget_label("T0", deadlines, 1, "ms"), strict=False):
        _reference(ax, value, label, vertical=True)
    for value, label in zip(budgets[:4], _budget_label("E0", budgets, 1, "mJ"), strict=False):
        ax.axhline(value, color="#000000", linestyle=":", linewidth=1.0, label=label, gid=_REF)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(low_x, high_x)
    ax.set_ylim(low_y, high_y)
    ax.set_xlabel(f"{options.latency} latency (ms)")
    ax.set_ylabel("energy per request (mJ)")
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
    _choice(options.by, ("policy", "split"), "by")
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
    figure, (ax,) = _figure(options, width, 4.8)
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
        yerr=_bounded(totals, halves, 0.0) * MS,  # latency is never < 0
        fmt="none",
        color="#000000",
        ecolor="#000000",
        capsize=4,
        label="total, 95% CI",
    )
    deadlines = _deadlines(tables.plan, set(aggregate["config_id"]))
    for value, label in zip(deadlines[:4], _budget_label("T0", deadlines, MS, "ms"), strict=False):
        _reference(ax, value * MS, label)
    ax.set_xticks(positions, labels, rotation=30, ha="right")
    ax.set_ylabel("mean latency of completed requests (ms)")
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
    figure, (ax,) = _figure(options, 7.0, 4.5)
    series = _series(aggregate, columns, axis)
    curves = []
    for item in series:
        rows = item.rows
        x = _numeric(rows, axis)
        order = np.argsort(x)
        y = rows["distortion_mean_mean"].to_numpy(float)[order]
        curves.append((item, x[order], y, _ci(rows["distortion_mean_ci95"])[order]))
    values = np.concatenate([y[np.isfinite(y)] for _, _, y, _ in curves])
    positive = values[values > 0]
    log = bool(len(positive)) and len(positive) == len(values)
    log = log and positive.max() > 100 * positive.min()
    low, high = _log_floor(values) if log else (0.0, np.inf)
    same = coincident([(x, y) for _, x, y, _ in curves])
    for index, (item, x, y, half) in enumerate(curves):
        style, label = item.style, item.label
        if index in same:
            style, label = _hollow(style), f"{label} (= {curves[same[index]][0].label})"
        ax.errorbar(x, y, yerr=_bounded(y, half, low, high), capsize=3, label=label, **style)
    if log:
        ax.set_yscale("log")
        ax.set_ylim(low, high)
    else:
        ax.set_ylim(bottom=0.0)
    names = {"deadline_s": "latency budget T0 (s)", "energy_budget_j": "energy budget E0 (J)"}
    ax.set_xlabel(names.get(_short(axis), axis))
    ax.set_ylabel("mean distortion bound D̂")
    return figure


# ---- generative requests ------------------------------------------------------------------------

#: How far apart the smallest and largest plotted mean must be (ratio) for a log axis.
_LOG_SPAN = 20.0


@dataclass(frozen=True)
class _Panel:
    """One panel of a figure against load: a metric (its aggregate name without ``_mean``),
    the factor to its unit, the y label, the dashed reference(s) in that unit and their name in
    the legend, and whether the metric is a fraction (linear axis from 0 to 1)."""

    metric: str
    scale: float
    ylabel: str
    references: tuple[float, ...] = ()
    fraction: bool = False
    reference: str = "SLO"


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
    log_latency: bool = False,
) -> Figure:
    """One panel per metric against the load (the measured offered rate, or ``options.x``),
    one curve per series with its 95 % CI as error bars clipped to the axis' domain (above a
    log axis' floor, inside [0, 1] for a fraction), the references dashed. ``log_latency``: a
    log y axis whatever the span (else when the means span :data:`_LOG_SPAN`)."""
    columns = list(tables.plan["columns"])
    axis = _find_axis(columns, LOAD_FIELDS, options.x, kind)
    measured = options.x is None
    series = _series(aggregate, columns, axis)
    figure, axes = _figure(options, width, 4.0, panels=len(panels))
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
        positive = means[means > 0]
        if panel.fraction or len(positive) == 0:
            low, high, log = 0.0, 1.0, False
        else:
            log = log_latency or bool(positive.max() > _LOG_SPAN * positive.min())
            if log:
                low, high = _log_floor(positive, panel.references)
            else:
                low, high = 0.0, max([positive.max(), *panel.references]) * 1.15
        same = coincident([(x, y) for _, x, y, _ in curves])
        hidden: list[str] = []
        for index, (item, x, y, half) in enumerate(curves):
            if not len(y):
                continue
            style = {**item.style, "marker": _MARKERS[index % len(_MARKERS)]}  # told apart
            if index in same:  # hollow over the curve it hides, and said above the panel
                style = _hollow(style)
                hidden.append(f"{item.label} = {curves[same[index]][0].label}")
            top = high if panel.fraction or log else np.inf
            ax.errorbar(
                x, y, yerr=_bounded(y, half, low, top), capsize=3, label=item.label, **style
            )
        if hidden:
            ax.set_title("; ".join(hidden), loc="left", fontsize="medium")
        for value in panel.references:
            _reference(ax, value, panel.reference)
        if log:
            ax.set_yscale("log")
        if panel.fraction:
            ax.set_ylim(-0.02, 1.02)
        else:
            tops = [float(np.max(y + h)) for _, _, y, h in curves if len(y)]
            ax.set_ylim(low, max([high, *(t * 1.05 for t in tops)]) if not log else high)
        ax.set_xlabel("offered load (requests/s)" if measured else axis)
        ax.set_ylabel(panel.ylabel)
        _log_x_if_wide(ax, np.concatenate([x for _, x, _, _ in curves]) if curves else [])
    return figure


def _log_x_if_wide(ax: Axes, x: Any) -> None:
    """A log x axis when the positive x values span at least :data:`_LOG_SPAN` / 2 (loads from
    light to overload often do); its tick labels are values (:func:`readable_log_ticks`)."""
    values = np.asarray(x, dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    if not len(values) or values.max() < _LOG_SPAN / 2 * values.min():
        return
    ax.set_xscale("log")


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


def _timeline(
    aggregate: pd.DataFrame, tables: SweepResults, store: SweepStore, options: PlotOptions
) -> Figure:
    """The timeline of the first finished run of the first selected configuration."""
    from coinfer.emulator.sweeps.timeline import timeline_figure

    results = tables.results
    ok = results[results["config_id"].isin(aggregate["config_id"]) & (results["status"] == "ok")]
    for run_id, config in zip(ok["run_id"], ok["config_id"], strict=True):
        path = store.run_dir(run_id) / "trace.parquet"
        if path.is_file():
            scenario = next(
                c["scenario"] for c in tables.plan["configurations"] if c["config_id"] == config
            )
            return timeline_figure(pd.read_parquet(path), scenario, options)
    raise InputError("plot timeline: no trace of a finished run to read")
