"""Every plot kind writes a non-empty PNG and PDF; bad choices are refused clearly."""

import numpy as np
import pytest

from coinfer.emulator.errors import InputError
from coinfer.emulator.sweeps.aggregate import collect
from coinfer.emulator.sweeps.executors import SerialExecutor
from coinfer.emulator.sweeps.plots import OKABE_ITO, PlotOptions, pareto_front, plot, save_figure
from coinfer.emulator.sweeps.runner import run_sweep
from tests.emulator.sweeps.helpers import GENERATIVE_SWEEP, SCENARIO, plan_of, sweep_data


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


# ---- generative requests: modes × load ----------------------------------------------------------

MODES = ["on-server", {"name": "split", "params": {"layer": 9}}, "on-device"]


@pytest.fixture(scope="module")
def chat(tmp_path_factory):
    """Three modes × two loads × two seeds of the chat cell (SLO: TTFT 0.5 s, TPOT 50 ms)."""
    data = sweep_data(GENERATIVE_SWEEP, policies=MODES)
    outcome = run_sweep(
        plan_of(data), tmp_path_factory.mktemp("chat"), SerialExecutor(), progress=False
    )
    return outcome.store, collect(outcome.store)


def curves(ax):
    """The error-bar curves of a panel: (label, x, y, lower end, upper end of each CI bar)."""
    found = []
    for container in ax.containers:
        line, _, (bars,) = container.lines
        x, y = line.get_data()
        ends = np.array([segment[:, 1] for segment in bars.get_segments()])
        found.append((container.get_label(), np.asarray(x), np.asarray(y), ends[:, 0], ends[:, 1]))
    return found


def dashed_levels(ax):
    return [line.get_ydata()[0] for line in ax.get_lines() if line.get_linestyle() == "--"]


def test_tokens_shows_ttft_and_tpot_p99_per_mode_against_load_with_the_slo_dashed(chat, tmp_path):
    store, tables = chat
    figure = plot("tokens", tables, store, PlotOptions())
    ttft, tpot, attainment = figure.axes
    aggregate = tables.aggregate
    for ax, metric, scale, slo in (
        (ttft, "generative.ttft_p99_s", 1.0, 0.5),
        (tpot, "generative.tpot_p99_s", 1e3, 50.0),
    ):
        drawn = curves(ax)
        assert [label for label, *_ in drawn] == ["on-server", "split", "on-device"]
        for label, x, y, low, high in drawn:
            rows = aggregate[aggregate["policy"] == label]
            assert list(x) == sorted(rows["offered_rate_per_s_mean"])
            assert y == pytest.approx(rows[f"{metric}_mean"].to_numpy() * scale)
            bottom, top = ax.get_ylim()  # every CI bar inside the axes (to rounding)
            assert low.min() >= bottom * (1 - 1e-12) and high.max() <= top
        assert dashed_levels(ax) == [slo]
    assert ttft.get_yscale() == "log" and ttft.get_ylim()[0] > 0  # spans decades
    assert attainment.get_ylim() == (-0.02, 1.02)
    for _, _, y, low, high in curves(attainment):
        assert low.min() >= 0 and high.max() <= 1 and ((y >= 0) & (y <= 1)).all()
    legend = [text.get_text() for text in figure.legends[0].get_texts()]
    assert legend == ["on-server", "split", "on-device", "SLO"]
    png, pdf = save_figure(figure, tmp_path / "tokens")
    assert png.stat().st_size > 10_000 and pdf.stat().st_size > 5_000


def test_token_energy_shows_each_modes_energy_per_output_token_and_the_devices_share(chat):
    store, tables = chat
    figure = plot("token-energy", tables, store, PlotOptions())
    total, device = figure.axes
    aggregate = tables.aggregate
    per_mode = {}
    for ax, metric, scale in (
        (total, "generative.energy_per_token_j", 1.0),
        (device, "generative.device_energy_per_token_j", 1e3),
    ):
        drawn = curves(ax)
        assert len(drawn) == len(MODES)
        for label, _, y, *_ in drawn:
            rows = aggregate[aggregate["policy"] == label]
            assert y == pytest.approx(rows[f"{metric}_mean"].to_numpy() * scale)
            per_mode[label, ax is device] = y
    # the phone's share: almost nothing on the server, part with a split, all on the device
    assert (per_mode["on-server", True] < per_mode["split", True]).all()
    assert (per_mode["split", True] < per_mode["on-device", True]).all()
    assert per_mode["on-device", True] == pytest.approx(per_mode["on-device", False] * 1e3)
    assert device.get_yscale() == "log"


@pytest.mark.parametrize("kind", ["tokens", "token-energy"])
def test_token_plots_of_a_sweep_without_generative_requests_are_refused(swept, kind):
    store, tables = swept
    with pytest.raises(InputError, match=f"plot {kind}: the runs have no generative request"):
        plot(kind, tables, store, PlotOptions())


def test_a_load_axis_from_light_to_overload_is_logarithmic_with_plain_ticks():
    from matplotlib.figure import Figure

    from coinfer.emulator.sweeps.plots import _log_x_if_wide, readable_log_ticks

    wide, narrow = Figure().subplots(1, 2)
    wide.plot([0.7, 22.0], [1.0, 1.0])
    _log_x_if_wide(wide, [0.7, 1.3, 5.4, 22.0, np.nan])
    narrow.plot([2.0, 8.0], [1.0, 1.0])
    _log_x_if_wide(narrow, [2.0, 8.0])
    assert wide.get_xscale() == "log" and narrow.get_xscale() == "linear"
    readable_log_ticks(wide.xaxis)  # as every figure's log axes get (plots.finish)
    assert wide.xaxis.get_major_formatter()(20.0, 0) == "20"


def test_the_load_figure_has_no_deadline_panel_when_no_run_has_a_deadline(tmp_path):
    """Without a deadline no request can meet or miss one: the share panel would be empty."""
    scenario = {**SCENARIO, "devices": [{**SCENARIO["devices"][0]}]}
    del scenario["devices"][0]["deadline_s"]
    data = sweep_data(
        scenario=scenario, seeds=[1], policies=[{"name": "fixed", "params": {"split": 4}}]
    )
    outcome = run_sweep(plan_of(data), tmp_path, SerialExecutor(), progress=False)
    figure = plot("load", collect(outcome.store), outcome.store, PlotOptions())
    assert [ax.get_ylabel() for ax in figure.axes] == ["p50 latency (ms)", "p99 latency (ms)"]
