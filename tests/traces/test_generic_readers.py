"""Generic CSV readers on small synthetic files: ``time,rate``, ``time,snr_db``, arrivals."""

from __future__ import annotations

import pytest

from coinfer.emulator.errors import InputError
from coinfer.traces.readers.generic import read_arrivals_csv, read_capacity_csv, read_snr_csv


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_capacity_with_header_and_uniform_last_interval(tmp_path):
    path = write(tmp_path, "cap.csv", "time,rate\n0,1e6\n1,2e6\n2,0\n")
    trace = read_capacity_csv(path)
    assert trace.duration_s == 3.0  # the last value lasts as long as the one before it
    assert list(trace.rates_bps) == [1e6, 2e6, 0.0]
    assert trace.mean_bps == pytest.approx(1e6)
    assert trace.provenance.source == "cap.csv"
    assert trace.provenance.path == str(path)


def test_capacity_without_header_and_an_explicit_duration(tmp_path):
    path = write(tmp_path, "cap.csv", "0,5e6\n0.5,1e6\n")
    trace = read_capacity_csv(path, duration_s=10.0)
    assert trace.duration_s == 10.0
    assert trace.bits_between(0.0, 10.0) == pytest.approx(0.5 * 5e6 + 9.5 * 1e6)


def test_capacity_header_aliases(tmp_path):
    path = write(tmp_path, "cap.csv", "time_s,rate_bps\n0,1\n2,3\n")
    assert read_capacity_csv(path).duration_s == 4.0


def test_snr_csv(tmp_path):
    path = write(tmp_path, "snr.csv", "time,snr_db\n0,20\n0.5,-3.5\n")
    trace = read_snr_csv(path)
    assert trace.duration_s == 1.0
    assert trace.snr_db_at(0.7) == -3.5
    assert trace.snr_linear_at(0.1) == pytest.approx(100.0)


def test_arrivals_times_only_and_with_tokens(tmp_path):
    times = read_arrivals_csv(write(tmp_path, "a.csv", "0.5\n0.5\n2.25\n"))
    assert list(times.times_s) == [0.5, 0.5, 2.25]  # not shifted
    assert times.input_tokens is None
    tokens = read_arrivals_csv(
        write(tmp_path, "b.csv", "time,input_tokens,output_tokens\n0,100,10\n1.5,20,3\n")
    )
    assert list(tokens.input_tokens) == [100, 20]
    assert list(tokens.output_tokens) == [10, 3]


@pytest.mark.parametrize(
    ("reader", "text", "line", "message"),
    [
        (read_capacity_csv, "time,rate\n0,1e6\n1,fast\n", 3, "got 'fast', expected a capacity"),
        (read_capacity_csv, "time,rate\n0,1e6\n1,-5\n", 3, "got -5, expected a capacity >= 0"),
        (read_capacity_csv, "time,rate\n1,1e6\n2,1e6\n", 2, "expected the first time to be 0"),
        (read_capacity_csv, "0,1\n2,1\n2,1\n", 3, "expected increasing times"),
        (read_capacity_csv, "time,speed\n0,1\n", 1, "expected a header time,rate"),
        (read_capacity_csv, "0,1\n\n2,1\n", 2, "got '', expected a time in s"),
        (read_capacity_csv, "0,1\n1\n", 2, "got '', expected a capacity"),
        (read_snr_csv, "time,snr_db\n0,1\n1,nan\n", 3, "got 'nan', expected an SNR in dB"),
        (read_arrivals_csv, "time\n0\n3\n2\n", 4, "got 2, expected nondecreasing times"),
        (read_arrivals_csv, "-1\n", 1, "got -1, expected an arrival time >= 0"),
        (read_arrivals_csv, "0,1.5,2\n", 1, "got 1.5, expected a whole number of tokens"),
        (read_arrivals_csv, "0,1\n", 1, "expected columns time,input_tokens,output_tokens"),
    ],
)
def test_malformed_files_are_refused_naming_file_line_and_value(
    tmp_path, reader, text, line, message
):
    path = write(tmp_path, "bad.csv", text)
    with pytest.raises(InputError) as info:
        reader(path)
    assert str(info.value).startswith(f"{path}, line {line}: ")
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        ("", {}, "the file is empty"),
        ("time,rate\n", {}, "only a header"),
        ("0,1\n", {}, "one row and no duration"),
        ("0,1\n1,1\n", {"duration_s": 1.0}, "expected more than the last time 1.0 s"),
        ('0,1\n1,"2\n', {}, "not a valid CSV file"),
    ],
)
def test_unusable_files_are_refused(tmp_path, text, kwargs, message):
    path = write(tmp_path, "bad.csv", text)
    with pytest.raises(InputError, match=message):
        read_capacity_csv(path, **kwargs)


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_arrivals_csv(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="a directory"):
        read_arrivals_csv(tmp_path)
