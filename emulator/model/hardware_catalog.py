"""The built-in device and server classes, each value with its source or marked as an assumption.

Conventions used to turn data sheets into the reference model's parameters:

* ``flops_per_cycle`` is the dense peak (no structured sparsity) at the precision the class is
  normally used for (FP32 for CPUs, FP16 tensor cores for GPUs) divided by the clock at which that
  peak is quoted, so that ``f_max_hz · flops_per_cycle`` is the data-sheet peak.
* ``power_coeff_w_per_hz3`` (φ) is chosen so that ``φ·f_max³`` equals the board or chip power at
  the top clock (the TDP or the highest power mode): ``φ = P / f_max³``. The cubic law is the
  paper's (dynamic power ∝ f·V² with V ∝ f); real chips follow it only roughly.
* Devices have PUE 1 (no facility overhead). Data-centre GPUs get PUE 1.58, the global average
  reported by the Uptime Institute Global Data Center Survey 2023 (an assumption for any one site).
* A device's maximum transmit power is 0.2 W (23 dBm, 3GPP TS 38.101-1 power class 3 UE) unless
  the paper fixes it.
* The serving calibration of the step-time models (MFU per phase, bandwidth efficiency) is fitted
  to published measurements where there are some (A100: Vidur's public profile; Jetson AGX Orin:
  TinyChat's published table), each fit stated next to its value and checked against measurements
  it was not fitted to in ``tests/emulator/test_step_time_calibration.py``. Other classes keep the
  ideal roofline (efficiencies 1, no overhead) and the phase powers default to the power at the
  top clock (``docs/step-time.md``).
"""

from __future__ import annotations

from coinfer.emulator.model.hardware_spec import HardwareSpec

GB = 1e9
GIB = 2**30
UPTIME_2023_PUE = 1.58  # assumption: Uptime Institute 2023 global average PUE
UE_CLASS_3_TX_POWER_W = 0.2  # 23 dBm, 3GPP TS 38.101-1 power class 3


def _phi(power_w: float, f_hz: float) -> float:
    """Power coefficient φ (W/Hz³) that draws ``power_w`` at clock ``f_hz``."""
    return power_w / f_hz**3


BUILTIN_HARDWARE: tuple[HardwareSpec, ...] = (
    HardwareSpec(
        name="paper-device",
        kind="device",
        description="Lyu et al. 2025, Sec. VI: the simulated mobile device",
        f_min_hz=0.0,  # paper: any clock in (0, f_max]
        f_max_hz=1e9,  # paper: 1 GHz
        flops_per_cycle=32,  # paper: 32 FLOPs/cycle
        power_coeff_w_per_hz3=5e-29,  # paper: φ = 5e-29 (0.05 W at 1 GHz)
        pue=1.0,  # paper: η = 1
        memory_bandwidth_bytes_per_s=34 * GB,  # assumption: LPDDR4X-4266, 64-bit bus
        memory_bytes=8 * GIB,  # assumption: paper silent; a phone-class 8 GiB
        max_tx_power_w=0.5,  # paper: P_max = 0.5 W
    ),
    HardwareSpec(
        name="phone-soc",
        kind="device",
        description="Snapdragon 8 Gen 2-class phone: one Cortex-X3 prime core, FP32 NEON",
        f_min_hz=0.3e9,  # assumption: lowest DVFS step of Android big cores (~300 MHz)
        f_max_hz=3.2e9,  # Qualcomm: Cortex-X3 prime core at 3.2 GHz
        flops_per_cycle=32,  # Arm: 4 × 128-bit FMA pipes × 4 FP32 lanes × 2 FLOPs
        power_coeff_w_per_hz3=_phi(3.5, 3.2e9),  # assumption: ~3.5 W prime core at 3.2 GHz
        pue=1.0,  # convention: a device has no facility overhead (PUE 1)
        memory_bandwidth_bytes_per_s=67 * GB,  # LPDDR5X-4200, 64-bit bus: 67.2 GB/s
        memory_bytes=12 * GIB,  # assumption: common flagship configuration
        max_tx_power_w=UE_CLASS_3_TX_POWER_W,
    ),
    HardwareSpec(
        name="jetson-orin-nano",
        kind="device",
        description="NVIDIA Jetson Orin Nano 8GB module, Ampere GPU (8 SMs), FP16 tensor cores",
        f_min_hz=306e6,  # assumption: lowest GPU DVFS step reported by jetson_clocks
        f_max_hz=625e6,  # NVIDIA data sheet: GPU max 625 MHz (15 W mode)
        flops_per_cycle=16_384,  # 8 SMs × 2048 dense FP16 FLOPs/cycle (40 sparse INT8 TOPS / 4)
        power_coeff_w_per_hz3=_phi(15.0, 625e6),  # NVIDIA: 15 W top power mode
        pue=1.0,  # convention: a device has no facility overhead (PUE 1)
        memory_bandwidth_bytes_per_s=68 * GB,  # NVIDIA data sheet: 68 GB/s LPDDR5
        memory_bytes=8 * GIB,  # NVIDIA data sheet: 8 GB
        max_tx_power_w=UE_CLASS_3_TX_POWER_W,  # assumption: a class-3 5G modem attached
        weight_bits_supported=(16, 8, 4),  # assumption: as the AGX Orin (same Ampere GPU)
        quantized_decode_efficiency={4: 0.70},  # assumption: as the AGX Orin
    ),
    HardwareSpec(
        name="jetson-agx-orin",
        kind="device",
        description="NVIDIA Jetson AGX Orin 64GB module, Ampere GPU (16 SMs), FP16 tensor cores",
        f_min_hz=306e6,  # assumption: lowest GPU DVFS step reported by jetson_clocks
        f_max_hz=1.3e9,  # NVIDIA data sheet: GPU max 1.3 GHz
        flops_per_cycle=32_768,  # 16 SMs × 2048 dense FP16 FLOPs/cycle (170 sparse INT8 TOPS / 4)
        power_coeff_w_per_hz3=_phi(60.0, 1.3e9),  # NVIDIA: 60 W MAXN power mode
        pue=1.0,  # convention: a device has no facility overhead (PUE 1)
        memory_bandwidth_bytes_per_s=204.8 * GB,  # NVIDIA data sheet: 204.8 GB/s LPDDR5
        memory_bytes=64 * GIB,  # NVIDIA data sheet: 64 GB
        max_tx_power_w=UE_CLASS_3_TX_POWER_W,  # assumption: a class-3 5G modem attached
        # fit: TinyChat (mit-han-lab/llm-awq, tinychat/README.md at commit b76fab62, 2024-04-29,
        # "Orin Results") Llama-2-7B FP16 decode 86.80 ms/token; 13.48 GB moved per step
        # (weights + KV at context 512) over 204.8 GB/s gives 0.76 (Hugging Face baseline: its
        # per-token overheads are included). TinyChat 2.0 (commit e4bdec27, 2024-12-12) moved
        # that table into an HTML comment and publishes 83.95 ms at 4 context tokens instead
        bandwidth_efficiency=0.76,
        # fit: TinyChat Llama-3-8B FP16 time to first token 1048.11 ms for 1024 history + 32
        # question tokens, recomputed by the FP16 baseline: 15.3 TFLOP over 42.6 TFLOP/s peak
        # (tinychat/README.md, Orin TTFT table, an HTML comment at commit d6e797a4)
        mfu_prefill=0.34,
        mfu_decode=0.34,  # assumption: as prefill (no decode-specific measurement)
        # TinyChat W4A16 (AWQ) kernels and TensorRT-LLM INT8 weight-only; FP16 tensor cores
        weight_bits_supported=(16, 8, 4),
        # fit: TinyChat (tinychat/README.md at commit b76fab62, "Orin Results") Llama-2-7B
        # decode 86.80 ms FP16, 32.14 ms INT4 (footnoted: 33 tokens/s with exLLaMA's 4-token
        # benchmark instead; the same table's 4090 footnote gives a > 500-token prompt): 2.70x,
        # not 3.77x (the ideal with this class's roofline at context 512). The current table
        # (commit e4bdec27 on, 4 context tokens) gives 83.95 / 25.94 ms = 3.24x
        quantized_decode_efficiency={4: 0.70},
    ),
    HardwareSpec(
        name="laptop-cpu",
        kind="device",
        description="AMD Ryzen 7 7840U laptop, 8 Zen 4 cores, FP32 AVX-512 (double-pumped)",
        f_min_hz=0.4e9,  # assumption: lowest P-state
        f_max_hz=3.3e9,  # AMD: 3.3 GHz base, the all-core clock sustainable at 28 W
        flops_per_cycle=256,  # 8 cores × 2 × 256-bit FMA × 8 FP32 lanes × 2 FLOPs
        power_coeff_w_per_hz3=_phi(28.0, 3.3e9),  # AMD: 28 W default TDP
        pue=1.0,  # convention: a device has no facility overhead (PUE 1)
        memory_bandwidth_bytes_per_s=120 * GB,  # LPDDR5X-7500, 128-bit bus: 120 GB/s
        memory_bytes=32 * GIB,  # assumption: common configuration (64 GB max)
        max_tx_power_w=UE_CLASS_3_TX_POWER_W,  # assumption: a class-3 5G modem
    ),
    HardwareSpec(
        name="paper-server",
        kind="server",
        description="Lyu et al. 2025, Sec. VI: the simulated edge server",
        f_min_hz=0.0,  # paper: any clock in (0, f̃_max]
        f_max_hz=4e9,  # paper: 4 GHz
        flops_per_cycle=128,  # paper: 128 FLOPs/cycle
        power_coeff_w_per_hz3=1e-28,  # paper: φ̃ = 1e-28 (6.4 W chip power at 4 GHz)
        pue=2.0,  # paper: η̃ = 2
        memory_bandwidth_bytes_per_s=100 * GB,  # assumption: paper silent
        memory_bytes=256 * GIB,  # assumption: paper silent
    ),
    HardwareSpec(
        name="l4",
        kind="server",
        description="NVIDIA L4 (Ada, 58 SMs), FP16 tensor cores, 72 W",
        f_min_hz=795e6,  # assumption: lowest application clock listed by nvidia-smi
        f_max_hz=2.04e9,  # NVIDIA: boost clock 2040 MHz
        flops_per_cycle=59_392,  # 58 SMs × 1024: 121 dense FP16 TFLOPS at 2.04 GHz (data sheet)
        power_coeff_w_per_hz3=_phi(72.0, 2.04e9),  # NVIDIA data sheet: 72 W
        pue=UPTIME_2023_PUE,
        memory_bandwidth_bytes_per_s=300 * GB,  # NVIDIA data sheet: 300 GB/s GDDR6
        memory_bytes=24 * GB,  # NVIDIA data sheet: 24 GB
        weight_bits_supported=(16, 8, 4, 3, 2),  # vLLM GPTQ kernels: 2/3/4/8-bit weights
    ),
    HardwareSpec(
        name="a100",
        kind="server",
        description="NVIDIA A100 80GB SXM (108 SMs), FP16 tensor cores, 400 W",
        f_min_hz=210e6,  # nvidia-smi: lowest supported graphics clock
        f_max_hz=1.41e9,  # NVIDIA: boost clock 1410 MHz
        flops_per_cycle=221_184,  # 108 SMs × 2048: 312 dense FP16 TFLOPS (data sheet)
        power_coeff_w_per_hz3=_phi(400.0, 1.41e9),  # NVIDIA data sheet: 400 W TDP
        pue=UPTIME_2023_PUE,
        memory_bandwidth_bytes_per_s=2.039e12,  # NVIDIA data sheet: 2,039 GB/s HBM2e
        memory_bytes=80 * GB,  # NVIDIA data sheet: 80 GB
        # fits to Vidur's public A100 profile of Llama-2-7B's linear layers (microsoft/vidur,
        # data/profiling/compute/a100/meta-llama/Llama-2-7b-hf/mlp.csv; the numbers are in
        # examples/step-times/a100-llama-2-7b-linear-vidur.csv):
        # 12.95 GB of layer weights in 8.512 ms at 1 token: 1.52 TB/s of 2.039 = 0.75
        bandwidth_efficiency=0.75,
        # median achieved / 312 TFLOP/s over 512-4096 prompt tokens (0.68-0.71): 0.70
        mfu_prefill=0.70,
        # 256 tokens (a decode batch of 256) in 16.08 ms: 0.66
        mfu_decode=0.66,
        weight_bits_supported=(16, 8, 4, 3, 2),  # vLLM GPTQ kernels: 2/3/4/8-bit weights
    ),
    HardwareSpec(
        name="h100",
        kind="server",
        description="NVIDIA H100 SXM5 (132 SMs), FP16 tensor cores, 700 W",
        f_min_hz=345e6,  # assumption: lowest supported graphics clock
        f_max_hz=1.83e9,  # NVIDIA: boost clock at which the 989 TFLOPS peak is quoted
        flops_per_cycle=540_672,  # 132 SMs × 4096: 989.4 dense FP16 TFLOPS (data sheet)
        power_coeff_w_per_hz3=_phi(700.0, 1.83e9),  # NVIDIA data sheet: up to 700 W
        pue=UPTIME_2023_PUE,
        memory_bandwidth_bytes_per_s=3.35e12,  # NVIDIA data sheet: 3.35 TB/s HBM3
        memory_bytes=80 * GB,  # NVIDIA data sheet: 80 GB
        weight_bits_supported=(16, 8, 4, 3, 2),  # vLLM GPTQ kernels: 2/3/4/8-bit weights
    ),
)
