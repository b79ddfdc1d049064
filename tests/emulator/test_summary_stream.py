"""The summary is computed while the trace is written, chunk by chunk, and merges across shards.

Its figures are those of the whole trace: counts and ratios exactly, quantiles exactly (numpy's,
over the same values), means as correctly rounded sums over counts, which do not depend on how
the rows were cut into chunks or shards and are within a couple of ulps of ``numpy.mean``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from coinfer.emulator.api.exact_sum import ExactSum
from coinfer.emulator.api.run import simulate
from coinfer.emulator.api.summary import SummaryAccumulator, summarize
from coinfer.emulator.scenario.schema import load_scenario
from tests.emulator.test_generative_requests import generative_group, scenario


def same(a: dict, b: dict) -> bool:
    """Equal, bit for bit, NaN equal to NaN (nested one level: the utilisations)."""

    def equal(x, y):
        if isinstance(x, dict):
            return x.keys() == y.keys() and all(equal(x[k], y[k]) for k in x)
        if isinstance(x, float) and math.isnan(x):
            return isinstance(y, float) and math.isnan(y)
        return x == y

    return equal(a, b)


# ---- exact sums --------------------------------------------------------------------------------


def test_an_exact_sum_is_fsum_of_all_terms_whatever_the_chunks_and_merges():
    rng = np.random.default_rng(7)
    values = rng.lognormal(0.0, 3.0, 10_000) * rng.choice([-1.0, 1.0], 10_000)
    expected = math.fsum(values.tolist())
    for cuts in ([5_000], [1, 2, 3, 9_000], list(range(0, 10_000, 997))):
        total = ExactSum()
        for part in np.split(values, cuts):
            total.add(part)
        assert total.value == expected and total.count == len(values)
    left, right = ExactSum(), ExactSum()
    left.add(values[::2])
    right.add(values[1::2])
    left.merge(right)
    assert left.value == expected
    assert left.mean() == pytest.approx(values.mean(), rel=1e-15, abs=0)


def test_an_exact_sum_is_exact_where_plain_addition_loses_everything():
    total = ExactSum()
    total.add(np.array([1e16, 1.0, -1e16]))  # plain left-to-right addition gives 0.0
    assert total.value == 1.0


@pytest.mark.parametrize(
    "values",
    [
        np.random.default_rng(3).lognormal(0.0, 150.0, 3_000),  # exponents over ~1,300 binades
        np.array([5e-324, 5e-324, -1e-310, 3.0]),  # subnormals
        np.array([0.1] * 10),  # a sum that is not a float: two terms
        np.array([1e300, 1e300, 1e300, -1e300, -1e300, -1e300, 1e-300]),  # all cancels but one
        np.array([0.0, -0.0]),
    ],
    ids=["wide", "subnormal", "tenths", "cancelling", "zeros"],
)
def test_an_exact_sum_keeps_the_terms_fsum_passes_give(values):
    """The vectorised exact sum (integers per binary exponent) keeps, bit for bit, the terms
    that repeated ``math.fsum`` passes over the same values give (each the correctly rounded
    rest of the exact sum), in one chunk or in several."""
    from coinfer.emulator.api.exact_sum import _expansion

    expected = [term.hex() for term in _expansion(values.tolist())]
    whole, parts = ExactSum(), ExactSum()
    whole.add(values)
    for part in np.array_split(values, 3):
        parts.add(part)
    assert [term.hex() for term in whole._terms] == expected
    assert [term.hex() for term in parts._terms] == expected
    assert whole.value == math.fsum(values.tolist())


def test_an_exact_sum_near_the_largest_float_is_the_rounded_sum():
    """Terms whose running sum leaves the float range still sum to their exact total, when it
    is a float (``math.fsum`` itself stops with an intermediate overflow here)."""
    total = ExactSum()
    total.add(np.array([1e308, 1e308, -1e308]))
    assert total.value == 1e308
    with pytest.raises(OverflowError):
        math.fsum([1e308, 1e308, -1e308])


def test_an_exact_sum_of_none_is_zero_and_its_mean_nan_and_infinities_stay_infinite():
    empty = ExactSum()
    assert empty.value == 0.0 and math.isnan(empty.mean())
    total = ExactSum()
    total.add(np.array([1.0, math.inf]))
    assert total.value == math.inf
    total.add(np.array([-math.inf]))
    assert math.isnan(total.value)


# ---- the summary of a run ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def multi_cell():
    return simulate(load_scenario("examples/scenarios/multi-cell.yaml", ["duration_s=20"]), 2)


@pytest.fixture(scope="module")
def generative():
    slo = {"ttft_s": 0.05, "tpot_s": 0.0105}
    return simulate(scenario([generative_group()], requests=120, warmup_s=5.0, slo=slo))


def empty(result) -> SummaryAccumulator:
    slo = result.scenario.slo
    return SummaryAccumulator(*((slo.ttft_s, slo.tpot_s) if slo else ()))


def accumulate(result, cuts) -> SummaryAccumulator:
    accumulator, table = empty(result), result._table
    for start, stop in zip([0, *cuts], [*cuts, table.num_rows], strict=True):
        accumulator.add(table.slice(start, stop - start))
    return accumulator


@pytest.mark.parametrize("run", ["multi_cell", "generative"])
def test_the_summary_written_with_the_trace_equals_the_summary_of_the_whole_trace(run, request):
    result = request.getfixturevalue(run)
    accumulator = empty(result)
    slos = (accumulator.slo_ttft_s, accumulator.slo_tpot_s)
    whole = summarize(result.trace, result.stats, result.scenario.warmup_s, *slos)
    assert same(result.summary.to_dict(), whole.to_dict())
    rows = len(result.trace)
    for cuts in ([1, 2, 3], list(range(7, rows, 37))):  # any chunks
        chunked = accumulate(result, cuts).summary(result.stats, result.scenario.warmup_s)
        assert same(chunked.to_dict(), whole.to_dict())


@pytest.mark.parametrize("run", ["multi_cell", "generative"])
def test_summaries_of_disjoint_rows_merge_into_the_summary_of_all(run, request):
    result = request.getfixturevalue(run)
    table, half = result._table, result._table.num_rows // 3
    first, second = empty(result), empty(result)
    first.add(table.slice(0, half))
    second.add(table.slice(half))
    second.merge(first)  # in the other order
    merged = second.summary(result.stats, result.scenario.warmup_s)
    assert same(merged.to_dict(), result.summary.to_dict())


def test_the_figures_are_numpys_on_the_measured_rows(multi_cell, generative):
    for result in (multi_cell, generative):
        measured = result.measured_trace
        done = measured[measured["status"] == "completed"]
        summary = result.summary
        assert summary.requests == len(measured) and summary.completed == len(done)
        assert summary.dropped == (measured["status"] == "dropped").sum()
        latency = done["latency_s"].to_numpy()
        for q, value in ((0.5, summary.latency_p50_s), (0.99, summary.latency_p99_s)):
            assert value == np.quantile(latency, q)  # exactly
        for column, value in (
            ("latency_s", summary.latency_mean_s),
            ("energy_total_j", summary.energy_per_request_j),
            ("distortion_bound", summary.distortion_mean),
        ):
            assert value == pytest.approx(done[column].mean(), rel=4e-16, abs=0)
        bounded = np.isfinite(measured["deadline_s"])
        if bounded.any():
            assert summary.deadline_met_ratio == measured["deadline_met"][bounded].mean()
    g, done = generative.summary.generative, generative.measured_trace
    done = done[done["status"] == "completed"]
    assert g["ttft_p99_s"] == np.quantile(done["ttft_s"], 0.99)
    assert g["tpot_p90_s"] == np.nanquantile(done["tpot_s"], 0.9)
    assert 0 < g["slo_attainment"] < 1


def test_the_summary_of_a_run_written_to_disk_never_reads_its_trace_back(tmp_path, monkeypatch):
    scenario = load_scenario("examples/scenarios/multi-cell.yaml", ["duration_s=6", "warmup_s=1"])
    result = simulate(scenario, 3, tmp_path)

    def no_reading(*args, **kwargs):
        raise AssertionError("the trace was read back")

    monkeypatch.setattr("pyarrow.parquet.read_table", no_reading)
    monkeypatch.setattr("pyarrow.parquet.ParquetFile", no_reading)
    assert result.summary.requests > 0
    monkeypatch.undo()
    assert same(result.summary.to_dict(), summarize(result.trace, result.stats, 1.0).to_dict())
