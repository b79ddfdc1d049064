"""What the SmolLM2 calibration says: the figure and the numbers of docs/quality.md.

Run:  python examples/calibration/quality_figures.py [--out docs/figures]

Reads the shipped calibration table (no torch needed) and prints:

* the fit of the paper's bound: is the log of the measured parameter distortion linear in the
  kept share, and with which slope (the bound's is ``−b·ln 2`` per unit of kept share);
* whether the output (logit) distortion tracks the parameter distortion (log–log slope, R²);
* whether device-side and server-side damage add up (log perplexity and distortion²);
* whether quality depends on the kept size alone or on where the pruning falls;
* the weight statistics (Laplace or Gauss?), from ``smollm2-135m-weights.csv`` beside this file.

and writes ``quality-calibration.png`` into ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from coinfer.emulator.model.quality import read_quality_table
from coinfer.emulator.model.quality.model import TABLES_DIR
from coinfer.emulator.tables import format_table

HERE = Path(__file__).parent
#: Okabe–Ito
BLUE, ORANGE, GREEN, VERMILION, PURPLE, SKY, YELLOW, BLACK = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#000000",
)


def fit_line(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Least-squares ``y = a + b·x``: (a, b, R²)."""
    b, a = np.polyfit(x, y, 1)
    residual = y - (a + b * x)
    r2 = 1.0 - float(residual @ residual) / float(((y - y.mean()) ** 2).sum())
    return float(a), float(b), r2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", type=Path, default=TABLES_DIR / "smollm2-135m-calibration.csv")
    parser.add_argument("--weights", type=Path, default=HERE / "smollm2-135m-weights.csv")
    parser.add_argument("--out", type=Path, default=Path("docs/figures"))
    args = parser.parse_args()

    table = read_quality_table(args.table)
    rows = [
        {
            "k": p.device_blocks,
            "rd": p.kept_device,
            "rs": p.kept_server,
            "bd": p.weight_bits_device,
            "bs": p.weight_bits_server,
            "ppl": p.value,
            "od": p.output_distortion or 0.0,
            "top1": float(p.extra["top1_agreement"]),
            "pd": float(p.extra["param_distortion_rel"]),
            "share": float(p.extra["kept_share"]),
        }
        for p in table.points
    ]
    dense = next(r for r in rows if r["k"] is None and r["rd"] == 1 and r["bd"] == 16)
    nll0 = math.log(dense["ppl"])
    pruned = [r for r in rows if r["bd"] == r["bs"] == 16 and min(r["rd"], r["rs"]) < 1]
    whole = sorted((r for r in pruned if r["k"] is None), key=lambda r: -r["rd"])
    splits = sorted({r["k"] for r in pruned if r["k"] is not None})

    # 1. the paper's bound: log parameter distortion linear in the kept share?
    share = np.array([r["share"] for r in whole])
    log_pd = np.log([r["pd"] for r in whole])
    a, slope, r2 = fit_line(share, log_pd)
    print("Whole-model magnitude pruning (kept share of the prunable weights):")
    print(
        format_table(
            ["kept", "perplexity", "top-1 agree", "param dist (rel)", "output dist (rel)"],
            [
                [
                    f"{r['rd']:.1f}",
                    f"{r['ppl']:.2f}",
                    f"{r['top1']:.3f}",
                    f"{r['pd']:.4f}",
                    f"{r['od']:.4f}",
                ]
                for r in [dense, *whole]
            ],
        )
    )
    print(
        f"\nln(param distortion) = {a:.3f} {slope:+.3f}·kept  (R² = {r2:.4f}); "
        f"the bound's slope at b = 16 bits: {-16 * math.log(2):+.2f}"
    )
    all_pruned = [r for r in pruned if r["od"] > 0 and r["pd"] > 0]
    lx = np.log([r["pd"] for r in all_pruned])
    ly = np.log([r["od"] for r in all_pruned])
    _, od_slope, od_r2 = fit_line(lx, ly)
    print(
        f"ln(output distortion) vs ln(param distortion), all {len(all_pruned)} pruned points: "
        f"slope {od_slope:.3f}, R² = {od_r2:.4f}"
    )
    lz = np.log([r["ppl"] for r in all_pruned]) - nll0
    _, _, nll_r2 = fit_line(lx, lz)
    print(f"log-perplexity increase vs ln(param distortion): R² = {nll_r2:.4f}")
    ks = np.array([r["share"] for r in all_pruned])
    _, _, share_r2 = fit_line(ks, lz)
    print(f"log-perplexity increase vs kept share alone: R² = {share_r2:.4f}")

    # 2. do the sides add up?
    def point(k: int | None, rd: float, rs: float, bd: int = 16, bs: int = 16) -> dict | None:
        for r in rows:
            if (r["k"], r["rd"], r["rs"], r["bd"], r["bs"]) == (k, rd, rs, bd, bs):
                return r
        return None

    lines = []
    for k in splits:
        for r in sorted({r["rd"] for r in pruned if r["k"] == k and r["rs"] == 1}):
            device, server, both = point(k, r, 1.0), point(k, 1.0, r), point(None, r, r)
            if device is None or server is None or both is None:
                continue
            d_dev, d_srv = math.log(device["ppl"]) - nll0, math.log(server["ppl"]) - nll0
            d_both = math.log(both["ppl"]) - nll0
            lines.append(
                [
                    k,
                    f"{r:.1f}",
                    f"{d_dev:.3f}",
                    f"{d_srv:.3f}",
                    f"{d_dev + d_srv:.3f}",
                    f"{d_both:.3f}",
                    f"{(d_dev + d_srv) / d_both:.3f}",
                    f"{(device['od'] ** 2 + server['od'] ** 2) / both['od'] ** 2:.3f}",
                ]
            )
    for r in rows:  # the mixed points
        if r["k"] is None or r["rd"] == 1 or r["rs"] == 1 or r["bd"] != 16 or r["bs"] != 16:
            continue
        device, server = point(r["k"], r["rd"], 1.0), point(r["k"], 1.0, r["rs"])
        if device is None or server is None:
            continue
        d_dev, d_srv = math.log(device["ppl"]) - nll0, math.log(server["ppl"]) - nll0
        d_both = math.log(r["ppl"]) - nll0
        lines.append(
            [
                r["k"],
                f"{r['rd']:.1f}/{r['rs']:.1f}",
                f"{d_dev:.3f}",
                f"{d_srv:.3f}",
                f"{d_dev + d_srv:.3f}",
                f"{d_both:.3f}",
                f"{(d_dev + d_srv) / d_both:.3f}",
                f"{(device['od'] ** 2 + server['od'] ** 2) / r['od'] ** 2:.3f}",
            ]
        )
    print("\nDo device-side and server-side damage add up? (Δ = increase of ln perplexity)")
    print(
        format_table(
            ["blocks", "kept", "Δ device", "Δ server", "sum", "Δ both", "sum/both", "od² ratio"],
            lines,
        )
    )

    # 3. kept size alone, or where the pruning falls?
    print("\nSame kept share, different place (perplexity):")
    lines = []
    for r in sorted(pruned, key=lambda r: -r["share"]):
        where = (
            "whole model"
            if r["k"] is None
            else (
                f"device side, {r['k']} blocks"
                if r["rs"] == 1
                else (f"server side, {30 - r['k']} blocks" if r["rd"] == 1 else f"both, k={r['k']}")
            )
        )
        lines.append(
            [f"{r['share']:.3f}", where, f"{r['rd']:.1f}/{r['rs']:.1f}", f"{r['ppl']:.2f}"]
        )
    print(format_table(["kept share", "pruned", "kept dev/srv", "perplexity"], lines))

    # 4. quantization
    quant = [r for r in rows if min(r["bd"], r["bs"]) < 16 and r["rd"] == r["rs"] == 1]
    print("\nWeight-only quantization (round to nearest, per output channel):")
    print(
        format_table(
            ["blocks", "bits dev/srv", "perplexity", "top-1 agree", "output dist"],
            [
                [
                    "whole" if r["k"] is None else r["k"],
                    f"{r['bd']}/{r['bs']}",
                    f"{r['ppl']:.2f}",
                    f"{r['top1']:.3f}",
                    f"{r['od']:.4f}",
                ]
                for r in quant
            ],
        )
    )

    # 5. weights
    if args.weights.is_file():
        with args.weights.open() as f:
            stats = list(csv.DictReader(f))
        print("\nWeights (prunable matrices): Laplace or Gauss?")
        print(
            format_table(
                ["matrix", "std", "excess kurtosis", "loglik Laplace", "loglik Gauss", "h Laplace"],
                [
                    [
                        s["matrix"],
                        s["std"],
                        s["excess_kurtosis"],
                        s["loglik_laplace_nats"],
                        s["loglik_gauss_nats"],
                        s["entropy_laplace_bits"],
                    ]
                    for s in stats
                ],
            )
        )

    figure(args.out, dense, whole, pruned, splits, quant)


def block_range(side: str | None, k: int) -> str:
    """``blocks 1–10 quantized`` (device side of split 10) or ``blocks 11–30`` (server)."""
    blocks = f"1–{k}" if side == "device" else f"{k + 1}–30"
    return f"blocks {blocks} ({side} side) quantized"


def figure(out: Path, dense, whole, pruned, splits, quant) -> None:  # type: ignore[no-untyped-def]
    out.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 3, figsize=(11.5, 3.4), constrained_layout=True)
    ax = axes[0]
    ax.plot(
        [1.0] + [r["share"] for r in whole],
        [dense["ppl"]] + [r["ppl"] for r in whole],
        "o-",
        color=BLACK,
        label="whole model",
    )
    styles = {splits[0]: ("s", "-"), splits[-1]: ("^", "--")}
    for k in splits:
        marker, line = styles.get(k, ("d", ":"))
        dev = sorted((r for r in pruned if r["k"] == k and r["rs"] == 1), key=lambda r: -r["share"])
        srv = sorted((r for r in pruned if r["k"] == k and r["rd"] == 1), key=lambda r: -r["share"])
        ax.plot(
            [1.0] + [r["share"] for r in dev],
            [dense["ppl"]] + [r["ppl"] for r in dev],
            marker + line,
            color=BLUE,
            label=f"blocks 1–{k} (device side) pruned",
        )
        ax.plot(
            [1.0] + [r["share"] for r in srv],
            [dense["ppl"]] + [r["ppl"] for r in srv],
            marker + line,
            color=VERMILION,
            label=f"blocks {k + 1}–30 (server side) pruned",
        )
    ax.set_yscale("log")
    ax.set_xlabel("kept share of the prunable weights")
    ax.set_ylabel("perplexity (pydoc topics)")
    ax.invert_xaxis()
    ax.legend(fontsize=7, frameon=False)
    ax.grid(alpha=0.3)

    ax = axes[1]
    share = np.array([r["share"] for r in whole])
    pd = np.array([r["pd"] for r in whole])
    od = np.array([r["od"] for r in whole])
    a, slope, _ = fit_line(share, np.log(pd))
    xs = np.linspace(share.min(), share.max(), 50)
    ax.plot(share, pd, "o", color=BLUE, label="parameter distortion (measured)")
    ax.plot(
        xs,
        np.exp(a + slope * xs),
        "-",
        color=BLUE,
        lw=1,
        label=f"log-linear fit (slope {slope:.1f}; bound: {-16 * math.log(2):.1f})",
    )
    ax.plot(share, od, "s", color=ORANGE, label="output (logit) distortion")
    ax.set_yscale("log")
    ax.set_xlabel("kept share (whole-model pruning)")
    ax.set_ylabel("relative distortion")
    ax.invert_xaxis()
    ax.legend(fontsize=7, frameon=False)
    ax.grid(alpha=0.3)

    ax = axes[2]
    groups = [
        ("whole model", lambda r: r["k"] is None, BLACK, "o-", None),
        ("device side", lambda r: r["k"] is not None and r["bs"] == 16, BLUE, "s-", "device"),
        ("server side", lambda r: r["k"] is not None and r["bd"] == 16, VERMILION, "^-", "server"),
    ]
    for label, keep, colour, style, side in groups:
        by_k: dict[object, list] = {}
        for r in quant:
            if keep(r):
                by_k.setdefault(r["k"], []).append(r)
        for k, items in sorted(by_k.items(), key=lambda kv: str(kv[0])):
            items = sorted(items, key=lambda r: -min(r["bd"], r["bs"]))
            bits = [16] + [min(r["bd"], r["bs"]) for r in items]
            ax.plot(
                bits,
                [dense["ppl"]] + [r["ppl"] for r in items],
                style,
                color=colour,
                alpha=1.0 if k in (None, splits[0]) else 0.55,
                label=label if k is None else block_range(side, k),
            )
    ax.set_xscale("log", base=2)
    ax.set_xticks([3, 4, 6, 8, 16], labels=["3", "4", "6", "8", "16"])
    ax.set_yscale("log")
    ax.set_xlabel("weight bits")
    ax.set_ylabel("perplexity (pydoc topics)")
    ax.invert_xaxis()
    ax.legend(fontsize=7, frameon=False)
    ax.grid(alpha=0.3)
    path = out / "quality-calibration.png"
    fig.savefig(path, dpi=150)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
