"""Every plot kind writes a non-empty PNG and PDF; bad choices are refused clearly."""

import numpy as np
import pytest

from coinfer.emulator.errors import InputError
from coinfer.emulator.sweeps.aggregate import collect
from coinfer.emulator.sweeps.executors import SerialExecutor
from coinfer.emulator.sweeps.plots import OKABE_ITO, PlotOptions, pareto_front, plot, save_figure
from coinfer.emulator.sweeps.runner import run_sweep
from tests.emulator.sweeps.helpers import plan_of, sweep_data


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    data = sweep_data(
        axes={"devices.0.arrivals.rate_per_s": [1.0, 4.0], "devices.0.deadline_s": [0.2, 0.4]},
        seeds=[1, 2],
    )
    outcome = run_sweep(
        plan_of(data), tmp_path_factory.mktemp("plots"), SerialExecutor(), progress=False
    )
    return outcome.store, collect(outcome.store)


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("cdf", PlotOptions(where=(("devices.0.deadline_s", 0.2),))),
        ("load", PlotOptions(where=(("devices.0.deadline_s", 0.2),))),
        ("load", PlotOptions(x="devices.0.arrivals.rate_per_s")),
        ("pareto", PlotOptions(latency="p99")),
        ("breakdown", PlotOptions(where=(("policy", "min-latency"),))),
        ("breakdown", PlotOptions(by="split")),
        ("distortion", PlotOptions()),
    ],
)
def test_each_kind_writes_a_png_and_a_pdf(swept, tmp_path, kind, options):
    store, tables = swept
    figure = plot(kind, tables, store, options)
    png, pdf = save_figure(figure, tmp_path / kind)
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 10_000
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 5_000
    colours = {line.get_color().upper() for ax in figure.axes for line in ax.get_lines()}
    assert colours <= {c.upper() for c in OKABE_ITO} | {"#000000", "BLACK", "K"}


@pytest.mark.parametrize(
    ("kind", "options", "message", "argument"),
    [
        ("distortion", PlotOptions(x="cells.0.bandwidth_hz"), "x cells.0.bandwidth_hz: not a", "x"),
        (
            "cdf",
            PlotOptions(where=(("devices.0.count", 3),)),
            "where devices.0.count: not",
            "where",
        ),
        ("cdf", PlotOptions(where=(("policy", "oracle"),)), "no finished run matches", None),
        ("pareto", PlotOptions(latency="p42"), "latency: got 'p42'", "latency"),
        ("breakdown", PlotOptions(by="cell"), "by: got 'cell'", "by"),
        ("violin", PlotOptions(), "kind: got 'violin'", "kind"),
    ],
)
def test_bad_plot_choices_are_refused(swept, kind, options, message, argument):
    """The error names the option by its PlotOptions name (the command line by its flag)."""
    store, tables = swept
    with pytest.raises(InputError) as caught:
        plot(kind, tables, store, options)
    assert message in str(caught.value) and caught.value.argument == argument


def test_a_plot_without_its_axis_names_the_axes_there_are(tmp_path):
    outcome = run_sweep(plan_of(sweep_data(seeds=[1])), tmp_path, SerialExecutor(), progress=False)
    with pytest.raises(InputError) as caught:
        plot("distortion", outcome.tables, outcome.store, PlotOptions())
    assert str(caught.value).startswith("plot distortion: x: not given")
    assert caught.value.expected == "one of: devices.0.arrivals.rate_per_s"


def test_pareto_front_keeps_the_points_nothing_beats():
    x = np.array([1.0, 2.0, 3.0, 2.5, 4.0, np.nan])
    y = np.array([5.0, 3.0, 4.0, 1.0, 1.0, 0.0])
    assert list(pareto_front(x, y)) == [0, 1, 3]
