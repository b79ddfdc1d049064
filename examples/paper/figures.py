"""The figures: kept fraction and distortion bound per policy, infeasible points marked.

Drawn on matplotlib's Agg canvas (no pyplot state) in the Okabe–Ito palette. Each figure has two
rows, the kept fraction ``(ρ·q + ρ̃·s)/n`` on top and the distortion bound D̂ (log scale) below,
and one column per series group (one for a budget sweep, one per budget pair for a split
sweep). An infeasible point leaves a gap in its policy's line and an ``×`` at the bottom of the
kept-fraction panel.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from coinfer.emulator.sweeps.plots import OKABE_ITO
from examples.paper.setting import LABELS, POLICIES, Study
from examples.paper.studies import series

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MARKERS = ("o", "s", "^", "D", "v")
AXES = {
    "delay": ("latency budget T0 (ms)", 1e3),
    "energy": ("energy budget E0 (mJ)", 1e3),
    "split": ("split point l (blocks on the device)", 1.0),
}
#: Raw-input sizes marked on the sensitivity figure, bits.
RAW_INPUT_MARKS = {
    "token ids (128 × 32 bit)": 4_096,
    "one activation (768 × 32 bit)": 24_576,
    "embedded sequence (128 × 768 × 32 bit)": 3_145_728,
}


def new_figure(rows: int, cols: int, width: float, height: float) -> tuple[Figure, np.ndarray]:
    """A constrained-layout figure with a grid of axes (no pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, cols, squeeze=False)
    for ax in axes.flat:
        ax.grid(True, color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
    return figure, axes


def _title(study: Study, figure: str, table: pd.DataFrame) -> str:
    where = {
        "delay": f"E0 = {study.delay.fixed * 1e3:.3g} mJ, split 4 (paper Fig. 4)",
        "energy": f"T0 = {study.energy.fixed * 1e3:.3g} ms, split 4 (paper Fig. 5)",
        "split": "against the split point (paper Fig. 6)",
    }[figure]
    ranges = "paper's budgets" if study.paper_ranges else "this project's extension"
    return f"{study.title}\n{where}; {ranges}"


def plot_figure(study: Study, figure: str, table: pd.DataFrame) -> Figure:
    """One of a study's three figures from its table (see :mod:`examples.paper.studies`)."""
    groups = list(table["budgets"].unique()) if figure == "split" else [None]
    fig, axes = new_figure(2, len(groups), 5.2 * len(groups) + 1.0, 6.4)
    xlabel, scale = AXES[figure]
    for col, budgets in enumerate(groups):
        top, bottom = axes[0, col], axes[1, col]
        for index, policy in enumerate(POLICIES):
            rows = series(table, policy, budgets)
            x = rows["x"].to_numpy(float) * scale
            feasible = rows["feasible"].to_numpy(bool)
            joint = policy == "joint"  # drawn on top, hollow markers: ties stay visible
            style = {
                "color": OKABE_ITO[index],
                "marker": MARKERS[index],
                "linestyle": "-" if joint else "--",
                "linewidth": 2.2 if joint else 1.3,
                "markersize": 8 if joint else 4,
                "markerfacecolor": "none" if joint else OKABE_ITO[index],
                "zorder": 5 if joint else 3,
            }
            kept = np.where(feasible, rows["kept_fraction"].to_numpy(float), np.nan)
            bound = np.where(feasible, rows["distortion_bound"].to_numpy(float), np.nan)
            top.plot(x, kept, label=LABELS[policy], **style)
            bottom.plot(x, bound, **style)
            if (~feasible).any():
                top.plot(
                    x[~feasible],
                    np.full((~feasible).sum(), 0.03 + 0.035 * index),
                    "x",
                    color=OKABE_ITO[index],
                    markersize=8,
                    transform=top.get_xaxis_transform(),
                )
        top.set_ylabel("kept fraction (ρ·q + ρ̃·s)/n")
        bottom.set_ylabel("distortion bound D̂")
        bottom.set_yscale("log")
        bottom.set_xlabel(xlabel)
        if budgets is not None:
            top.set_title(budgets.replace("T0=", "T0 = ").replace(" E0=", ", E0 = "))
            for ax in (top, bottom):
                ax.set_xticks(sorted(table["x"].unique()))
    axes[0, -1].plot([], [], "x", color="#555555", label="infeasible (×)")
    axes[0, -1].legend(fontsize=8, loc="best")
    fig.suptitle(_title(study, figure, table), fontsize=10)
    return fig


def plot_raw_input(table: pd.DataFrame, study: Study) -> Figure:
    """Fully on the server (split 0) against the best intermediate split as θ(0) grows."""
    groups = list(table.groupby(["deadline_s", "energy_budget_j"], sort=False))
    fig, axes = new_figure(1, 1, 7.5, 4.6)
    ax = axes[0, 0]
    for index, ((deadline, energy), rows) in enumerate(groups):
        colour = OKABE_ITO[index]
        label = f"T0 = {deadline * 1e3:.3g} ms, E0 = {energy * 1e3:.3g} mJ"
        ax.plot(
            rows["input_bits"],
            rows["on_server_kept"],
            "o-",
            color=colour,
            label=f"split 0, {label}",
        )
        best = rows["best_intermediate_kept"].iloc[0]
        split = int(rows["best_intermediate_split"].iloc[0])
        ax.axhline(best, color=colour, linestyle="--", label=f"best intermediate (split {split})")
    for name, bits in RAW_INPUT_MARKS.items():
        ax.axvline(bits, color="#888888", linestyle=":")
        ax.text(
            bits,
            0.02,
            f" {name}",
            rotation=90,
            fontsize=7,
            va="bottom",
            transform=ax.get_xaxis_transform(),
        )
    ax.set_xscale("log")
    ax.set_xlabel("raw input θ(0) uploaded at split 0 (bits)")
    ax.set_ylabel("kept fraction, proposed design")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7, loc="upper right")
    fig.suptitle(
        f"{study.title}: when does an intermediate split beat fully on-server? (missing: "
        "split 0 infeasible)",
        fontsize=9,
    )
    return fig


def save(figure: Figure, path: Path) -> Path:
    """Write ``figure`` as a PNG (150 dpi) at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=150)
    return path
