"""Figures fit for a paper: each kind, drawn as a reader of the paper would see it.

For every kind: no title unless one is asked for, the legend outside the data, every CI bar
inside its axes (a share in [0, 1], a log axis above its floor), tick labels of log axes written
as values, the budget T0 dashed on latency axes (E0 on energy axes). The style presets give the
IEEE column widths and 8 pt text; the PDF embeds TrueType fonts (read from its font
dictionaries). The timeline, read off the trace by a sweep over the stages' ends, integrates to
the trace's own sums (Little's law on the sample path) and to the engine's busy time.
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest

from coinfer.emulator.api.run import simulate
from coinfer.emulator.errors import InputError
from coinfer.emulator.scenario.schema import Scenario
from coinfer.emulator.sweeps.aggregate import collect
from coinfer.emulator.sweeps.executors import SerialExecutor
from coinfer.emulator.sweeps.plots import PlotOptions, coincident, plot, save_figure
from coinfer.emulator.sweeps.runner import run_sweep
from coinfer.emulator.sweeps.timeline import busy_share, occupancy, stage_intervals
from tests.emulator.sweeps.helpers import GENERATIVE_SWEEP, SCENARIO, plan_of, sweep_data

RATE = "devices.0.arrivals.rate_per_s"
DEADLINE = "devices.0.deadline_s"


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    data = sweep_data(axes={RATE: [1.0, 4.0], DEADLINE: [0.2, 0.4]}, seeds=[1, 2])
    outcome = run_sweep(
        plan_of(data), tmp_path_factory.mktemp("paper"), SerialExecutor(), progress=False
    )
    return outcome.store, collect(outcome.store)


@pytest.fixture(scope="module")
def chat(tmp_path_factory):
    modes = ["on-server", {"name": "split", "params": {"layer": 9}}, "on-device"]
    data = sweep_data(GENERATIVE_SWEEP, policies=modes)
    outcome = run_sweep(
        plan_of(data), tmp_path_factory.mktemp("chat"), SerialExecutor(), progress=False
    )
    return outcome.store, collect(outcome.store)


KINDS = {
    "cdf": PlotOptions(where=((DEADLINE, 0.2),)),
    "load": PlotOptions(where=((DEADLINE, 0.2),)),
    "pareto": PlotOptions(),
    "breakdown": PlotOptions(where=((DEADLINE, 0.2),)),
    "distortion": PlotOptions(),
    "timeline": PlotOptions(),
    "tokens": PlotOptions(),
    "token-energy": PlotOptions(),
}
#: Kinds with a latency axis (T0 drawn) and an energy axis (E0 drawn).
BUDGET_LINES = {"cdf": ["T0"], "load": ["T0"], "pareto": ["T0", "E0"], "breakdown": ["T0"]}


def figure_of(kind, swept, chat, **changes):
    store, tables = chat if kind in ("tokens", "token-energy") else swept
    figure = plot(kind, tables, store, replace(KINDS[kind], **changes))
    figure.canvas.draw()  # lay it out as saved
    return figure


def overlaps(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def error_bar_ends(ax):
    """The (lower, upper) ends of every vertical and horizontal CI bar of a panel."""
    from matplotlib.collections import LineCollection

    ends = []
    for container in ax.containers:
        for bars in getattr(container, "lines", (None, None, ()))[2]:
            if isinstance(bars, LineCollection):
                for segment in bars.get_segments():
                    ends.append(np.asarray(segment))
    return ends


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_is_ready_for_a_paper(kind, swept, chat):
    figure = figure_of(kind, swept, chat)
    renderer = figure.canvas.get_renderer()
    assert figure._suptitle is None
    assert not any(ax.get_title(loc="center") for ax in figure.axes)
    # the legend sits outside every panel's data area
    (legend,) = figure.legends
    box = legend.get_window_extent(renderer)
    assert not any(overlaps(box, ax.get_window_extent(renderer)) for ax in figure.axes)
    for ax in figure.axes:
        left, right = sorted(ax.get_xlim())
        bottom, top = sorted(ax.get_ylim())
        for segment in error_bar_ends(ax):  # each CI inside the axes: clipped to its domain
            xs, ys = segment[:, 0], segment[:, 1]
            assert ys.min() >= bottom - 1e-9 * abs(bottom) and ys.max() <= top * (1 + 1e-9)
            assert xs.min() >= left - 1e-9 * abs(left) and xs.max() <= right * (1 + 1e-9)
        if ax.get_yscale() == "log":
            assert bottom > 0
        for axis, scale in ((ax.xaxis, ax.get_xscale()), (ax.yaxis, ax.get_yscale())):
            if scale != "log":
                continue
            low, high = sorted(axis.get_view_interval())
            shown = [
                tick.label1.get_text()
                for tick in axis.get_major_ticks()
                if low <= tick.get_loc() <= high and tick.label1.get_text()
            ]
            assert len(shown) >= 2, f"{kind}: a log axis with {shown} as tick labels"
            assert all(re.fullmatch(r"[0-9.e+-]+", text) for text in shown), shown
    labels = [text.get_text() for text in legend.get_texts()]
    for budget in BUDGET_LINES.get(kind, []):
        assert any(label.startswith(budget) for label in labels), labels


def test_the_load_figure_marks_t0_on_both_latency_panels_at_the_deadline(swept, chat):
    figure = figure_of("load", swept, chat)
    p50, p99, met = figure.axes
    for ax in (p50, p99):
        dashed = [line.get_ydata()[0] for line in ax.get_lines() if line.get_gid()]
        assert dashed == [200.0]  # T0 = 0.2 s, in ms
    assert met.get_ylim() == (-0.02, 1.02)


@pytest.mark.parametrize(("style", "width"), [("ieee-1col", 3.5), ("ieee-2col", 7.16)])
def test_ieee_presets_are_a_column_wide_with_8_to_9_pt_text(style, width, swept, chat):
    from matplotlib.text import Text

    for kind in ("load", "cdf", "timeline"):
        figure = figure_of(kind, swept, chat, style=style)
        assert figure.get_figwidth() == pytest.approx(width)
        sizes = {
            text.get_fontsize()
            for text in figure.findobj(Text)
            if text.get_text() and text.get_visible()
        }
        assert sizes and min(sizes) >= 8 - 1e-9 and max(sizes) <= 9, (kind, sorted(sizes))


def test_the_pdf_embeds_its_fonts_as_truetype(swept, chat, tmp_path):
    """Each font dictionary of the PDF is TrueType (or a Type 0 font over a TrueType one) and
    its descriptor carries the font program (FontFile2): nothing left to the reader's fonts,
    no Type 3 bitmaps."""
    _, pdf = save_figure(figure_of("load", swept, chat, style="ieee-1col"), tmp_path / "load")
    objects = dict(re.findall(rb"(\d+) 0 obj\s*(<<.*?>>)\s*endobj", pdf.read_bytes(), re.DOTALL))
    fonts = [body for body in objects.values() if re.search(rb"/Type\s*/Font\b", body)]
    assert fonts
    for body in fonts:
        subtype = re.search(rb"/Subtype\s*/(\w+)", body)[1]
        assert subtype in (b"TrueType", b"Type0", b"CIDFontType2"), body[:200]
        descriptor = re.search(rb"/FontDescriptor\s+(\d+) 0 R", body)
        if descriptor:
            assert b"/FontFile2" in objects[descriptor[1]]


def test_a_title_is_drawn_only_when_asked(swept, chat):
    figure = figure_of("pareto", swept, chat, title="Energy against latency")
    assert figure._suptitle.get_text() == "Energy against latency"


@pytest.mark.parametrize("where", ["right", "inside", "none"])
def test_the_legend_goes_where_asked(where, swept, chat):
    figure = figure_of("load", swept, chat, legend=where)
    renderer = figure.canvas.get_renderer()
    if where == "none":
        assert not figure.legends and not any(ax.get_legend() for ax in figure.axes)
    elif where == "inside":
        assert not figure.legends and figure.axes[0].get_legend() is not None
    else:
        (legend,) = figure.legends
        left = legend.get_window_extent(renderer).x0
        assert all(left >= ax.get_window_extent(renderer).x1 for ax in figure.axes)


def test_labels_are_renamed_and_a_label_that_matches_nothing_is_refused(swept, chat):
    labels = (("min-latency", "Proposed"), ("p99 latency (ms)", "p99 (ms)"))
    figure = figure_of("load", swept, chat, labels=labels)
    assert [t.get_text() for t in figure.legends[0].get_texts()] == ["fixed", "Proposed", "T0"]
    assert figure.axes[1].get_ylabel() == "p99 (ms)"
    with pytest.raises(InputError) as caught:
        figure_of("load", swept, chat, labels=(("oracle", "Oracle"),))
    assert caught.value.argument == "label" and "min-latency" in str(caught.value)


def test_coincident_curves_are_found_and_drawn_hollow_over_the_first():
    x = np.array([1.0, 2.0])
    assert coincident([(x, x * 2), (x, x * 3), (x, x * 2 * (1 + 1e-12)), (x, x * 3)]) == {
        2: 0,
        3: 1,
    }
    assert coincident([(x, x), (x[:1], x[:1])]) == {}


def test_a_curve_hidden_under_another_is_said_above_its_panel(swept, chat):
    """Rate 1 and 4: the fixed policy's p50 is the same whatever the deadline, so with both
    deadlines as series the second hides the first: it is hollow and named above the panel."""
    store, tables = swept
    figure = plot("load", tables, store, PlotOptions())
    p50 = figure.axes[0]
    assert "fixed, deadline_s=0.4 = fixed, deadline_s=0.2" in p50.get_title(loc="left")
    hollow = [c for c in p50.containers if c.lines[0].get_markerfacecolor() == "none"]
    assert [c.get_label() for c in hollow][:1] == ["fixed, deadline_s=0.4"]


# ---- the timeline: read off the trace -----------------------------------------------------------


@pytest.fixture(scope="module")
def run():
    data = {**SCENARIO, "requests": 60, "warmup_s": 0.0}
    data["devices"] = [{**data["devices"][0], "arrivals": {"process": "poisson", "rate_per_s": 6}}]
    return simulate(Scenario.model_validate(data), seed=3)


def test_queue_lengths_integrate_to_the_waits_of_the_trace(run):
    """∫ n(t) dt over the run = Σ waits (Little's law on the sample path), for every stage."""
    trace = run.trace
    end = float(trace["t_done"].max())
    for stage in ("latency_server_queue_s", "latency_uplink_s", "latency_server_compute_s"):
        steps = occupancy(*stage_intervals(trace, stage))
        total = float(np.nansum(trace[stage].to_numpy(float)))
        assert total > 0 and steps.integral(end) == pytest.approx(total, rel=1e-12)
        assert steps.counts.min() >= 0 and steps.counts[-1] == 0


def test_the_utilisation_over_the_whole_run_is_the_engines_busy_time(run):
    trace = run.trace
    steps = occupancy(*stage_intervals(trace, "latency_server_compute_s"))
    end = run.summary.sim_end_s
    (share,) = busy_share(steps, 1, np.array([0.0, end]))
    assert share == pytest.approx(run.summary.server_utilisation["edge"], rel=1e-9)


def test_occupancy_counts_back_to_back_intervals_once():
    steps = occupancy(np.array([0.0, 1.0, 0.5]), np.array([1.0, 2.0, 3.0]))
    assert list(steps.times) == [0.0, 0.5, 1.0, 2.0, 3.0]
    assert list(steps.counts) == [1, 2, 2, 1, 0]
    assert steps.integral(3.0) == pytest.approx(1.0 + 1.0 + 2.5)


def test_a_runs_folder_draws_its_timeline_from_the_command_line(tmp_path):
    from coinfer.emulator.cli.main import main

    simulate(Scenario.model_validate({**SCENARIO, "requests": 30}), seed=1, out_dir=tmp_path / "r")
    assert main(["plot", str(tmp_path / "r"), "--kind", "timeline", "--style", "ieee-1col"]) == 0
    assert (tmp_path / "r" / "plots" / "timeline.png").stat().st_size > 10_000
    assert main(["plot", str(tmp_path / "r"), "--kind", "load"]) == 2
