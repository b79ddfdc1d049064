"""Rate per hertz against SNR: the NR link model (64QAM and 256QAM tables) and Shannon.

Draws ``docs/figures/nr-rate-vs-snr.png`` (docs/radio.md): one upload alone on the carrier,
one layer, overhead 0.08 (TS 38.306, FR1 uplink), the CQI thresholds of the attenuated Shannon
bound (alpha 0.6) and the BLER curve of the chosen MCS; Shannon is ``log2(1 + SNR)``.

    python examples/radio/rate_vs_snr.py --out docs/figures/nr-rate-vs-snr.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from coinfer.emulator.model.links import NrLink, NrLinkParams
from coinfer.emulator.sweeps.plots import OKABE_ITO


def spectral_efficiency(link: NrLink, snr_db: np.ndarray) -> np.ndarray:
    """Rate per hertz of band at each SNR (dB), bit/s/Hz: the model's rate on 1 Hz, N0 = 1."""
    return link.rates_bps(1.0, 10 ** (snr_db / 10), 1.0, 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/figures/nr-rate-vs-snr.png"))
    args = parser.parse_args()
    snr_db = np.linspace(-10.0, 50.0, 1201)
    curves = [
        ("Shannon, log2(1 + SNR)", np.log2(1 + 10 ** (snr_db / 10)), "-"),
        (
            "NR, 256QAM tables",
            spectral_efficiency(NrLink(NrLinkParams(mcs_table="qam256")), snr_db),
            "-",
        ),
        (
            "NR, 64QAM tables",
            spectral_efficiency(NrLink(NrLinkParams(mcs_table="qam64")), snr_db),
            "--",
        ),
    ]
    fig, ax = plt.subplots(figsize=(5.0, 3.4))
    for (label, values, style), colour in zip(
        curves, (OKABE_ITO[7], OKABE_ITO[0], OKABE_ITO[1]), strict=True
    ):
        ax.plot(snr_db, values, style, color=colour, label=label, linewidth=1.6)
    for top, colour, name in (
        (7.4063, OKABE_ITO[0], "MCS 27 of the 256QAM table"),
        (5.5547, OKABE_ITO[1], "MCS 28 of the 64QAM table"),
    ):
        ceiling = top * 0.92 * 14 / 15  # SE x (1 - overhead) x 14 symbols / (SCS x slot)
        ax.axhline(ceiling, color=colour, linewidth=0.8, linestyle=":")
        ax.text(-9.5, ceiling + 0.12, name, color=colour, ha="left", va="bottom", fontsize=8)
    ax.set_xlabel("SNR (dB)")
    ax.set_ylabel("rate per hertz (bit/s/Hz)")
    ax.set_xlim(snr_db[0], snr_db[-1])
    ax.set_ylim(0.0, 10.0)
    ax.grid(True, linewidth=0.4, alpha=0.5)
    ax.legend(frameon=False, loc="upper left")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=200)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
