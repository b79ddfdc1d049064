"""Quality tables (docs/quality.md): the shipped tables read, with their citations, and a
malformed table is refused naming the file, the line, the column, the value and what was
expected."""

from __future__ import annotations

import json

import pytest

from coinfer.emulator.errors import InputError
from coinfer.emulator.model.quality import (
    DENSE_BITS,
    read_quality_table,
    shipped_table_paths,
)
from coinfer.emulator.model.quality.tables import REQUIRED_COLUMNS, sidecar_path

HEADER = ",".join(REQUIRED_COLUMNS)
SIDECAR = {
    "id": "toy",
    "source": "made up for a test",
    "table": "table 1",
    "license": "CC0",
    "metrics": {"ppl": {"better": "lower"}},
}


def write_table(tmp_path, rows, sidecar=SIDECAR, header=HEADER):
    path = tmp_path / "toy.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    sidecar_path(path).write_text(json.dumps(sidecar))
    return path


@pytest.mark.parametrize("path", shipped_table_paths(), ids=lambda p: p.stem)
def test_every_shipped_table_reads_and_cites_its_source(path):
    table = read_quality_table(path)
    assert table.id == path.stem
    assert table.source and table.table and table.license
    assert table.points
    assert {p.metric for p in table.points} <= set(table.better)
    # every table has the unpruned, unquantized point of each of its models
    dense = {
        p.model
        for p in table.points
        if p.kept_device == p.kept_server == 1.0
        and p.weight_bits_device == p.weight_bits_server == DENSE_BITS
    }
    assert dense == set(table.models())


def test_a_row_becomes_a_point_with_its_extra_columns(tmp_path):
    rows = ["m,ppl,,,,1,1,16,16,10,,dense", "m,ppl,magnitude,,3,0.5,1,16,16,12.5,0.25,x"]
    path = write_table(tmp_path, rows, header=HEADER + ",note")
    dense, pruned = read_quality_table(path).points
    assert dense.device_blocks is None and dense.method == "" and dense.output_distortion is None
    assert pruned.device_blocks == 3
    assert (pruned.kept_device, pruned.kept_server, pruned.value) == (0.5, 1.0, 12.5)
    assert pruned.output_distortion == 0.25
    assert pruned.extra == {"note": "x"}


@pytest.mark.parametrize(
    ("row", "column", "value"),
    [
        ("m,ppl,,,,0,0,16,16,10,", "kept_device", "0"),
        ("m,ppl,,,,1,1.5,16,16,10,", "kept_server", "1.5"),
        ("m,ppl,,,,1,1,17,16,10,", "weight_bits_device", "17"),
        ("m,ppl,,,,1,1,16,4.5,10,", "weight_bits_server", "4.5"),
        ("m,ppl,,,,1,1,16,16,-3,", "value", "-3"),
        ("m,ppl,,,,1,1,16,16,10,-1", "output_distortion", "-1"),
        ("m,ppl,,,x,1,1,16,16,10,", "device_blocks", "x"),
        ("m,ppl,,,,0.5,1,16,16,10,", "device_blocks", ""),
        ("m,ppl,,,,0.5,0.5,16,16,10,", "method", ""),
        ("m,ppl,,,,1,1,4,4,10,", "quantization", ""),
        (",ppl,,,,1,1,16,16,10,", "model", ""),
    ],
)
def test_a_bad_cell_is_refused_naming_line_column_and_value(tmp_path, row, column, value):
    path = write_table(tmp_path, [row])
    with pytest.raises(InputError) as err:
        read_quality_table(path)
    assert err.value.path == column
    assert err.value.value == value
    assert "line 2" in str(err.value) and column in str(err.value)


def test_a_missing_column_is_named(tmp_path):
    path = write_table(tmp_path, ["m,ppl"], header="model,metric")
    with pytest.raises(InputError, match=r"missing column.*kept_device"):
        read_quality_table(path)


def test_a_metric_the_sidecar_does_not_declare_is_refused(tmp_path):
    path = write_table(tmp_path, ["m,bleu,,,,1,1,16,16,10,"])
    with pytest.raises(InputError, match="metric 'bleu' is not declared"):
        read_quality_table(path)


@pytest.mark.parametrize("field", ["source", "table", "license", "metrics"])
def test_a_sidecar_without_its_citation_is_refused(tmp_path, field):
    sidecar = {k: v for k, v in SIDECAR.items() if k != field}
    path = write_table(tmp_path, ["m,ppl,,,,1,1,16,16,10,"], sidecar=sidecar)
    with pytest.raises(InputError, match=rf"missing field.*{field}"):
        read_quality_table(path)


def test_a_metric_direction_must_be_lower_or_higher(tmp_path):
    sidecar = {**SIDECAR, "metrics": {"ppl": {"better": "smaller"}}}
    path = write_table(tmp_path, ["m,ppl,,,,1,1,16,16,10,"], sidecar=sidecar)
    with pytest.raises(InputError, match=r"metrics\.ppl\.better: got 'smaller'"):
        read_quality_table(path)


def test_a_table_without_its_sidecar_is_refused(tmp_path):
    path = tmp_path / "alone.csv"
    path.write_text(HEADER + "\nm,ppl,,,,1,1,16,16,10,\n")
    with pytest.raises(InputError, match="provenance sidecar"):
        read_quality_table(path)
