"""Which trace columns a sweep breaks latency and energy into: the parts of the declaration."""

from coinfer.emulator.sweeps.metrics import breakdown_columns
from coinfer.emulator.sweeps.plots import BREAKDOWN_ORDER, _parts
from coinfer.emulator.trace.columns import COLUMN_NAMES, TRACE
from coinfer.emulator.trace.table import Role


def test_the_breakdown_is_every_declared_part_latency_first():
    assert breakdown_columns(COLUMN_NAMES) == [
        *TRACE.parts_of("latency_s"),
        *TRACE.parts_of("energy_total_j"),
    ]


def test_a_trace_written_before_a_part_existed_is_broken_into_the_parts_it_has():
    older = [name for name in COLUMN_NAMES if name != "latency_backhaul_s"]
    assert "latency_backhaul_s" not in breakdown_columns(older)
    assert len(breakdown_columns(older)) == len(breakdown_columns(COLUMN_NAMES)) - 1


def test_totals_sums_and_budgets_are_not_parts():
    parts = breakdown_columns(COLUMN_NAMES)
    for name in ("latency_s", "energy_device_j", "energy_total_j", "energy_budget_j", "deadline_s"):
        assert name not in parts


def test_the_breakdown_plot_shows_the_declared_latency_parts_in_the_order_a_request_meets_them():
    latency_parts = TRACE.names_with(Role.LATENCY_PART)
    assert set(BREAKDOWN_ORDER) <= set(latency_parts)  # no stale name
    metrics = [f"breakdown.{name}" for name in breakdown_columns(COLUMN_NAMES)]
    assert _parts(["latency_mean_s", *reversed(metrics)]) == [
        *BREAKDOWN_ORDER,
        *(name for name in latency_parts if name not in BREAKDOWN_ORDER),
    ]
    assert _parts(metrics)[3] == "latency_backhaul_s"  # met after the uplink, stored last
