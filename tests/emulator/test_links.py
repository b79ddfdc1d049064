"""Link models (``coinfer.links``) and inter-cell interference, against their closed forms.

* The TS 38.214 tables are transcribed exactly: every row's spectral efficiency is
  ``Q_m·R/1024`` rounded (half up) to the four decimals the specification prints, and the
  tables end where it says.
* A static device on an NR carrier uploads at the TS 38.306 rate
  ``PRBs·12·14·SE·layers·(1 − OH)/T_slot`` times the decoded share ``1 − BLER``, and waits the
  expected HARQ re-sends of its last block: its upload time is exactly that.
* At high SNR NR saturates at the top MCS; Shannon keeps growing.
* ``shannon`` named explicitly gives the same trace rows as the default.
* Two cells, one upload each, on one band: the SINR is ``p·g11 / (B·N0 + p·g21)``; on
  different sub-bands (reuse factor 2) it is the SNR.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
import pytest

from coinfer.emulator.api.run import simulate
from coinfer.emulator.errors import InputError
from coinfer.emulator.model.links import NrLink, NrLinkParams, ShannonLink, ShannonLinkParams
from coinfer.emulator.model.nr_tables import CQI_TABLE_1, CQI_TABLE_2, MCS_TABLE_1, MCS_TABLE_2
from coinfer.emulator.model.reference import shannon_rate_bps
from coinfer.emulator.scenario.schema import load_scenario, scenario_from_dict

# ---- the tables ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "rows", "top"),
    [
        (MCS_TABLE_1, 29, (6, 948, 5.5547)),  # TS 38.214 Table 5.1.3.1-1, MCS 0..28
        (MCS_TABLE_2, 28, (8, 948, 7.4063)),  # Table 5.1.3.1-2, MCS 0..27
        (CQI_TABLE_1, 15, (6, 948, 5.5547)),  # Table 5.2.2.1-2, CQI 1..15
        (CQI_TABLE_2, 15, (8, 948, 7.4063)),  # Table 5.2.2.1-3, CQI 1..15
    ],
)
def test_each_table_row_is_its_modulation_times_its_code_rate(table, rows, top):
    assert len(table) == rows
    assert table[-1] == top
    for q_m, rate_x1024, efficiency in table:
        exact = Decimal(q_m) * Decimal(str(rate_x1024)) / 1024  # e.g. 4·616/1024 = 2.40625
        assert efficiency == float(exact.quantize(Decimal("0.0001"), ROUND_HALF_UP))
    efficiencies = [row[2] for row in table]
    # spectral efficiency never falls from one index to the next (MCS 16 → 17 of table 1 is
    # the one place it dips: 16QAM 658 gives 2.5703, 64QAM 438 gives 2.5664, as printed)
    dips = [i for i in range(1, rows) if efficiencies[i] < efficiencies[i - 1]]
    assert dips == ([17] if table is MCS_TABLE_1 else [])


def test_the_cqi_tables_are_rows_of_their_mcs_tables_but_cqi_1():
    for cqi, mcs in ((CQI_TABLE_1, MCS_TABLE_1), (CQI_TABLE_2, MCS_TABLE_2)):
        assert cqi[0] == (2, 78, 0.1523)  # below MCS 0 (0.2344): reported, not schedulable
        assert set(cqi[1:]) <= set(mcs)


# ---- one NR link -----------------------------------------------------------------------------

PRESET = NrLinkParams(preset="nr-fr1-100mhz")


def test_the_100_mhz_preset_is_273_prbs_of_30_khz():
    assert (PRESET.scs_khz, PRESET.prbs, PRESET.mcs_table) == (30, 273, "qam256")
    assert PRESET.band_hz == 273 * 12 * 30e3  # 98.28 MHz occupied
    assert PRESET.slot_s == 0.5e-3
    assert NrLinkParams(preset="lte-20mhz", layers=2).layers == 2  # given fields win


def test_at_high_snr_nr_saturates_at_the_top_mcs_while_shannon_does_not():
    nr, shannon = NrLink(PRESET), ShannonLink(ShannonLinkParams())
    band, noise = PRESET.band_hz, 1.0
    top = band * 7.4063 * 12 * 14 / 12 / (30e3 * 0.5e-3) * (1 - 0.08)  # the 38.306 peak
    for snr_db in (60.0, 80.0, 100.0):
        snr = 10 ** (snr_db / 10)
        assert nr.mcs(snr) == 27
        assert nr.rate_bps(snr * band, 1.0, band, noise) == pytest.approx(top, rel=1e-12)
    low, high = (shannon.rate_bps(10 ** (db / 10) * band, 1.0, band, noise) for db in (60, 100))
    assert high - low == pytest.approx(band * 40 * math.log2(10) / 10, rel=1e-5)  # +13.3 bit/Hz


def test_the_vectorised_rate_equals_the_scalar_one_at_every_sinr_to_rounding():
    nr = NrLink(NrLinkParams(preset="lte-20mhz"))
    sinr = 10 ** (np.linspace(-15, 45, 601) / 10)
    band = nr.band_hz
    scalar = [nr.rate_bps(1.0, s, band, 1.0 / band) for s in sinr]
    np.testing.assert_allclose(nr.rates_bps(1.0, sinr, band, 1.0 / band), scalar, rtol=1e-14)


def test_the_cqi_thresholds_are_the_attenuated_shannon_bound_at_10_percent_bler():
    nr = NrLink(PRESET)
    for cqi, (_, _, efficiency) in enumerate(CQI_TABLE_2, start=1):
        threshold = 2 ** (efficiency / 0.6) - 1
        assert nr.cqi(threshold * (1 + 1e-9)) == cqi
        assert nr.cqi(threshold * (1 - 1e-9)) == cqi - 1
    # at an MCS's own threshold one block in ten fails
    assert nr.success(21, 2 ** (5.5547 / 0.6) - 1) == pytest.approx(0.9, rel=1e-12)


def test_a_power_limited_upload_takes_only_the_prbs_that_keep_its_sinr_at_the_best_point():
    """Below the SINR ``u*`` of the most bits per unit of SINR, the rate is the received power
    (SINR × Hz) times that most, ``φ(u*)/u*``: never less than spreading over the whole share."""
    nr = NrLink(PRESET)
    band = PRESET.band_hz
    sinr = 10 ** (np.linspace(-30, 40, 2801) / 10)
    spread = band * np.array([nr.spectral_bps_per_hz(u) for u in sinr])
    rates = np.array([nr.rate_bps(1.0, u * band, band, 1.0) for u in sinr])
    assert np.all(rates >= spread * (1 - 1e-12))
    below = sinr < nr.best_sinr
    assert below.any() and not below.all()
    np.testing.assert_allclose(
        rates[below], sinr[below] * band * nr.spectral_bps_per_hz(nr.best_sinr) / nr.best_sinr
    )
    np.testing.assert_allclose(rates[~below], spread[~below], rtol=1e-12)
    assert nr.mcs(nr.best_sinr) == 0  # u* lies at MCS 0, near its 10 % BLER point
    assert 0.05 < 1 - nr.success(0, nr.best_sinr) < 0.15


# ---- a run: a static device on an NR carrier --------------------------------------------------

PAYLOAD_BITS = 4e6
NOISE_W_PER_HZ = 2e-19


@pytest.fixture(scope="module")
def upload_only(tmp_path_factory):
    """One block cut at split 0: the device uploads PAYLOAD_BITS, the server runs 1 FLOP."""
    path = tmp_path_factory.mktemp("profiles") / "upload-only.yaml"
    path.write_text(
        f"name: upload-only\ninput_bits: {PAYLOAD_BITS!r}\nblocks:\n"
        "  - {name: all, params: 1000, flops: 1.0, activation_bits: 1.0}\n",
        encoding="utf-8",
    )
    return str(path)


def one_device(profile: str, distance_m: float, link: dict | None, requests: int = 5):
    cell: dict = {"id": "c0"}
    if link is not None:
        cell["link"] = link
    return scenario_from_dict(
        {
            "requests": requests,
            "devices": [
                {
                    "name": "d",
                    "model": profile,
                    "distance_m": distance_m,
                    "arrivals": {"process": "deterministic", "interval_s": 5.0},
                }
            ],
            "cells": [cell],
            "servers": [{"id": "s0"}],
            "policy": {"name": "fixed", "params": {"split": 0}},
        }
    )


def test_a_static_device_uploads_at_the_table_rate(upload_only):
    trace = simulate(
        one_device(upload_only, 300.0, {"model": "nr", "preset": "nr-fr1-100mhz"}), seed=1
    ).trace
    row = trace.iloc[0]
    band = 273 * 12 * 30e3
    assert row["bandwidth_hz"] == band
    snr = row["tx_power_w"] * row["gain"] / (band * NOISE_W_PER_HZ)
    # the chain by hand: the highest CQI of Table 5.2.2.1-3 whose threshold the SNR clears,
    # then the highest MCS of Table 5.1.3.1-2 not above its spectral efficiency
    cqi = max(i for i, r in enumerate(CQI_TABLE_2, start=1) if 2 ** (r[2] / 0.6) - 1 <= snr)
    efficiency = CQI_TABLE_2[cqi - 1][2]
    mcs = max(i for i, r in enumerate(MCS_TABLE_2) if r[2] <= efficiency)
    se = MCS_TABLE_2[mcs][2]
    threshold_db = 10 * math.log10(2 ** (se / 0.6) - 1)
    bler = 1 / (1 + 9 * math.exp(2.0 * (10 * math.log10(snr) - threshold_db)))
    rate = 273 * 12 * 14 * se * 1 * (1 - 0.08) / 0.5e-3 * (1 - bler)
    harq_s = 8 * 0.5e-3 * bler / (1 - bler)
    print(f"SNR {10 * math.log10(snr):.2f} dB: CQI {cqi}, MCS {mcs}, BLER {bler:.3g}")
    assert 0 < bler < 0.1 and mcs > 0
    assert trace["latency_uplink_s"].to_numpy() == pytest.approx(
        PAYLOAD_BITS / rate + harq_s, rel=1e-12
    )


def test_naming_shannon_gives_the_same_rows_as_the_default(upload_only):
    default = simulate(one_device(upload_only, 300.0, None), seed=3).trace
    named = simulate(one_device(upload_only, 300.0, {"model": "shannon"}), seed=3).trace
    pd.testing.assert_frame_equal(default, named)
    rate = shannon_rate_bps(0.5, default["gain"].iloc[0], 5e6, NOISE_W_PER_HZ)
    assert default["latency_uplink_s"].to_numpy() == pytest.approx(PAYLOAD_BITS / rate)


def test_a_bad_link_is_refused_naming_the_field():
    with pytest.raises(InputError, match=r"cells\[0\]\.link\.prbs"):
        scenario_from_dict(
            {
                "devices": [{"name": "d", "arrivals": {"process": "poisson", "rate_per_s": 1}}],
                "cells": [{"id": "c0", "link": {"model": "nr", "prbs": 300}}],
                "servers": [{"id": "s0"}],
                "requests": 1,
            }
        )
    with pytest.raises(InputError, match=r"bandwidth_hz: got 2e\+07, but link model 'nr'"):
        scenario_from_dict(
            {
                "devices": [{"name": "d", "arrivals": {"process": "poisson", "rate_per_s": 1}}],
                "cells": [{"id": "c0", "bandwidth_hz": 20e6, "link": {"model": "nr"}}],
                "servers": [{"id": "s0"}],
                "requests": 1,
            }
        )


# ---- two cells on one band -------------------------------------------------------------------

G_OWN_DB, G_CROSS_DB = -100.0, -112.0
BAND_HZ = 10e6


def two_cells(tmp_path, profile: str, reuse_factor: int):
    """Two access points 1 km apart, each with a server and one device whose own link has
    gain G_OWN and whose link to the other access point G_CROSS; both upload at t = 0."""
    import networkx as nx

    from coinfer.topologies.io import save_topology

    graph = nx.Graph()
    for k, x in enumerate((0.0, 1000.0)):
        graph.add_node(f"ap{k}", kind="access_point", x_m=x, y_m=0.0, bandwidth_hz=BAND_HZ)
        graph.add_node(f"gpu{k}", kind="server", hardware="l4")
        graph.add_edge(f"ap{k}", f"gpu{k}", kind="wired")
        graph.add_node(f"d{k}", kind="device", x_m=100.0 + 800.0 * k, y_m=0.0)
    for k in (0, 1):
        graph.add_edge(f"d{k}", f"ap{k}", gain_db=G_OWN_DB)
        graph.add_edge(f"d{k}", f"ap{1 - k}", gain_db=G_CROSS_DB)
    path = save_topology(graph, tmp_path / "two-cells.json")
    return scenario_from_dict(
        {
            "requests": 2,
            "devices": [
                {
                    "name": "d",
                    "model": profile,
                    "arrivals": {
                        "process": "deterministic",
                        "interval_s": 5.0,
                        "random_phase": False,
                    },
                }
            ],
            "policy": {"name": "fixed", "params": {"split": 0}},
            "channel": {"interference": {"reuse_factor": reuse_factor}},
            "topology": {"file": str(path), "association": "strongest"},
        }
    )


@pytest.mark.parametrize("reuse_factor", [1, 2])
def test_two_cells_one_upload_each_sinr_equals_the_closed_form(tmp_path, upload_only, reuse_factor):
    trace = simulate(two_cells(tmp_path, upload_only, reuse_factor), seed=1).trace
    assert sorted(trace["cell_id"]) == ["ap0", "ap1"]
    assert (trace["t_arrival"] == 0.0).all()  # no random phase: both at once
    p = trace["tx_power_w"].iloc[0]
    g_own, g_cross = 10 ** (G_OWN_DB / 10), 10 ** (G_CROSS_DB / 10)
    interference_w = p * g_cross if reuse_factor == 1 else 0.0
    sinr = p * g_own / (BAND_HZ * NOISE_W_PER_HZ + interference_w)
    expected_s = PAYLOAD_BITS / (BAND_HZ * math.log2(1 + sinr))
    assert trace["latency_uplink_s"].to_numpy() == pytest.approx([expected_s] * 2, rel=1e-12)


def test_interference_without_a_topology_is_refused():
    with pytest.raises(InputError, match=r"channel\.interference: needs a topology"):
        scenario_from_dict(
            {
                "devices": [{"name": "d", "arrivals": {"process": "poisson", "rate_per_s": 1}}],
                "cells": [{"id": "c0"}],
                "servers": [{"id": "s0"}],
                "channel": {"interference": {}},
                "requests": 1,
            }
        )


def test_the_load_scenario_reads_an_nr_cell(tmp_path):
    path = tmp_path / "nr.yaml"
    path.write_text(
        "requests: 1\n"
        "devices: [{name: d, arrivals: {process: poisson, rate_per_s: 1}}]\n"
        "cells: [{id: c0, link: {model: nr, preset: nr-fr1-20mhz}}]\n"
        "servers: [{id: s0}]\n",
        encoding="utf-8",
    )
    cell = load_scenario(path).cells[0]
    assert cell.uplink_band_hz == 106 * 12 * 15e3


# ---- the proportional fair scheduler (sharing: pf) -------------------------------------------


def marginal(b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``r'(b)/r(b)`` of ``r(b) = b·log2(1 + c/b)``."""
    log_term = np.log1p(c / b)
    return (log_term - c / (b + c)) / (b * log_term)


def test_pf_shares_maximise_the_sum_of_log_rates():
    from coinfer.emulator.engine.uplink import pf_shares_hz

    c = np.array([1e9, 1e6, 3e7, 4e8])  # p·g/N0 of four uploads, Hz
    band = 10e6
    b = pf_shares_hz(c, band)
    assert b.sum() == pytest.approx(band, rel=1e-15)
    # the optimality condition: the same r'/r for every upload (the multiplier λ)
    np.testing.assert_allclose(marginal(b, c), marginal(b, c).mean(), rtol=1e-6)
    utility = np.sum(np.log(b * np.log2(1 + c / b)))
    for i in range(4):
        for j in range(4):
            if i != j:
                moved = b.copy()
                moved[i] += 1e3
                moved[j] -= 1e3
                assert np.sum(np.log(moved * np.log2(1 + c / moved))) < utility
    # the weak (power-limited) upload gets the least band: more would barely raise its rate
    assert b.argmin() == 1
    np.testing.assert_array_equal(pf_shares_hz(np.full(3, 5e7), 3e6), [1e6, 1e6, 1e6])


def two_devices(profile: str, sharing: str):
    group = {
        "model": profile,
        "arrivals": {"process": "deterministic", "interval_s": 5.0, "random_phase": False},
    }
    return scenario_from_dict(
        {
            "requests": 2,
            "devices": [
                {"name": "near", "distance_m": 100.0, **group},
                {"name": "far", "distance_m": 400.0, **group},
            ],
            "cells": [{"id": "c0", "bandwidth_hz": 10e6, "sharing": sharing}],
            "servers": [{"id": "s0"}],
            "policy": {"name": "fixed", "params": {"split": 0}},
        }
    )


def test_two_uploads_under_pf_go_at_the_rates_of_the_closed_form_shares(upload_only):
    """Both start at t = 0; the near one finishes first at ``θ / r(b_near)`` with ``b`` the
    root of ``r'/r`` equal for both (solved here with scipy), the far one then has the band."""
    from scipy.optimize import brentq

    trace = simulate(two_devices(upload_only, "pf"), seed=1).trace.set_index("device_id")
    c = (trace["tx_power_w"] * trace["gain"] / NOISE_W_PER_HZ).to_numpy()
    band = 10e6

    def gap(b_near: float) -> float:
        shares = np.array([b_near, band - b_near])
        m = marginal(shares, c)
        return m[0] - m[1]

    b_near = brentq(gap, 1.0, band - 1.0, xtol=1e-6)
    first_s = PAYLOAD_BITS / (b_near * math.log2(1 + c[0] / b_near))
    assert trace.loc["near-0", "latency_uplink_s"] == pytest.approx(first_s, rel=1e-6)
    sent_far = first_s * (band - b_near) * math.log2(1 + c[1] / (band - b_near))
    rest_s = (PAYLOAD_BITS - sent_far) / (band * math.log2(1 + c[1] / band))
    assert trace.loc["far-0", "latency_uplink_s"] == pytest.approx(first_s + rest_s, rel=1e-6)
    ps = simulate(two_devices(upload_only, "ps"), seed=1).trace.set_index("device_id")
    assert trace.loc["near-0", "latency_uplink_s"] < ps.loc["near-0", "latency_uplink_s"]


def test_pf_with_identical_uploads_is_ps(upload_only):
    """Eight devices at the same distance, uploads overlapping: PF's shares are equal, as ps's."""
    traces = {}
    for sharing in ("ps", "pf"):
        scenario = scenario_from_dict(
            {
                "requests": 300,
                "devices": [
                    {
                        "name": "d",
                        "count": 8,
                        "model": upload_only,
                        "distance_m": 300.0,
                        "arrivals": {"process": "poisson", "rate_per_s": 2.0},
                    }
                ],
                "cells": [{"id": "c0", "sharing": sharing}],
                "servers": [{"id": "s0"}],
                "policy": {"name": "fixed", "params": {"split": 0}},
            }
        )
        traces[sharing] = simulate(scenario, seed=2).trace
    first = traces["ps"].iloc[0]
    alone_s = PAYLOAD_BITS / shannon_rate_bps(first["tx_power_w"], first["gain"], 5e6, 2e-19)
    assert (traces["ps"]["latency_uplink_s"] > 1.5 * alone_s).mean() > 0.2  # they do overlap
    np.testing.assert_allclose(
        traces["pf"]["latency_uplink_s"], traces["ps"]["latency_uplink_s"], rtol=1e-9
    )
