"""In Jupyter a run shows a header and its summary in display units, not the resolved
scenario's repr (coinfer.emulator.api.html)."""

from __future__ import annotations

import re

import pytest

from coinfer.emulator.api.html import shown
from coinfer.emulator.api.run import simulate
from coinfer.emulator.scenario.schema import Scenario
from tests.emulator.sweeps.helpers import SCENARIO


@pytest.fixture(scope="module")
def result():
    return simulate(Scenario.model_validate({**SCENARIO, "requests": 30}), seed=4)


def test_a_run_displays_its_header_and_summary_not_its_scenario(result):
    page = result._repr_html_()
    assert "scenario <b>tiny</b> · seed 4 · policy <code>fixed</code>" in page
    assert "Scenario(" not in page and "DeviceGroup(" not in page
    p99 = result.summary.latency_p99_s * 1e3
    assert re.search(rf">latency_p99_s</td><td[^>]*>{p99:.4g} ms<", page)


def test_the_text_repr_is_one_line_naming_the_run(result):
    assert repr(result).startswith("RunResult(scenario='tiny', seed=4, policy='fixed', ")
    assert "\n" not in repr(result) and len(repr(result)) < 150


def test_a_summary_displays_each_field_in_its_unit(result):
    summary = result.summary
    page = summary._repr_html_()
    assert page.count("<tr>") == len(
        [k for k, v in summary.to_dict().items() if not isinstance(v, dict)]
    ) + sum(len(v) for v in summary.to_dict().values() if isinstance(v, dict))
    assert shown("latency_mean_s", 0.0123) == "12.3 ms"
    assert shown("energy_per_request_j", 0.5) == "500 mJ"
    assert shown("deadline_met_ratio", 0.25) == "25 %"
    assert shown("server_utilisation.edge", 0.5) == "50 %"
    assert shown("throughput_per_s", 3.0) == "3 /s"
    assert shown("latency_p99_s", float("nan")) == "-"
    assert shown("requests", 12) == "12"
