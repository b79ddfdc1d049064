"""Rich displays in Jupyter: ``RunResult._repr_html_`` and ``Summary._repr_html_``.

A notebook shows a run as a short header (scenario, seed, policy, requests, wall time, where
its files are) and its summary as a table of values in display units (ms, mJ, %), instead of
the full repr of the resolved scenario.
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from coinfer.emulator.api.run import RunResult
    from coinfer.emulator.api.summary import Summary

#: How a summary field is shown, by the end of its name: (suffix, factor, unit).
_UNITS = (
    ("_per_s", 1.0, "/s"),
    ("_s", 1e3, "ms"),
    ("_j", 1e3, "mJ"),
    ("_ratio", 100.0, "%"),
    ("_attainment", 100.0, "%"),
    ("utilisation", 100.0, "%"),
)
_STYLE = (
    "border-collapse:collapse;font-size:0.9em",
    "text-align:left;padding:1px 8px",
    "text-align:right;padding:1px 8px;font-variant-numeric:tabular-nums",
)


def shown(name: str, value: Any) -> str:
    """``value`` of the summary field ``name`` in its display unit (``12.3 ms``)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return html.escape(str(value))
    if isinstance(value, float) and math.isnan(value):
        return "-"
    unit_of = name.rsplit(".", 1)[0] if "utilisation" in name else name
    for suffix, factor, unit in _UNITS:
        if unit_of.endswith(suffix):
            return f"{value * factor:.4g} {unit}"
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _rows(data: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows += _rows(value, f"{name}.")
        else:
            rows.append((name, shown(name, value)))
    return rows


def summary_html(summary: Summary) -> str:
    """The summary as an HTML table, one field a row, values in display units."""
    table, name_cell, value_cell = _STYLE
    rows = "".join(
        f'<tr><td style="{name_cell}">{html.escape(name)}</td>'
        f'<td style="{value_cell}">{value}</td></tr>'
        for name, value in _rows(summary.to_dict())
    )
    return f'<table style="{table}"><tbody>{rows}</tbody></table>'


def run_result_html(result: RunResult) -> str:
    """A one-line header of the run, then its summary table."""
    scenario = result.scenario
    facts = [
        f"scenario <b>{html.escape(scenario.name)}</b>",
        f"seed {result.seed}",
        f"policy <code>{html.escape(scenario.policy.name)}</code>",
        f"{result.stats.requests} requests (warm-up included)",
        f"{result.wall_time_s:.2f} s wall time",
        f"files in <code>{html.escape(str(result.out_dir))}</code>" if result.out_dir else "",
        f"stopped by {html.escape(result.stopped_by)}" if result.stopped_by else "",
    ]
    header = " · ".join(fact for fact in facts if fact)
    return f"<div><p>RunResult: {header}</p>{summary_html(result.summary)}</div>"


def run_result_repr(result: RunResult) -> str:
    """A short text repr (the resolved scenario is ``result.scenario``)."""
    return (
        f"RunResult(scenario={result.scenario.name!r}, seed={result.seed}, "
        f"policy={result.scenario.policy.name!r}, wall_time_s={result.wall_time_s:.3g}, "
        f"out_dir={str(result.out_dir) if result.out_dir else None!r})"
    )
