"""What one BERT request costs at each split point in the paper's setting (no pruning).

Run:  python examples/paper_split_costs.py [--model bert-paper] [--distance-m 500]

Uses only the reference model: the paper's device and server at their top clocks, the paper's
link (K0 = −30 dB, α = 2.8, B = 5 MHz, N0 = 2e-19 W/Hz) at full transmit power, ρ = ρ̃ = 1.
The paper's budgets (T0 ≈ 0.22–0.26 s, E0 = 15 mJ) show why it must prune and slow the server.
"""

from __future__ import annotations

import argparse

from coinfer.emulator.model.catalog import ModelCatalog
from coinfer.emulator.model.hardware import HardwareCatalog
from coinfer.emulator.model.reference import co_inference_cost, distortion_bound, log_distance_gain
from coinfer.emulator.tables import format_table

PAPER_BANDWIDTH_HZ = 5e6
PAPER_NOISE_PSD_W_PER_HZ = 2e-19


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="bert-paper")
    parser.add_argument("--distance-m", type=float, default=500.0)
    args = parser.parse_args()

    model = ModelCatalog.builtin().get(args.model)
    hardware = HardwareCatalog.builtin()
    device, server = hardware.get("paper-device"), hardware.get("paper-server")
    splits = model.split_points
    cost = co_inference_cost(
        device_flops=model.device_flops[splits],
        server_flops=model.server_flops[splits],
        payload_bits=model.payload_bits[splits],
        rho_device=1.0,
        rho_server=1.0,
        tx_power_w=device.max_tx_power_w,
        f_device_hz=device.f_max_hz,
        f_server_hz=server.f_max_hz,
        gain=log_distance_gain(args.distance_m),
        bandwidth_hz=PAPER_BANDWIDTH_HZ,
        noise_psd_w_per_hz=PAPER_NOISE_PSD_W_PER_HZ,
        device_flops_per_cycle=device.flops_per_cycle,
        device_power_coeff=device.power_coeff_w_per_hz3,
        device_pue=device.pue,
        server_flops_per_cycle=server.flops_per_cycle,
        server_power_coeff=server.power_coeff_w_per_hz3,
        server_pue=server.pue,
    )
    distortion = distortion_bound(model.total_params, model.total_params)
    rows = [
        (
            int(split),
            f"{cost.device_compute_s[i] * 1e3:.1f}",
            f"{cost.upload_s[i] * 1e3:.2f}",
            f"{cost.server_compute_s[i] * 1e3:.1f}",
            f"{cost.latency_s[i] * 1e3:.1f}",
            f"{cost.device_energy_j[i] * 1e3:.2f}",
            f"{cost.energy_j[i] * 1e3:.1f}",
        )
        for i, split in enumerate(splits)
    ]
    print(
        f"{model.name}, unpruned, top clocks, P_max, d = {args.distance_m:g} m, "
        f"uplink {float(cost.rate_bps) / 1e6:.2f} Mbit/s, distortion bound {distortion:.3e}"
    )
    headers = ("split", "device ms", "upload ms", "server ms", "T ms", "device mJ", "E mJ")
    print(format_table(headers, rows))


if __name__ == "__main__":
    main()
