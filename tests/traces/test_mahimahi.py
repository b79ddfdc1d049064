"""The Mahimahi reader on synthetic files: exact packets per millisecond, the loop, refusals."""

from __future__ import annotations

import pytest

from coinfer.emulator.errors import InputError
from coinfer.traces.readers.mahimahi import PACKET_BITS, read_mahimahi


def write(tmp_path, lines: list[object], name: str = "link.down"):
    path = tmp_path / name
    path.write_text("".join(f"{line}\n" for line in lines), encoding="ascii")
    return path


def test_one_packet_per_millisecond_is_12_mbit_per_s(tmp_path):
    trace = read_mahimahi(write(tmp_path, [1]))
    assert trace.duration_s == 0.001
    assert trace.mean_bps == pytest.approx(12e6)
    assert trace.bits_between(0.0, 10.0) == pytest.approx(10.0 * 12e6)
    assert trace.time_to_send(0.0, 12e6) == pytest.approx(1.0)


def test_repeated_timestamps_are_several_packets_in_that_millisecond(tmp_path):
    # ms 1: 2 packets, ms 2: none, ms 3: 1, ms 4: 3 -> period 4 ms, 6 packets.
    trace = read_mahimahi(write(tmp_path, [1, 1, 3, 4, 4, 4]))
    assert trace.duration_s == pytest.approx(0.004)
    assert trace.period_bits == 6 * PACKET_BITS
    assert trace.mean_bps == pytest.approx(6 * PACKET_BITS / 0.004)
    assert trace.capacity_at(0.0005) == pytest.approx(2 * PACKET_BITS / 0.001)
    assert trace.capacity_at(0.0015) == 0.0
    assert trace.capacity_at(0.0035) == pytest.approx(3 * PACKET_BITS / 0.001)
    # The opportunity at ms m is the capacity of [m - 1, m): the 2 packets of ms 1 are
    # through by t = 1 ms, exactly.
    assert trace.bits_between(0.0, 0.001) == 2 * PACKET_BITS
    assert trace.time_to_send(0.0, 3 * PACKET_BITS) == pytest.approx(0.003)


def test_a_zero_timestamp_lands_at_the_end_of_the_previous_loop(tmp_path):
    trace = read_mahimahi(write(tmp_path, [0, 2, 2]))
    assert trace.period_bits == 3 * PACKET_BITS
    assert trace.capacity_at(0.0005) == 0.0
    assert trace.capacity_at(0.0015) == pytest.approx(3 * PACKET_BITS / 0.001)


def test_runs_of_equal_capacity_are_merged_without_changing_the_bits(tmp_path):
    stamps = [1, 2, 3, 4, 8, 8, 9, 9, 10]
    fine = read_mahimahi(write(tmp_path, stamps))
    assert fine.num_intervals == 4  # 1..4 at one packet, 5..7 idle, 8..9 at two, 10 at one
    assert fine.period_bits == len(stamps) * PACKET_BITS
    coarse = read_mahimahi(write(tmp_path, stamps), bin_s=0.004)  # bins of 4, 4 and 2 ms
    assert coarse.period_bits == fine.period_bits
    assert coarse.window_rates_bps(0.004) == pytest.approx(fine.window_rates_bps(0.004))
    assert coarse.capacity_at(0.0095) == pytest.approx(3 * PACKET_BITS / 0.002)


def test_loop_is_continuous_across_its_seam(tmp_path):
    trace = read_mahimahi(write(tmp_path, [1, 1, 5, 7, 7, 9, 10]))
    period = trace.duration_s
    for t0, t1 in [(0.0042, 0.0135), (0.0099, 0.0101), (0.001, 0.051)]:
        seam = period * (t1 // period)
        parts = trace.bits_between(t0, seam) + trace.bits_between(seam, t1)
        assert trace.bits_between(t0, t1) == pytest.approx(parts, abs=1e-6)


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        ("1\n2\nx\n", 3, "got 'x', expected an integer"),
        ("1\n\n2\n", 2, "got '', expected an integer"),
        ("1\n2.5\n", 2, "got '2.5', expected an integer"),
        ("3\n-1\n", 2, "got '-1', expected a nonnegative integer"),
        ("3\n5\n4\n", 3, "got '4', expected nondecreasing milliseconds (the line before has 5)"),
        ("0\n0\n", 2, "expected a last timestamp > 0"),
        ("1\n\xe9\n", 2, "expected ASCII text"),
    ],
)
def test_malformed_files_are_refused_naming_file_and_line(tmp_path, content, line, message):
    path = tmp_path / "bad.up"
    path.write_bytes(content.encode("latin-1"))
    with pytest.raises(InputError) as info:
        read_mahimahi(path)
    assert str(info.value).startswith(f"{path}, line {line}: ")
    assert message in str(info.value)


def test_empty_file_and_bad_bins_are_refused(tmp_path):
    empty = tmp_path / "empty.down"
    empty.write_text("")
    with pytest.raises(InputError, match="the file is empty"):
        read_mahimahi(empty)
    with pytest.raises(InputError, match="whole number of milliseconds"):
        read_mahimahi(write(tmp_path, [1]), bin_s=0.0015)
