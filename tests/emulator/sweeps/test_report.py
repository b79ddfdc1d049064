"""``coinfer report DIR``: one HTML page that opens offline, checked as written and in a real
headless browser (Debian's Chromium; the browser test is skipped only where none is found)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from coinfer.emulator.api.run import simulate
from coinfer.emulator.cli.main import main
from coinfer.emulator.scenario.schema import Scenario
from coinfer.emulator.sweeps.executors import SerialExecutor
from coinfer.emulator.sweeps.report import write_report
from coinfer.emulator.sweeps.runner import run_sweep
from tests.emulator.sweeps.helpers import SCENARIO, plan_of, sweep_data

#: Anything the page would fetch: a src/href/url() to another address than a data: one.
FETCHED = re.compile(r"""(?:src|href)\s*=\s*["'](?!data:|#)|url\(\s*["']?(?!data:)""", re.I)
#: What Chromium asks for of its own accord, whatever the page (its network log shows these).
CHROMIUMS_OWN = re.compile(r"https?://([\w-]+\.)*(google\.com|googleapis\.com|gstatic\.com)/")
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("run") / "tiny-s2"
    simulate(Scenario.model_validate({**SCENARIO, "requests": 60}), seed=2, out_dir=folder)
    return folder


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep")
    run_sweep(plan_of(sweep_data(seeds=[1, 2])), folder, SerialExecutor(), progress=False)
    return folder


def images(page: str) -> list[str]:
    return re.findall(r'<img [^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)


def test_a_runs_report_holds_its_figures_summary_scenario_and_provenance(run_dir):
    assert main(["report", str(run_dir)]) == 0
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    assert not FETCHED.search(page)  # nothing to load from anywhere: it opens offline
    assert len(images(page)) == 2  # the latency CDF and the timeline
    assert "<h2>Scenario</h2>" in page and "requests: 60" in page and "name: tiny" in page
    assert re.search(r"<td>seed</td><td class=\"num\">2</td>", page)
    assert re.search(r"<td>version of coinfer</td>", page)
    assert re.search(r"<td>completed</td><td class=\"num\">\d+</td>", page)


def test_a_sweeps_report_holds_each_figure_its_axes_allow_and_the_aggregate(sweep_dir):
    page = write_report(sweep_dir).read_text(encoding="utf-8")
    assert not FETCHED.search(page)
    # cdf, load (a rate axis), pareto, breakdown, timeline; no distortion (no budget axis), no
    # tokens (no generative request)
    assert re.findall(r"<figcaption>(.*?)</figcaption>", page) == [
        "cdf",
        "load",
        "pareto",
        "breakdown",
        "timeline",
    ]
    assert page.count("<tr><td>min-latency</td>") == 2  # one row per configuration
    assert re.search(r"<td>seeds</td><td class=\"num\">1, 2</td>", page)


def test_a_folder_that_is_neither_is_refused(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "neither a run's folder (run.json) nor a sweep's (sweep.json)" in capsys.readouterr().err


@pytest.mark.skipif(
    BROWSER is None, reason="no Chromium on this machine (apt-get install chromium)"
)
def test_the_report_opens_offline_in_a_headless_browser_and_shows_its_figures(run_dir, tmp_path):
    """Chromium loads the page from file:// with every fetch sent to a closed port (a dead
    proxy): its network log holds no request but Chromium's own (to Google's hosts), the page
    logs no console message, and the screenshot shows the first figure: where the page puts
    it, pixels vary and the Okabe–Ito blue of its curve is there."""
    from PIL import Image

    page = write_report(run_dir, tmp_path / "report.html")
    shot = tmp_path / "shot.png"
    result = subprocess.run(
        [
            BROWSER,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--proxy-server=http://127.0.0.1:9",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            f"--log-net-log={tmp_path / 'net.json'}",
            "--window-size=1200,1400",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0 and shot.is_file(), result.stderr
    console = [line for line in result.stderr.splitlines() if "CONSOLE" in line]
    assert not console, console
    requested = set(re.findall(r'"url":"([^"]+)"', (tmp_path / "net.json").read_text()))
    assert not [url for url in requested if not CHROMIUMS_OWN.match(url)], requested
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=float)
    figure = pixels[100:500, 40:700]  # below the title and the "Figures" heading
    assert figure.std() > 20  # a blank page: 0
    blue = np.all(np.abs(figure - [0x00, 0x72, 0xB2]) < 40, axis=-1)
    assert blue.sum() > 200, "the latency CDF's blue curve is not on the screenshot"


def test_the_ci_script_installs_chromium_only_where_apt_get_exists_and_it_is_missing():
    script = (Path(__file__).resolve().parents[3] / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"command -v apt-get .*&& ! command -v chromium", script)
