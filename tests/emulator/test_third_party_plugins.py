"""A distribution from outside the source tree adds a server discipline and a fading law.

The distribution ``acme-edge`` is written to a temporary directory (a module holding the
source of ``examples/plugins/acme_edge.py``, and a
``.dist-info`` whose ``entry_points.txt`` registers ``infinite`` in ``coinfer.servers`` and
``lognormal`` in ``coinfer.fading``) and put on ``sys.path``, exactly as ``pip install`` would
leave it. A scenario then names them like built-ins, with their typed parameters, and the run
shows what they imply:

* ``infinite`` (an infinite-server queue, M/G/∞, whose workers run ``speedup`` times faster):
  no request ever waits for the server, and each one's service takes exactly the ``fcfs``
  service time of the same request divided by ``speedup``, while ``fcfs`` on the same
  arrivals does make requests wait;
* ``lognormal`` (block fading with ``10·log10|h|² ~ N(−σ²·ln10/20, σ)``, σ in dB, mean 1): the
  power gain factors the policy saw (``gain`` / the mean gain) have mean 1 and the law's spread.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from coinfer.emulator.api.run import simulate
from coinfer.emulator.cli.main import main
from coinfer.emulator.errors import InputError
from coinfer.emulator.model.reference import log_distance_gain
from coinfer.emulator.plugins import FADING, SERVERS
from coinfer.emulator.scenario.schema import scenario_from_dict
from tests.policies.plugins import install_distribution

ROOT = Path(__file__).resolve().parents[2]
#: The plug-ins' source: the example module that docs/extending.md shows.
PLUGINS = (ROOT / "examples" / "plugins" / "acme_edge.py").read_text(encoding="utf-8")

DISTANCE_M = 300.0
SIGMA_DB = 4.0
SPEEDUP = 2.0


@pytest.fixture
def acme(monkeypatch, tmp_path):
    """The ``acme-edge`` distribution, installed in a temporary directory."""
    return install_distribution(
        monkeypatch,
        tmp_path,
        "acme-edge",
        {"infinite": "{module}:InfiniteServer"},
        PLUGINS,
        group=SERVERS.group,
        more_groups={FADING.group: {"lognormal": "{module}:LogNormalFading"}},
    )


def scenario(discipline: dict):
    """40 devices at 300 m sending all their work to one server, faster than one worker of
    ``fcfs`` can serve it, over lognormal block fading of 1 ms blocks."""
    return scenario_from_dict(
        {
            "name": "acme",
            "duration_s": 30,
            "devices": [
                {
                    "name": "phone",
                    "count": 40,
                    "arrivals": {"process": "poisson", "rate_per_s": 2.0},
                    "work": {"distribution": "exponential"},
                    "distance_m": DISTANCE_M,
                }
            ],
            "cells": [{"id": "ap", "bandwidth_hz": 20e6, "sharing": "fdma"}],
            "servers": [{"id": "edge", **discipline}],
            "channel": {
                "fading": {"law": "lognormal", "sigma_db": SIGMA_DB, "coherence_time_s": 1e-3}
            },
            "policy": {"name": "fixed", "params": {"split": 0}},
        }
    )


def test_the_plugins_are_found_by_name_like_builtins(acme):
    assert "infinite" in SERVERS.names() and "lognormal" in FADING.names()
    assert SERVERS.source("infinite") == "acme-edge" == FADING.source("lognormal")
    plugged = scenario({"discipline": "infinite", "speedup": 3})
    assert plugged.servers[0].model_dump() == {
        "id": "edge",
        "hardware": "paper-server",
        "workers": 1,
        "discipline": "infinite",
        "queue_capacity": None,
        "speedup": 3.0,  # validated, beside the discipline
    }
    assert plugged.channel.fading.sigma_db == SIGMA_DB
    # the resolved scenario (as the run's sidecar records it) reads back the same
    assert scenario_from_dict(plugged.model_dump(mode="json")) == plugged
    with pytest.raises(InputError, match=r"servers\[0\].speedup: got -1, expected"):
        scenario({"discipline": "infinite", "speedup": -1})
    data = scenario({}).model_dump()
    data["channel"]["fading"]["sigma_db"] = 0
    with pytest.raises(InputError, match=r"channel.fading.sigma_db: got 0, expected"):
        scenario_from_dict(data)


def test_coinfer_schema_lists_the_plugins_parameters(acme, capsys):
    assert main(["schema"]) == 0
    table = capsys.readouterr().out
    assert "servers[discipline=infinite].speedup" in table
    assert "channel.fading[law=lognormal].sigma_db" in table
    assert "channel.fading.coherence_time_s" in table  # the built-in laws' shared fields
    assert main(["schema", "--json"]) == 0
    assert '"sigma_db"' in capsys.readouterr().out


def test_an_infinite_server_never_queues_and_serves_speedup_times_faster(acme):
    plugged = scenario({"discipline": "infinite", "speedup": SPEEDUP})
    assert plugged.servers[0].discipline_params.speedup == SPEEDUP
    infinite = simulate(plugged, seed=3).trace.set_index("request_id")
    fcfs = simulate(scenario({"discipline": "fcfs"}), seed=3).trace.set_index("request_id")

    assert len(infinite) > 2000 and (infinite["status"] == "completed").all()
    assert (infinite["latency_server_queue_s"] == 0.0).all()
    assert (fcfs["latency_server_queue_s"] > 0.0).mean() > 0.5  # one worker could not keep up
    # The same requests (same seed: same arrivals, work and channel), served 2x faster.
    assert infinite.index.equals(fcfs.index)
    np.testing.assert_array_equal(
        infinite["latency_server_compute_s"], fcfs["latency_server_compute_s"] / SPEEDUP
    )


def test_lognormal_factors_have_mean_one_and_the_laws_spread(acme):
    trace = simulate(scenario({"discipline": "infinite"}), seed=5).trace
    factors = trace["gain"].to_numpy() / float(log_distance_gain(DISTANCE_M))
    n = len(factors)
    assert n > 2000
    # mean 1 within 3.3 standard errors (99.9 %)
    assert abs(factors.mean() - 1.0) < 3.3 * factors.std() / math.sqrt(n)
    # in dB, normal with the law's mean and spread (Kolmogorov–Smirnov)
    sigma_ln = SIGMA_DB * math.log(10.0) / 10.0
    mean_db = -0.5 * sigma_ln**2 * 10.0 / math.log(10.0)
    law_db = stats.norm(loc=mean_db, scale=SIGMA_DB)
    assert stats.kstest(10.0 * np.log10(factors), law_db.cdf).pvalue > 0.001


def test_the_same_scenario_without_the_distribution_is_refused_naming_the_field():
    with pytest.raises(InputError, match=r"servers\[0\].discipline: got 'infinite', expected"):
        scenario({"discipline": "infinite"})


def test_the_docs_show_the_plugins_as_tested():
    """docs/extending.md shows (and runs) exactly the module this test installs."""
    docs = (ROOT / "docs" / "extending.md").read_text(encoding="utf-8")
    assert f"```python\n{PLUGINS}```" in docs
