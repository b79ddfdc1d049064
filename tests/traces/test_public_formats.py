"""Readers of the public formats on tiny synthetic files written here (no real data needed)."""

from __future__ import annotations

import json
import zipfile

import pytest

from coinfer.emulator.errors import InputError
from coinfer.traces import LinkCapacityTrace, SnrTrace
from coinfer.traces.readers.azure import read_azure_llm
from coinfer.traces.readers.fivegophers import read_5gophers
from coinfer.traces.readers.mooncake import read_mooncake
from coinfer.traces.readers.ucc5g import list_members, read_ucc5g, read_ucc5g_seconds

# ---- 5Gophers ---------------------------------------------------------------------------------

DRIVING = """protocol,num_tcp_conn,seq_num,Sprint_throughput_mbps,Verizon_throughput_mbps
TCP,8,0,10.0,100.0
TCP,8,1,20.0,0.0
TCP,8,4,30.0,50.0
"""


def test_5gophers_per_second_throughput_with_a_gap_held(tmp_path):
    path = tmp_path / "car.csv"
    path.write_text(DRIVING)
    trace = read_5gophers(path, "Sprint_throughput_mbps")
    assert isinstance(trace, LinkCapacityTrace)
    assert trace.duration_s == 5.0
    assert trace.capacity_at(0.5) == pytest.approx(10e6)
    assert trace.capacity_at(3.0) == pytest.approx(20e6)  # seq 2-3 missing: held
    assert trace.mean_bps == pytest.approx((10 + 3 * 20 + 30) * 1e6 / 5.0)
    assert "1 gap(s) held" in trace.provenance.notes


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        (
            DRIVING,
            "TMobile_throughput_mbps",
            r"line 1: missing column\(s\) TMobile_throughput_mbps",
        ),
        (DRIVING.replace("20.0", "fast"), "Sprint_throughput_mbps", "line 3: got 'fast'"),
        (DRIVING.replace("TCP,8,4", "TCP,8,1"), "Sprint_throughput_mbps", "line 4: got 1"),
        (DRIVING.replace("10.0", "-1"), "Sprint_throughput_mbps", "line 2: got -1"),
    ],
)
def test_5gophers_malformed(tmp_path, text, column, message):
    path = tmp_path / "car.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as info:
        read_5gophers(path, column)
    assert str(info.value).startswith(str(path))


# ---- UCC 5G -----------------------------------------------------------------------------------

UCC_HEADER = (
    "Timestamp,Longitude,Latitude,Speed,Operatorname,CellID,NetworkMode,RSRP,RSRQ,SNR,CQI,"
    "RSSI,DL_bitrate,UL_bitrate,State\n"
)
UCC_ROWS = [
    "2019.12.16_13.40.04,-8.4,51.9,0,B,1,5G,-90,-11,-,-,-,100,10,D",
    "2019.12.16_13.40.05,-8.4,51.9,0,B,1,5G,-90,-11,10,9,-,1000,20,D",
    "2019.12.16_13.40.05,-8.4,51.9,0,B,1,5G,-90,-11,12,11,-,3000,40,D",
    "2019.12.16_13.40.08,-8.4,51.9,0,B,1,5G,-90,-11,4,-,-,500,-,D",
]
MEMBER = "5G-production-dataset/Download/Static/B_2019.12.16_13.40.04.csv"


def make_zip(tmp_path, rows=UCC_ROWS, header=UCC_HEADER):
    path = tmp_path / "5G-production-dataset.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(MEMBER, header + "\n".join(rows) + "\n")
        archive.writestr("__MACOSX/5G-production-dataset/._B_2019.12.16_13.40.04.csv", b"\0\1")
    return path


def test_ucc_logs_are_read_from_the_zip_and_aggregated_per_second(tmp_path):
    path = make_zip(tmp_path)
    assert list_members(path) == [MEMBER]
    log = read_ucc5g_seconds(path, "Download/Static/B_2019.12.16_13.40.04.csv")
    assert list(log.seconds) == [0, 1, 4]
    assert log.duration_s == 5.0
    assert log.snr_db[1] == pytest.approx(11.0)  # the two rows of second 1 averaged
    assert log.cqi[1] == pytest.approx(10.0)
    assert log.dl_bps == pytest.approx([100e3, 2000e3, 500e3])


def test_ucc_series_become_typed_traces(tmp_path):
    path = make_zip(tmp_path)
    snr = read_ucc5g(path, MEMBER, "snr")
    assert isinstance(snr, SnrTrace)
    assert snr.duration_s == 5.0
    assert snr.snr_db_at(0.5) == pytest.approx(11.0)  # before the first value: the first value
    assert snr.snr_db_at(3.5) == pytest.approx(11.0)  # seconds 2-3 missing: held
    assert snr.snr_db_at(4.5) == pytest.approx(4.0)
    uplink = read_ucc5g(path, MEMBER, "ul")
    assert isinstance(uplink, LinkCapacityTrace)
    assert uplink.capacity_at(4.5) == pytest.approx(30e3)  # '-' at second 4: held
    assert uplink.mean_bps == pytest.approx((10 + 4 * 30) * 1e3 / 5.0)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([*UCC_ROWS[:2], UCC_ROWS[2].replace("12,11", "12,high")], "line 4: got 'high'"),
        ([UCC_ROWS[0].replace("2019.12.16_13.40.04", "yesterday")], "line 2: got 'yesterday'"),
        ([UCC_ROWS[0].replace(",100,10,", ",-100,10,")], "line 2: got -100"),
    ],
)
def test_ucc_malformed_rows_are_refused(tmp_path, rows, message):
    path = make_zip(tmp_path, rows)
    with pytest.raises(InputError, match=message) as info:
        read_ucc5g(path, MEMBER, "snr")
    assert str(info.value).startswith(f"{path}:{MEMBER}, line ")


def test_ucc_refusals(tmp_path):
    path = make_zip(tmp_path, [UCC_ROWS[0]])
    with pytest.raises(InputError, match="no SNR values"):
        read_ucc5g(path, MEMBER, "snr")
    with pytest.raises(InputError, match="no member"):
        read_ucc5g(path, "Download/Static/none.csv", "snr")
    with pytest.raises(InputError, match="expected one of snr, dl, ul"):
        read_ucc5g(path, MEMBER, "rsrp")
    with pytest.raises(InputError, match="missing column"):
        read_ucc5g(make_zip(tmp_path, header="Timestamp,SNR\n"), MEMBER, "snr")
    not_zip = tmp_path / "plain.zip"
    not_zip.write_text("hello")
    with pytest.raises(InputError, match="not a zip file"):
        read_ucc5g(not_zip, MEMBER, "snr")


# ---- Azure LLM 2023 ---------------------------------------------------------------------------

AZURE = """TIMESTAMP,ContextTokens,GeneratedTokens
2023-11-16 18:17:03.9799600,4808,10
2023-11-16 18:17:04.0319600,3180,8
2023-11-16 18:17:04.0319600,20,0
2023-11-16 18:17:13.9799600,7,300
"""


def test_azure_arrivals_and_tokens(tmp_path):
    path = tmp_path / "AzureLLMInferenceTrace_code.csv"
    path.write_text(AZURE)
    trace = read_azure_llm(path)
    assert trace.times_s == pytest.approx([0.0, 0.052, 0.052, 10.0])
    assert list(trace.input_tokens) == [4808, 3180, 20, 7]
    assert list(trace.output_tokens) == [10, 8, 0, 300]
    assert trace.mean_rate_per_s == pytest.approx(0.4)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("2023-11-16 18:17:04.0319600,3180", "16/11/2023,3180", "line 3: got '16/11/2023'"),
        ("3180,8", "3180,eight", "line 3: got 'eight', expected a whole number of tokens"),
        ("3180,8", "3180.5,8", "line 3: got 3180.5, expected a whole number of tokens"),
        ("20,0", "20,-2", "line 4: got -2, expected a number of tokens >= 0"),
        ("18:17:13.9", "18:16:13.9", "line 5: got '2023-11-16 18:16:13.9799600', expected non"),
        ("GeneratedTokens", "Generated", "line 1: missing column"),
    ],
)
def test_azure_malformed(tmp_path, old, new, message):
    path = tmp_path / "trace.csv"
    path.write_text(AZURE.replace(old, new, 1))
    with pytest.raises(InputError, match=message) as info:
        read_azure_llm(path)
    assert str(info.value).startswith(str(path))


# ---- Mooncake ---------------------------------------------------------------------------------


def mooncake_lines(records):
    return "".join(json.dumps(record) + "\n" for record in records)


RECORDS = [
    {"timestamp": 0, "input_length": 6758, "output_length": 500, "hash_ids": [0, 1]},
    {"timestamp": 0, "input_length": 10, "output_length": 3, "hash_ids": [0]},
    {"timestamp": 2500, "input_length": 99, "output_length": 7, "hash_ids": []},
]


def test_mooncake_keeps_file_order_and_repeated_timestamps(tmp_path):
    path = tmp_path / "conversation_trace.jsonl"
    path.write_text(mooncake_lines(RECORDS))
    trace = read_mooncake(path)
    assert list(trace.times_s) == [0.0, 0.0, 2.5]
    assert list(trace.input_tokens) == [6758, 10, 99]
    assert list(trace.output_tokens) == [500, 3, 7]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (mooncake_lines(RECORDS[:2]) + "{not json\n", "line 3: got '{not json', expected one"),
        (mooncake_lines([RECORDS[2], RECORDS[0]]), "line 2: got 0, expected nondecreasing"),
        (mooncake_lines([{"timestamp": 1, "input_length": 2}]), "expected a 'output_length'"),
        (mooncake_lines([{**RECORDS[0], "input_length": -3}]), "line 1: got -3"),
        (mooncake_lines([{**RECORDS[0], "output_length": 2.5}]), "line 1: got 2.5"),
        (mooncake_lines([{**RECORDS[0], "timestamp": "soon"}]), "line 1: got 'soon'"),
        ("[1, 2]\n", r"line 1: got \[1, 2\], expected a JSON object"),
        ("\n", "no requests"),
    ],
)
def test_mooncake_malformed(tmp_path, text, message):
    path = tmp_path / "trace.jsonl"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as info:
        read_mooncake(path)
    assert str(info.value).startswith(str(path))
