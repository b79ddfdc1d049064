"""The figure of docs/edge-llm.md: when speculative decoding across the link stops paying off.

Reads a sweep of ``examples/sweeps/speculative-vs-load.yaml`` (its ``aggregate.parquet``) and
draws, against the number of boards in the cell, the median time per output token (top) and the
energy per output token, device and server (bottom), one column per acceptance rate; on-server
generation is the same line in both columns (it has no draft). Error bars: 95 % confidence
intervals over the seeds, clipped at 0.

    coinfer sweep examples/sweeps/speculative-vs-load.yaml
    python examples/speculative_figure.py sweeps/speculative-vs-load \
        --out docs/figures/speculative-vs-load
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

#: Okabe–Ito colours, one per policy, and the legend's names.
SERIES = {
    "on-server": ("#000000", "o", "on-server (no draft)"),
    "speculative(draft_tokens=2)": ("#E69F00", "s", "speculative, γ = 2"),
    "speculative(draft_tokens=4)": ("#0072B2", "^", "speculative, γ = 4"),
    "speculative-adaptive": ("#009E73", "D", "speculative, adaptive γ"),
}
USERS = "devices.0.count"
ALPHA = "devices.0.speculative.alpha"


def draw(table: pd.DataFrame, out: Path) -> plt.Figure:
    """The 2 × (acceptance rates) figure of ``table`` (a sweep's aggregate), saved as
    ``out``.png."""
    alphas = sorted(table[ALPHA].dropna().unique())
    fig, axes = plt.subplots(
        2, len(alphas), figsize=(7.0, 4.6), sharex=True, sharey="row", squeeze=False
    )
    rows = (
        ("generative.tpot_p50_s", 1e3, "TPOT, median (ms)"),
        ("generative.energy_per_token_j", 1.0, "energy per token (J)"),
    )
    for column, alpha in enumerate(alphas):
        for row, (metric, scale, label) in enumerate(rows):
            ax = axes[row][column]
            for policy, (colour, marker, name) in SERIES.items():
                rows_of = table[table["policy"] == policy]
                if policy != "on-server":
                    rows_of = rows_of[rows_of[ALPHA] == alpha]
                rows_of = rows_of.sort_values(USERS)
                if rows_of.empty:
                    continue
                mean = rows_of[f"{metric}_mean"] * scale
                ci = rows_of[f"{metric}_ci95"].fillna(0.0) * scale
                lower = ci.where(mean - ci > 0, mean)  # clipped at 0
                ax.errorbar(
                    rows_of[USERS],
                    mean,
                    yerr=[lower, ci],
                    color=colour,
                    marker=marker,
                    markersize=4,
                    linewidth=1.2,
                    linestyle="--" if policy == "on-server" else "-",
                    capsize=2,
                    label=name,
                    zorder=3 if policy == "on-server" else 2,
                )
            ax.set_xscale("log")
            ax.set_xticks(sorted(table[USERS].unique()))
            ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
            ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
            ax.grid(True, alpha=0.3)
            if row == 0:
                ax.text(0.03, 0.95, f"α = {alpha:g}", transform=ax.transAxes, va="top")
            if row == 1:
                ax.set_xlabel("boards in the cell")
            if column == 0:
                ax.set_ylabel(label)
    axes[0][0].set_ylim(bottom=0)
    axes[1][0].set_ylim(bottom=0)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, frameon=False, fontsize=8)
    fig.align_ylabels(axes[:, 0])
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    path = out.with_suffix(".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=200)
    return fig


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep", type=Path, help="the sweep's output directory")
    parser.add_argument("--out", type=Path, required=True, help="output path without suffix")
    args = parser.parse_args(argv)
    table = pd.read_parquet(args.sweep / "aggregate.parquet")
    plt.close(draw(table, args.out))
    print(args.out.with_suffix(".png"))


if __name__ == "__main__":
    main()
