"""Goodput: the search on real runs, against the M/D/1 queue's waiting-time law.

A continuous-batching server that holds one sequence at a time, fed by Poisson arrivals of
requests with a constant prompt and one output token, on a link so wide that an upload never
waits, is a FCFS queue with a constant service time ``D`` (the prefill): an M/D/1 queue. A
request's TTFT is its wait plus a constant ``c`` (its upload and its prefill), so the share of
requests with TTFT ≤ T is the M/D/1 waiting-time CDF at ``T − c``, in closed form (Erlang's
series, below). The goodput the search finds for that SLO must be the load factor at which the
CDF equals the attainment asked for, within the grid's tolerance and the sampling error.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal, localcontext

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq

from coinfer.emulator.api.run import simulate
from coinfer.emulator.errors import InputError
from coinfer.emulator.model.catalog import ModelCatalog
from coinfer.emulator.model.hardware import HardwareCatalog
from coinfer.emulator.model.step_costs import Batch, SideCosts
from coinfer.emulator.model.step_time import make_step_time_model
from coinfer.emulator.scenario.schema import scenario_from_dict
from coinfer.emulator.sweeps.aggregate import collect
from coinfer.emulator.sweeps.executors import SerialExecutor
from coinfer.emulator.sweeps.goodput import goodput, scale_load
from coinfer.emulator.sweeps.store import SweepStore

MODEL = "llama-3-8b"
PROMPT = 64
BASE_LOAD = 0.5  #: the server's utilisation at load factor 1
WAIT_SLO_IN_SERVICES = 2.0  #: the TTFT SLO leaves this many service times of waiting
TARGET = 0.9


def service_s() -> float:
    """The prefill of the prompt alone on the A100: the constant service time D, s."""
    side = SideCosts.for_split(ModelCatalog.builtin().get(MODEL), 0, "server")
    a100 = HardwareCatalog.builtin().get("a100")
    return make_step_time_model("roofline").step_time_s(Batch.prefill([PROMPT]), side, a100)


def md1_wait_cdf(t: float, rate: float, service: float) -> float:
    """P(W ≤ t) in the M/D/1 queue (Erlang): ``(1 − ρ) Σ_{k=0}^{⌊t/D⌋} (λ(kD − t))^k / k! ·
    e^{−λ(kD − t)}``, with ρ = λD < 1; its terms alternate and grow like ``e^{λt}``, so it is
    summed in 60-digit decimal arithmetic."""
    with localcontext() as context:
        context.prec = 60
        t_, rate_, service_ = Decimal(t), Decimal(rate), Decimal(service)
        total = Decimal(0)
        for k in range(int(t_ // service_) + 1):
            u = rate_ * (k * service_ - t_)
            total += (u**k if k else Decimal(1)) / math.factorial(k) * (-u).exp()
        return float((1 - rate_ * service_) * total)


def md1_scenario(requests: int, seed: int = 3):
    """One phone, Poisson arrivals at utilisation :data:`BASE_LOAD`, one output token, one
    sequence at a time on the server; 1 GHz of band, so that an upload takes 0.3 µs."""
    service = service_s()
    return scenario_from_dict(
        {
            "name": "md1",
            "seed": seed,
            "requests": requests,
            "warmup_s": 50 * service,
            "devices": [
                {
                    "name": "phone",
                    "count": 1,
                    "distance_m": 100,
                    "hardware": "phone-soc",
                    "model": MODEL,
                    "arrivals": {"process": "poisson", "rate_per_s": BASE_LOAD / service},
                    "tokens": {
                        "prompt": {"distribution": "constant", "value": PROMPT},
                        "output": {"distribution": "constant", "value": 1},
                    },
                }
            ],
            "cells": [{"id": "c", "bandwidth_hz": 1e9, "sharing": "fdma"}],
            "servers": [
                {
                    "id": "s",
                    "hardware": "a100",
                    "discipline": "continuous-batching",
                    "max_sequences": 1,
                }
            ],
            "policy": {"name": "on-server"},
        }
    )


def constant_part_s() -> float:
    """TTFT − wait, the same for every request (checked): the upload and the prefill, s."""
    trace = simulate(md1_scenario(300)).trace
    part = (trace["ttft_s"] - trace["latency_server_queue_s"]).to_numpy()
    assert np.ptp(part) < 1e-6, "TTFT is not a constant plus the wait"
    np.testing.assert_allclose(trace["latency_server_compute_s"], service_s(), rtol=1e-12)
    return float(part.mean())


def closed_form_goodput() -> tuple[float, float]:
    """(the TTFT SLO, s; the load factor at which the M/D/1 gives :data:`TARGET` of it)."""
    service = service_s()
    slo = constant_part_s() + WAIT_SLO_IN_SERVICES * service
    wait = WAIT_SLO_IN_SERVICES * service

    def gap(rho: float) -> float:
        return md1_wait_cdf(wait, rho / service, service) - TARGET

    return slo, brentq(gap, 1e-6, 0.999, xtol=1e-12) / BASE_LOAD


def check_bridge(tmp_path, requests: int, tolerance: float, margin: float) -> None:
    slo, expected = closed_form_goodput()
    result = goodput(
        md1_scenario(requests),
        tmp_path / "goodput",
        attainment=TARGET,
        ttft_s=slo,
        lo=expected / 1.15,
        hi=expected * 1.15,
        tolerance=tolerance,
    )
    found = result.load_factor
    print(f"M/D/1 goodput: found x = {found:.4g}, closed form {expected:.4g}")
    assert result.status == "found"
    # the grid puts the answer up to one step below the crossing; sampling error, either way
    assert expected / (1 + tolerance) * (1 - margin) <= found <= expected * (1 + margin)
    # the offered rate is the load factor times the base rate, measured: within 4 sd of a count
    nominal = found * BASE_LOAD / service_s()
    rel = 4 / math.sqrt(requests)
    assert result.answer.offered_rate_per_s == pytest.approx(nominal, rel=rel)


def test_the_goodput_of_an_md1_server_is_where_its_waiting_time_cdf_meets_the_target(tmp_path):
    check_bridge(tmp_path, requests=1500, tolerance=0.1, margin=0.12)


@pytest.mark.slow
def test_the_goodput_of_an_md1_server_closely(tmp_path):
    check_bridge(tmp_path, requests=60_000, tolerance=0.015, margin=0.03)


def test_the_closed_form_is_erlangs_cdf():
    """No wait with probability 1 − ρ; below one service time only the first term, (1 − ρ)·
    e^{λt} (an arrival waits less than t if the work it finds is); far out, 1."""
    service, rate = 0.01, 60.0
    assert md1_wait_cdf(0.0, rate, service) == pytest.approx(1 - rate * service, rel=1e-12)
    t = 0.4 * service
    first_term = (1 - rate * service) * math.exp(rate * t)
    assert md1_wait_cdf(t, rate, service) == pytest.approx(first_term, rel=1e-12)
    assert md1_wait_cdf(40 * service, rate, service) == pytest.approx(1.0, abs=1e-12)


# ---- scaling the load -------------------------------------------------------------------------


def tiny_chat(**changes):
    """A small generative scenario: 4 phones, on-server, 60 requests; the TPOT SLO is missed
    from about twice the load."""
    data = {
        "name": "chat",
        "requests": 60,
        "slo": {"ttft_s": 0.025, "tpot_s": 0.015},
        "devices": [
            {
                "name": "phone",
                "count": 4,
                "hardware": "jetson-agx-orin",
                "model": MODEL,
                "arrivals": {"process": "poisson", "rate_per_s": 2.0},
                "tokens": {
                    "prompt": {"distribution": "constant", "value": 100},
                    "output": {"distribution": "constant", "value": 20},
                },
            }
        ],
        "servers": [{"id": "edge", "hardware": "a100", "discipline": "continuous-batching"}],
        "policy": {"name": "on-server"},
    }
    data.update(changes)
    return scenario_from_dict(data)


def test_each_arrival_process_scales_its_own_rate():
    groups = [
        {"arrivals": {"process": "poisson", "rate_per_s": 2.0}},
        {"arrivals": {"process": "deterministic", "interval_s": 0.5}},
        {"arrivals": {"process": "trace", "file": "t.csv", "rate_scale": 0.01}},
    ]
    base = tiny_chat()
    device = base.devices[0].model_dump()
    scenario = tiny_chat(devices=[{**device, "name": f"g{i}", **g} for i, g in enumerate(groups)])
    scaled = scale_load(scenario, 2.5)
    poisson, periodic, replay = (group.arrivals for group in scaled.devices)
    assert poisson.rate_per_s == 5.0
    assert periodic.interval_s == 0.2
    assert replay.rate_scale == pytest.approx(0.025) and replay.file == "t.csv"
    assert scale_load(scenario, 1.0) == scenario


def test_an_arrival_process_that_cannot_be_scaled_is_refused():
    device = tiny_chat().devices[0].model_dump()
    device["arrivals"] = {"process": "tests.emulator.sweeps.plugins:BurstArrivals", "burst": 3}
    with pytest.raises(InputError) as caught:
        scale_load(tiny_chat(devices=[device]), 2.0)
    assert str(caught.value).startswith(
        "devices[0].arrivals.process: got 'tests.emulator.sweeps.plugins:BurstArrivals' "
        "(group 'phone'), which cannot be scaled"
    )


# ---- the directory: reuse, refusals, tables ---------------------------------------------------


def test_a_rerun_redoes_nothing_and_more_probes_per_round_reuse_the_grid(tmp_path):
    out = tmp_path / "g"
    first = goodput(tiny_chat(), out, seeds=[1, 2], tolerance=0.2)
    assert first.status == "found" and first.ran == 2 * len(first.probes) and first.reused == 0
    again = goodput(tiny_chat(), out, seeds=[1, 2], tolerance=0.2)
    assert (again.ran, again.reused) == (0, first.ran)
    assert again.probes == first.probes and again.load_factor == first.load_factor
    wider = goodput(tiny_chat(), out, seeds=[1, 2], tolerance=0.2, per_round=3)
    assert wider.load_factor == first.load_factor and wider.reused > 0
    for probe in wider.probes:  # pooled over the seeds
        assert probe.requests == 2 * 60 and probe.attainment == probe.met / probe.requests
        assert probe.attainment_min_seed <= probe.attainment
    with pytest.raises(InputError, match="holds the goodput search of other arguments"):
        goodput(tiny_chat(), out, seeds=[1, 2], tolerance=0.2, ttft_s=0.2)

    table = pd.read_parquet(out / "probes.parquet")
    assert list(table["load_factor"]) == [p.load_factor for p in wider.probes]
    assert pd.read_csv(out / "probes.csv")["attainment"].tolist() == pytest.approx(
        table["attainment"].tolist()
    )
    record = json.loads((out / "goodput.json").read_text())
    assert record["status"] == "done" and record["result"]["load_factor"] == first.load_factor
    assert record["question"]["seeds"] == [1, 2] and "versions" in record
    # the probes are a sweep over the load factor: coinfer summarize reads the directory
    aggregate = collect(SweepStore(out)).aggregate
    assert sorted(aggregate["load_factor"]) == sorted({p.load_factor for p in wider.probes})
    pooled = {p.load_factor: p for p in wider.probes}
    for _, row in aggregate.iterrows():  # each seed's attainment, averaged: not pooled
        assert row["runs"] == 2
        assert row["generative.slo_attainment_mean"] == pytest.approx(
            pooled[row["load_factor"]].attainment, abs=0.1
        )


def test_another_question_in_the_same_directory_is_refused(tmp_path):
    out = tmp_path / "g"
    out.mkdir()
    (out / "goodput.json").write_text(json.dumps({"question_id": "0123456789abcdef"}))
    with pytest.raises(InputError, match="holds the goodput search of other arguments"):
        goodput(tiny_chat(), out, tolerance=0.3)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="is not empty and holds no goodput search"):
        goodput(tiny_chat(), tmp_path / "other", tolerance=0.3)
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"
    assert sorted(path.name for path in out.iterdir()) == ["goodput.json"]


@pytest.mark.parametrize(
    ("scenario", "kwargs", "message"),
    [
        (tiny_chat(slo=None), {}, "scenario 'chat' has no slo and no objective was given"),
        (tiny_chat(), {"attainment": 0.0}, "attainment: got 0.0"),
        (tiny_chat(), {"ttft_s": -1.0}, "ttft_s: got -1.0, expected a time > 0 s"),
        (tiny_chat(), {"seeds": []}, "seeds: got [], expected distinct integers"),
        (tiny_chat(), {"per_round": 0}, "per_round: got 0"),
    ],
)
def test_bad_input_is_refused_before_anything_runs(tmp_path, scenario, kwargs, message):
    with pytest.raises(InputError) as caught:
        goodput(scenario, tmp_path / "g", executor=SerialExecutor(), **kwargs)
    assert str(caught.value).startswith(message)
    assert not (tmp_path / "g").exists()


def test_a_scenario_without_generative_requests_is_refused(tmp_path):
    device = tiny_chat().devices[0].model_dump()
    device.pop("tokens")
    device["model"] = "bert-paper"
    scenario = tiny_chat(devices=[device], servers=[{"id": "edge"}], policy={"name": "fixed"})
    with pytest.raises(InputError, match="no device group sends generative requests"):
        goodput(scenario, tmp_path / "g")
