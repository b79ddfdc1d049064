"""Plot the measured SmolLM2-135M tables shipped with coinfer (no model needed, about a second).

    python examples/calibration/smollm2_measured_figure.py --out docs/figures/smollm2-measured.png

Left: the accepted drafts per speculative round (γ = 4) of SmolLM2-135M drafting for itself
with INT4 and INT8 weights, measured (bars) and what the i.i.d. acceptance model predicts from
the measured α (dots: ``P(A = i) = α^i (1 − α)``, ``P(A = γ) = α^γ``). Middle: the share of
generated tokens that have exited by each block up to 29, per confidence threshold λ
(CALM-style; the rest run all 30 blocks).
Right: per layer, the mean softmax confidence of the model's own head on that layer and how
often its top-1 equals the full model's.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

from coinfer.emulator.model.measurements import (
    DRAFT_BITS,
    EXIT_THRESHOLDS,
    exits_path,
    provenance,
    read_exit_heads,
    read_rounds,
    rounds_path,
)

#: Okabe–Ito colours
BITS_COLOUR = {4: "#D55E00", 8: "#0072B2"}
THRESHOLD_COLOUR = dict(
    zip(EXIT_THRESHOLDS, ["#E69F00", "#56B4E9", "#009E73", "#CC79A7"], strict=True)
)


def plot(path: Path) -> None:
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(7.4, 2.6), constrained_layout=True)
    width = 0.38
    for offset, bits in zip((-width / 2, width / 2), DRAFT_BITS, strict=True):
        _, tokens = read_rounds(bits)
        record = provenance(rounds_path(bits))
        gamma, alpha = record["rounds"]["gamma"], record["alpha"]["mean"]
        accepted = np.arange(gamma + 1)
        share = np.bincount(tokens - 1, minlength=gamma + 1) / len(tokens)
        iid = np.array([alpha**i * (1 - alpha) for i in range(gamma)] + [alpha**gamma])
        colour = BITS_COLOUR[bits]
        left.bar(accepted + offset, share, width, color=colour, label=f"INT{bits}, α={alpha:.2f}")
        left.plot(accepted + offset, iid, "o", color="black", markersize=3)
    left.plot([], [], "o", color="black", markersize=3, label="i.i.d. model")
    left.set_xlabel("accepted drafts per round (γ = 4)")
    left.set_ylabel("share of rounds")
    left.set_xticks(range(5))
    left.legend(frameon=False, fontsize=7, loc="upper left")

    blocks = np.arange(1, 31)
    for threshold in EXIT_THRESHOLDS:
        probability = np.array([head.probability for head in read_exit_heads(threshold)])
        middle.step(
            blocks[:-1],
            np.cumsum(probability)[:-1],
            where="post",
            color=THRESHOLD_COLOUR[threshold],
            label=f"λ = {threshold:g}",
        )
    middle.set_xlabel("exit after block")
    middle.set_ylabel("share of tokens exited (rest: all 30)")
    middle.set_xlim(1, 29)
    middle.set_ylim(0, 1.1)
    middle.legend(frameon=False, fontsize=7, loc="upper left", ncol=2, columnspacing=0.8)

    layers = provenance(exits_path(0.9))["per_layer"]
    right.plot(blocks, layers["mean_confidence"], color="#0072B2", label="mean confidence")
    right.plot(
        blocks, layers["top1_agreement"], color="#D55E00", linestyle="--", label="top-1 = final"
    )
    right.set_xlabel("layer")
    right.set_ylabel("share / probability")
    right.set_xlim(1, 30)
    right.set_ylim(0, 1.02)
    right.legend(frameon=False, fontsize=7, loc="upper left")
    for axes in (left, middle, right):
        axes.tick_params(labelsize=8)
        axes.xaxis.label.set_size(8)
        axes.yaxis.label.set_size(8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=200)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="the PNG file to write")
    out = parser.parse_args().out
    plot(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
