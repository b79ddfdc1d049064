"""Facts of the real public traces in ../shared/traces (each test skips when its file is absent).

The expected values are those published in ../shared/traces/README.md, computed from these exact
files: Mahimahi mean capacity = packets x 1500 B x 8 / duration.
"""

from __future__ import annotations

import pytest

from coinfer.traces.readers.azure import read_azure_llm
from coinfer.traces.readers.fivegophers import read_5gophers
from coinfer.traces.readers.mahimahi import read_mahimahi
from coinfer.traces.readers.mooncake import read_mooncake
from coinfer.traces.readers.ucc5g import list_members, read_ucc5g
from tests.traces.conftest import shared_file


@pytest.mark.parametrize(
    ("name", "mean_mbps", "duration_s"),
    [
        ("Verizon-LTE-short.down", 5.0, 140.0),
        ("Verizon-LTE-short.up", 5.9, 140.0),
        ("TMobile-LTE-short.down", 16.7, None),
        ("ATT-LTE-driving.down", 5.2, 786.0),
        ("TMobile-UMTS-driving.down", 2.0, None),
        ("Verizon-EVDO-driving.down", 0.52, None),
    ],
)
def test_mahimahi_mean_capacity(name, mean_mbps, duration_s):
    trace = read_mahimahi(shared_file(f"mahimahi/{name}"))
    digits = 2 if mean_mbps < 1 else 1
    assert round(trace.mean_bps / 1e6, digits) == mean_mbps
    if duration_s is not None:
        assert round(trace.duration_s) == duration_s


def test_verizon_lte_short_down_is_exact_in_packets():
    path = shared_file("mahimahi/Verizon-LTE-short.down")
    packets = sum(1 for _ in path.open())
    trace = read_mahimahi(path)
    assert trace.period_bits == packets * 12_000
    assert trace.duration_s == 140.0


def test_a_real_loop_is_continuous_and_time_to_send_inverts_it():
    trace = read_mahimahi(shared_file("mahimahi/Verizon-LTE-short.up"))
    period = trace.duration_s
    for t0, t1 in [(130.0, 150.0), (139.9995, 140.0005), (275.3, 1_000.7)]:
        seam = period * (t1 // period)
        total = trace.bits_between(t0, t1)
        assert total == pytest.approx(trace.bits_between(t0, seam) + trace.bits_between(seam, t1))
        end = trace.time_to_send(t0, total)
        assert end <= t1 + 1e-9
        assert trace.bits_between(t0, end) == pytest.approx(total)
        # Nothing can be delivered between `end` and `t1` (it would have been sent earlier).
        assert trace.bits_between(end, t1) == pytest.approx(0.0, abs=1e-3)
    # A whole number of loops carries a whole number of periods' bits.
    assert trace.bits_between(17.0, 17.0 + 3 * period) == pytest.approx(3 * trace.period_bits)


def test_coarser_bins_keep_every_bit():
    path = shared_file("mahimahi/TMobile-LTE-short.down")
    fine = read_mahimahi(path)
    coarse = read_mahimahi(path, bin_s=1.0)
    assert coarse.period_bits == fine.period_bits
    assert coarse.num_intervals == 140  # 139.986 s: the last bin is cut at the period
    assert coarse.window_rates_bps(1.0) == pytest.approx(fine.window_rates_bps(1.0))


def test_azure_code_and_conversation():
    code = read_azure_llm(shared_file("azure-llm-2023/AzureLLMInferenceTrace_code.csv"))
    assert code.count == 8_819
    assert code.duration_s / 60.0 == pytest.approx(57.0, abs=0.5)
    assert code.has_tokens and code.input_tokens.min() >= 0
    conv = read_azure_llm(shared_file("azure-llm-2023/AzureLLMInferenceTrace_conv.csv"))
    assert conv.count == 19_366
    assert conv.duration_s / 60.0 == pytest.approx(58.0, abs=0.5)


def test_mooncake_conversation():
    trace = read_mooncake(shared_file("mooncake/conversation_trace.jsonl"))
    assert trace.count == 12_031
    assert trace.duration_s / 60.0 == pytest.approx(59.0, abs=0.5)
    assert (trace.interarrival_s == 0.0).any()  # timestamps repeat; file order kept


def test_5gophers_driving_and_walking():
    path = shared_file("5gophers/mobility/car-driving-trace-1.csv")
    verizon = read_5gophers(path, "Verizon_throughput_mbps")
    assert verizon.duration_s == 126.0  # seq_num 0..125, seconds 35-40 missing and held
    assert verizon.num_intervals == 120
    walking = read_5gophers(shared_file("5gophers/mobility/walking-trace.csv"))
    assert walking.num_intervals == 603
    assert walking.duration_s == 603.0


def test_ucc_5g_zip():
    path = shared_file("ucc-5g/5G-production-dataset.zip")
    assert len(list_members(path)) == 83
    snr = read_ucc5g(path, "Download/Driving/B_2019.12.16_07.22.43.csv", "snr")
    assert snr.duration_s == 2597.0
    assert -20.0 < snr.mean_db < 40.0
    assert snr.cqi is not None
    downlink = read_ucc5g(path, "Download/Driving/B_2019.12.16_07.22.43.csv", "dl")
    assert downlink.mean_bps > 1e6
