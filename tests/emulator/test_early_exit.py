"""Early exit: a request stops at the exit head it is drawn to, as if the model ended there.

A device group's ``exits`` attach exit heads to its model; each request's exit block is drawn
from their probabilities (its own random stream, ``early-exit``). Exiting after block ``k`` is
running the model truncated after block ``k``: that is the closed form the runs are held to,
stage by stage and column by column, under contention as well as on an idle system.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
import yaml

from coinfer.emulator.api.run import simulate
from coinfer.emulator.errors import InputError
from coinfer.emulator.model.catalog import ModelCatalog
from coinfer.emulator.model.hardware import HardwareCatalog
from coinfer.emulator.model.reference import compute_cost_float
from coinfer.emulator.scenario.schema import scenario_from_dict

BERT = ModelCatalog.builtin().get("bert-paper")  # 12 blocks


def busy_cell(split: int, exits: dict | None = None, model: str = "bert-paper", requests=300):
    """Four devices on a shared, fading band and one FCFS server: requests queue and share."""
    group = {
        "name": "d",
        "count": 4,
        "model": model,
        "arrivals": {"process": "poisson", "rate_per_s": 3.0},
        "work": {"distribution": "exponential", "mean": 1.0},
        "distance_m": {"min_m": 100, "max_m": 400},
    }
    if exits is not None:
        group["exits"] = exits
    return scenario_from_dict(
        {
            "name": "exits",
            "seed": 5,
            "requests": requests,
            "devices": [group],
            "cells": [{"id": "c0", "sharing": "ps"}],
            "servers": [{"id": "s0", "hardware": "paper-server"}],
            "channel": {"fading": {"law": "rayleigh", "coherence_time_s": 0.01}},
            "downlink": {"result_bits": 1000, "rate_bps": 1e6},
            "policy": {"name": "fixed", "params": {"split": split}},
        }
    )


def by_request(trace: pd.DataFrame) -> pd.DataFrame:
    return trace.sort_values("request_id").reset_index(drop=True)


@pytest.mark.parametrize("split", [0, 4, 12])
def test_exit_heads_that_never_fire_change_nothing(split):
    """Heads with probability 0 everywhere: the same trace as the model without heads, row for
    row and column for column (the exit draws use a stream of their own)."""
    heads = [{"after_block": b, "probability": 0.0} for b in (2, 6, 9)]
    today = by_request(simulate(busy_cell(split)).trace)
    with_heads = by_request(simulate(busy_cell(split, {"heads": heads})).trace)
    pd.testing.assert_frame_equal(with_heads, today, check_exact=True)
    assert (today["exit_block"] == BERT.num_blocks).all()


def truncated_model_file(tmp_path, blocks: int) -> str:
    """The model cut after ``blocks`` blocks, as a profile file (its own name)."""
    profile = BERT.truncated(blocks).model_dump(mode="json")
    profile["name"] = f"bert-paper-first-{blocks}"
    path = tmp_path / "truncated.yaml"
    path.write_text(yaml.safe_dump(profile), encoding="utf-8")
    return str(path)


#: Columns that differ by construction: the model's name, its distortion bound (the truncated
#: model has fewer parameters; the bound of an early exit is the full model's) and the policy's
#: predictions (the policy decides before the exit is known: it predicts the whole model).
NAMED = ["model", "distortion_bound", "predicted_latency_s", "predicted_energy_j"]


@pytest.mark.parametrize(("split", "k"), [(0, 6), (4, 6), (6, 6), (9, 6), (3, 1)])
def test_exiting_always_at_block_k_is_running_the_model_truncated_at_k(tmp_path, split, k):
    """Probability 1 at block k: every request runs blocks 1..k and stops. That is a run of the
    model truncated after block k (split ``min(l, k)``: a split past the exit runs the whole
    truncated model on the device and uploads nothing), exactly, under contention."""
    exits = busy_cell(split, {"heads": [{"after_block": k, "probability": 1.0}]})
    truncated = busy_cell(min(split, k), model=truncated_model_file(tmp_path, k))
    got = by_request(simulate(exits).trace).drop(columns=NAMED)
    expected = by_request(simulate(truncated).trace).drop(columns=NAMED)
    assert (got["exit_block"] == k).all() and (expected["exit_block"] == k).all()
    got["split"] = expected["split"]  # the decision (l) is kept; the run is at min(l, k)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)


def test_an_exit_on_the_device_uploads_nothing_and_stops_the_compute_there():
    """Split 8 and an exit after block 3: the device computes blocks 1..3 only (ρ·N(3)/(f·c)
    seconds and the matching energy), nothing is uploaded and the server does nothing."""
    heads = {"heads": [{"after_block": 3, "probability": 1.0}]}
    trace = simulate(busy_cell(8, heads, requests=40)).trace
    device = HardwareCatalog.builtin().get("paper-device")
    for row in trace.itertuples():
        seconds, joules = compute_cost_float(
            BERT.split_table.device_flops[3] * row.work_scale,
            1.0,
            device.f_max_hz,
            device.flops_per_cycle,
            device.power_coeff_w_per_hz3,
            device.pue,
        )
        assert row.latency_device_compute_s == seconds
        assert row.energy_device_compute_j == joules
    assert (trace["payload_bits"] == 0).all() and (trace["latency_uplink_s"] == 0).all()
    assert (trace["energy_server_j"] == 0).all() and (trace["latency_downlink_s"] == 0).all()


def test_requests_exit_at_each_head_with_its_probability():
    """The share of requests stopping at each head is its probability (within 4 standard
    errors of a binomial share), the rest run all 12 blocks."""
    heads = [{"after_block": 3, "probability": 0.2}, {"after_block": 8, "probability": 0.5}]
    trace = simulate(busy_cell(0, {"heads": heads}, requests=4000)).trace
    n = len(trace)
    for block, p in ((3, 0.2), (8, 0.5), (12, 0.3)):
        share = (trace["exit_block"] == block).mean()
        assert abs(share - p) <= 4 * math.sqrt(p * (1 - p) / n), (block, share)


def test_exit_heads_come_from_a_csv_file(tmp_path):
    """``exits: {file: ...}``: one row per head, ``after_block,probability``; the same run as
    the heads given inline."""
    (tmp_path / "exits.csv").write_text(
        "# exit heads of a 12-block BERT\nafter_block,probability\n3,0.25\n8,0.25\n",
        encoding="utf-8",
    )
    heads = [{"after_block": 3, "probability": 0.25}, {"after_block": 8, "probability": 0.25}]
    inline = simulate(busy_cell(4, {"heads": heads}, requests=60)).trace
    from_file = simulate(busy_cell(4, {"file": str(tmp_path / "exits.csv")}, requests=60)).trace
    pd.testing.assert_frame_equal(from_file, inline, check_exact=True)


def heads(*pairs: tuple[int, float]) -> dict:
    return {"heads": [{"after_block": b, "probability": p} for b, p in pairs]}


@pytest.mark.parametrize(
    ("exits", "says"),
    [
        (heads((13, 0.1)), "exceeds the number of blocks"),
        (heads((3, 0.6), (5, 0.6)), "add up to 1.2"),
        (heads((5, 0.1), (3, 0.1)), "increasing"),
    ],
)
def test_exit_heads_that_do_not_fit_the_model_are_refused_before_the_run(exits, says):
    with pytest.raises(InputError, match=says) as caught:
        simulate(busy_cell(0, exits))
    assert caught.value.path == "devices[0].exits"


def test_a_bad_exit_file_is_refused_naming_the_row(tmp_path):
    (tmp_path / "exits.csv").write_text("after_block,probability\n3,0.2\n4,1.5\n", "utf-8")
    with pytest.raises(InputError, match="row 3") as caught:
        simulate(busy_cell(0, {"file": str(tmp_path / "exits.csv")}))
    assert caught.value.path == "devices[0].exits.file"


def test_a_probability_out_of_range_is_refused_by_the_schema():
    with pytest.raises(InputError, match=r"devices\[0\]\.exits\.heads\[0\]\.probability"):
        busy_cell(0, {"heads": [{"after_block": 3, "probability": -0.1}]})


def test_a_profile_file_may_declare_its_exit_heads(tmp_path):
    """``exits:`` in a YAML profile: the same heads as a device group's ``exits``."""
    profile = BERT.model_dump(mode="json")
    profile["name"] = "bert-with-heads"
    profile["exits"] = [{"after_block": 5, "probability": 1.0}]
    path = tmp_path / "bert-with-heads.yaml"
    path.write_text(yaml.safe_dump(profile), encoding="utf-8")
    from_file = by_request(simulate(busy_cell(8, model=str(path), requests=40)).trace)
    inline = by_request(
        simulate(busy_cell(8, heads((5, 1.0)), requests=40)).trace.drop(columns=NAMED)
    )
    assert (from_file["exit_block"] == 5).all()
    pd.testing.assert_frame_equal(from_file.drop(columns=NAMED), inline, check_exact=True)
