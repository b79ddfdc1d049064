"""The trace: its declared columns (units, roles, parts and totals), the writer (chunked Parquet,
bounded buffers) and the generated docs."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from coinfer.emulator.api.run import simulate
from coinfer.emulator.records import build
from coinfer.emulator.scenario.schema import scenario_from_dict
from coinfer.emulator.trace.columns import (
    COLUMN_NAMES,
    REQUIRED_COLUMNS,
    SCHEMA,
    TRACE,
    TraceWriter,
)
from coinfer.emulator.trace.table import CATEGORY, Column, ColumnGroup, Role, Table

REQUIRED = [
    "request_id",
    "device_id",
    "cell_id",
    "server_id",
    "policy",
    "model",
    "split",
    "rho_device",
    "rho_server",
    "tx_power_w",
    "f_device_hz",
    "f_server_hz",
    "payload_bits",
    "t_arrival",
    "t_done",
    "status",
    "latency_s",
    "latency_device_queue_s",
    "latency_device_compute_s",
    "latency_uplink_s",
    "latency_server_queue_s",
    "latency_server_compute_s",
    "latency_downlink_s",
    "energy_device_compute_j",
    "energy_uplink_j",
    "energy_server_j",
    "energy_device_j",
    "energy_total_j",
    "distortion_bound",
    "predicted_latency_s",
    "predicted_energy_j",
    "deadline_s",
    "deadline_met",
    "energy_budget_j",
]


def test_required_columns_have_exactly_the_specified_names():
    assert list(REQUIRED_COLUMNS) == REQUIRED
    assert list(SCHEMA.names) == list(COLUMN_NAMES)


def test_long_runs_are_written_in_row_groups(tmp_path, monkeypatch):
    import coinfer.emulator.api.run as run_module

    original = run_module.TraceWriter

    def small_chunks(labels, path, **options):
        return original(labels, path, chunk_rows=100, **options)

    monkeypatch.setattr(run_module, "TraceWriter", small_chunks)
    scenario = scenario_from_dict(
        {
            "requests": 1000,
            "devices": [
                {"name": "d", "count": 5, "arrivals": {"process": "poisson", "rate_per_s": 1}}
            ],
            "policy": {"name": "fixed", "params": {"split": 0}},
        }
    )
    result = simulate(scenario, seed=3, out_dir=tmp_path)
    metadata = pq.ParquetFile(tmp_path / "trace.parquet").metadata
    assert metadata.num_rows == 1000 and metadata.num_row_groups == 10
    assert result.trace["request_id"].sort_values().tolist() == list(range(1000))
    assert str(result.trace["device_id"].dtype) == "category"


# ---- the declaration ---------------------------------------------------------------------------

SUFFIX_UNITS = {"_s": "s", "_j": "J", "_w": "W", "_hz": "Hz", "_bits": "bit", "_bytes": "B"}
#: A unit said inside the name, before what it counts (``weight_bits_device``).
INFIX_UNITS = {"_bits_": "bit", "_bytes_": "B"}


def test_every_column_has_the_si_unit_its_name_says():
    """A name ending in ``_s``, ``_j``, ``_w``, ``_hz``, ``_bits`` or ``_bytes`` (or holding
    ``_bits_`` or ``_bytes_``) carries that SI unit, an instant (``t_arrival``, ``t_done``) is in
    seconds, any other column with a unit has a name that says it (or is a ratio: unit 1)."""
    for column in TRACE.columns:
        said = [unit for suffix, unit in SUFFIX_UNITS.items() if column.name.endswith(suffix)]
        said += [unit for infix, unit in INFIX_UNITS.items() if infix in column.name]
        if said:
            assert column.unit == said[0], column.name
        elif column.role is Role.TIME:
            assert column.unit == "s", column.name
        else:
            assert column.unit in ("", "1"), column.name
        assert column.description, column.name


def test_the_parts_and_their_totals():
    assert TRACE.parts_of("latency_s") == (
        "latency_device_queue_s",
        "latency_device_compute_s",
        "latency_uplink_s",
        "latency_server_queue_s",
        "latency_server_compute_s",
        "latency_downlink_s",
        "latency_backhaul_s",
        "cold_start_s",
    )
    assert TRACE.parts_of("energy_device_j") == ("energy_device_compute_j", "energy_uplink_j")
    assert TRACE.parts_of("energy_total_j") == (
        "energy_device_compute_j",
        "energy_uplink_j",
        "energy_server_j",
    )
    assert TRACE.totals() == ("latency_s", "energy_device_j", "energy_total_j")
    assert TRACE.names_with(Role.LATENCY_PART) == TRACE.parts_of("latency_s")
    assert TRACE.names_with(Role.ENERGY_PART) == TRACE.parts_of("energy_total_j")


def test_the_decision_columns_are_fields_of_the_decision():
    from coinfer.policies.base import Decision

    decision = TRACE.names_with(Role.DECISION)
    assert decision == (
        "split",
        "rho_device",
        "rho_server",
        "tx_power_w",
        "f_device_hz",
        "f_server_hz",
        "weight_bits_device",
        "weight_bits_server",
        "payload_bits_per_value",
        "kv_cache_bits",
    )
    assert set(decision) <= set(Decision._fields)


def test_a_row_built_by_name_lands_in_its_columns(tmp_path):
    """Each column of a row built with ``build(TRACE, ...)`` reads back with its own value, through
    the writer and the Parquet file; categorical columns hold codes into their labels."""
    values, expected = {}, {}
    for index, column in enumerate(TRACE.columns):
        if column.categorical:
            values[column.name] = 1
            expected[column.name] = f"{column.name}-label"
        elif column.dtype == pa.bool_():
            values[column.name] = expected[column.name] = index % 2 == 0
        else:
            values[column.name] = expected[column.name] = index + 1
    labels = {c.name: ["unused", f"{c.name}-label"] for c in TRACE.columns if c.categorical}
    writer = TraceWriter(labels, tmp_path / "trace.parquet")
    writer.append(build(TRACE, **values))
    writer.close()
    row = writer.table().to_pylist()[0]
    assert row == expected
    assert pq.read_schema(tmp_path / "trace.parquet") == SCHEMA


def test_a_table_refuses_repeated_columns_and_parts_of_unknown_totals():
    total = Column("t_s", pa.float64(), "s", Role.LATENCY, "total")
    part = Column("p_s", pa.float64(), "s", Role.LATENCY_PART, "part", ("t_s",))
    with pytest.raises(ValueError, match=r"repeated columns \['t_s'\]"):
        Table("x", "", (ColumnGroup("g", "", (total, total)),))
    with pytest.raises(ValueError, match=r"p_s is part of unknown columns \['t_s'\]"):
        Table("x", "", (ColumnGroup("g", "", (part,)),))
    table = Table("x", "", (ColumnGroup("g", "", (total, part)),))
    with pytest.raises(KeyError, match="table 'x' has no column 'q_s'"):
        table.require("t_s", "q_s")


def test_an_added_group_comes_after_the_existing_columns():
    """How the next columns are added: a group appended, every older column where it was."""
    tokens = ColumnGroup(
        "generative",
        "tokens",
        (Column("ttft_s", pa.float64(), "s", Role.OUTCOME, "time to first token"),),
    )
    extended = TRACE.extended(tokens)
    assert extended.field_names == (*TRACE.field_names, "ttft_s")
    assert extended.schema.field("ttft_s").type == pa.float64()
    assert extended.group("generative") is tokens


def test_the_docs_generator_checks_and_rewrites_blocks(tmp_path):
    from coinfer.emulator.trace.docs import main, render

    stale = "<!-- columns of trace: generated -->\nold\n<!-- end of columns -->\n"
    doc = tmp_path / "doc.md"
    doc.write_text(stale, encoding="utf-8")
    assert main(["--check", str(doc)]) == 1 and doc.read_text(encoding="utf-8") == stale
    assert main([str(doc)]) == 0
    assert "| `latency_backhaul_s` |" in doc.read_text(encoding="utf-8")
    assert main(["--check", str(doc)]) == 0
    with pytest.raises(KeyError, match="no declared table 'nothing'"):
        render("<!-- columns of nothing: x -->\n<!-- end of columns -->")


def test_a_second_table_is_declared_written_and_documented_the_same_way(tmp_path, monkeypatch):
    """A table that is not one row per request (tokens, say) is a Table of its own: the same
    builder, writer and generated docs serve it once it is in TABLES."""
    from coinfer.emulator.trace.columns import TABLES
    from coinfer.emulator.trace.docs import render
    from coinfer.emulator.trace.writer import TableWriter

    token = ColumnGroup(
        "token",
        "one row per generated token",
        (
            Column("request_id", pa.int64(), "", Role.IDENTITY, "request of the token"),
            Column("token_index", pa.int32(), "", Role.IDENTITY, "position in the output"),
            Column("t_emitted", pa.float64(), "s", Role.TIME, "time the token was emitted"),
        ),
    )
    tokens = Table("tokens", "the tokens of generative requests", (token,))
    writer = TableWriter(tokens, {}, tmp_path / "tokens.parquet")
    writer.append(build(tokens, t_emitted=0.25, request_id=3, token_index=0))
    writer.close()
    assert pq.read_table(tmp_path / "tokens.parquet").to_pylist() == [
        {"request_id": 3, "token_index": 0, "t_emitted": 0.25}
    ]
    monkeypatch.setitem(TABLES, "tokens", tokens)
    doc = render("<!-- columns of tokens: generated -->\n<!-- end of columns -->")
    assert "| `t_emitted` | float64 | s | time | time the token was emitted |" in doc


def test_rows_are_buffered_flat_and_a_row_of_another_width_is_refused(tmp_path):
    """The writer keeps its buffered rows as one flat list (column j of row i at i·width + j):
    rows of the declared width come back column by column, in order; a row of another width
    cannot be told apart once buffered, so the flush refuses the buffer instead of shifting
    every later column."""
    from coinfer.emulator.trace.writer import TableWriter

    pair = ColumnGroup(
        "pair",
        "two columns",
        (
            Column("request_id", pa.int64(), "", Role.IDENTITY, "request"),
            Column("t_s", pa.float64(), "s", Role.TIME, "a time"),
        ),
    )
    table = Table("pairs", "pairs", (pair,))
    writer = TableWriter(table, {})
    for index in range(5):
        writer.append(build(table, request_id=index, t_s=index / 4))
    assert writer.rows_appended == 5
    writer.flush()
    assert writer.table().to_pydict() == {
        "request_id": [0, 1, 2, 3, 4],
        "t_s": [0.0, 0.25, 0.5, 0.75, 1.0],
    }
    writer.append((5, 1.25, 6))
    with pytest.raises(ValueError, match="expected a multiple of its 2 columns"):
        writer.flush()


def test_columns_given_through_templates_are_the_table_of_whole_rows():
    """A writer that takes some columns as templates (``expand``: a row is its template's
    index, then the other columns) writes the same table, value for value and type for type,
    over several chunks, as a writer given the same rows whole; ``full_row`` gives a row back
    whole, and the same values are the same template."""
    from coinfer.emulator.trace.writer import TableWriter

    group = ColumnGroup(
        "mixed",
        "a varying column between two template columns, one of them categorical",
        (
            Column("budget_j", pa.float64(), "J", Role.BUDGET, "a budget"),
            Column("t_s", pa.float64(), "s", Role.TIME, "a time"),
            Column("model", CATEGORY, "", Role.IDENTITY, "a model"),
        ),
    )
    table = Table("mixed", "mixed", (group,))
    labels = {"model": ["small", "large"]}
    whole = TableWriter(table, labels, chunk_rows=3)
    templated = TableWriter(table, labels, chunk_rows=3)
    templated.expand(("model", "budget_j"))
    rows = [(0.5, 0.1 * i, i % 2) for i in range(7)] + [(2.0, 9.0, 1)]
    for budget_j, t_s, model in rows:
        whole.append(build(table, budget_j=budget_j, t_s=t_s, model=model))
        templated.append((templated.template((model, budget_j)), t_s))
        whole.maybe_flush()
        templated.maybe_flush()
    assert templated.templates == [(0, 0.5), (1, 0.5), (1, 2.0)]
    assert templated.template((1, 0.5)) == 1
    assert templated.full_row((2, 9.0)) == rows[-1]
    whole.close()
    templated.close()
    assert templated.rows_written == whole.rows_written == 8
    assert templated.table().equals(whole.table())
    assert templated.table().schema == table.schema
    assert templated.table().column("model").to_pylist() == ["small", "large"] * 4


def test_a_template_of_another_width_and_a_late_expand_are_refused():
    """A template must give one value per expanded column; ``expand`` comes before any row and
    names columns of the table."""
    from coinfer.emulator.trace.writer import TableWriter

    pair = ColumnGroup(
        "pair",
        "two columns",
        (
            Column("request_id", pa.int64(), "", Role.IDENTITY, "request"),
            Column("t_s", pa.float64(), "s", Role.TIME, "a time"),
        ),
    )
    table = Table("pairs", "pairs", (pair,))
    writer = TableWriter(table, {})
    with pytest.raises(KeyError, match="no column 'budget_j'"):
        writer.expand(("budget_j",))
    writer.expand(("t_s",))
    with pytest.raises(ValueError, match=r"a template of 2 values .* expected one per expanded"):
        writer.template((1.0, 2.0))
    writer.append((writer.template((0.25,)), 3))
    assert writer.rows_appended == 1
    with pytest.raises(RuntimeError, match="after rows were written"):
        writer.expand(("request_id",))
    writer.flush()
    assert writer.table().to_pydict() == {"request_id": [3], "t_s": [0.25]}


def test_a_chunk_with_fewer_rows_than_labels_stores_only_the_labels_it_uses(tmp_path):
    """1,000 device ids and chunks of 4 rows: each row group's dictionary holds the ids its
    rows use, in label order (Parquet would write all 1,000 in every row group); the values
    read back are those written. With more rows than labels the dictionary is all of them."""
    import pyarrow.parquet as pq

    from coinfer.emulator.trace.writer import TableWriter

    group = ColumnGroup(
        "ids",
        "a categorical id and a time",
        (
            Column("device_id", CATEGORY, "", Role.IDENTITY, "a device"),
            Column("t_s", pa.float64(), "s", Role.TIME, "a time"),
        ),
    )
    table = Table("ids", "ids", (group,))
    labels = {"device_id": [f"dev-{i}" for i in range(1000)]}
    path = tmp_path / "ids.parquet"
    writer = TableWriter(table, labels, path, chunk_rows=4)
    codes = [907, 3, 907, 42, 5, 999, 0, 5, 17]
    for index, code in enumerate(codes):
        writer.append(build(table, device_id=code, t_s=float(index)))
        writer.maybe_flush()
    writer.close()
    stored = pq.ParquetFile(path)
    assert stored.metadata.num_row_groups == 3
    dictionaries = [
        stored.read_row_group(i).column("device_id").chunk(0).dictionary.to_pylist()
        for i in range(3)
    ]
    assert dictionaries == [
        ["dev-3", "dev-42", "dev-907"],
        ["dev-0", "dev-5", "dev-999"],
        ["dev-17"],
    ]
    read = pq.read_table(path).column("device_id").to_pylist()
    assert read == [f"dev-{code}" for code in codes]

    few = TableWriter(table, {"device_id": ["a", "b", "c"]}, chunk_rows=4)
    for index in range(4):
        few.append(build(table, device_id=0, t_s=float(index)))
    few.close()
    assert few.table().column("device_id").chunk(0).dictionary.to_pylist() == ["a", "b", "c"]
