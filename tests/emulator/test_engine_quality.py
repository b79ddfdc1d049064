"""The trace's quality columns (docs/quality.md): every request whose model has a quality table
carries what the quality model says of its decision, exactly; other requests leave them empty."""

from __future__ import annotations

import math

import pytest

from coinfer.emulator.api.run import simulate
from coinfer.emulator.engine.quality import QualityColumns, transformer_blocks_before
from coinfer.emulator.model.catalog import ModelCatalog
from coinfer.emulator.model.quality import load_quality_model
from coinfer.emulator.scenario.schema import scenario_from_dict

QUALITY = load_quality_model()


def one_device(model: str, split: int, rho_device: float, rho_server: float):
    """One paper device and server, four requests 10 s apart, a fixed decision."""
    return scenario_from_dict(
        {
            "name": "quality",
            "requests": 4,
            "devices": [
                {
                    "name": "d0",
                    "hardware": "paper-device",
                    "model": model,
                    "arrivals": {"process": "deterministic", "interval_s": 10.0},
                    "deadline_s": 100.0,
                    "energy_budget_j": 100.0,
                    "distance_m": 100.0,
                }
            ],
            "cells": [{"id": "c0", "bandwidth_hz": 5e6}],
            "servers": [{"id": "s0", "hardware": "paper-server"}],
            "policy": {
                "name": "fixed",
                "params": {"split": split, "rho_device": rho_device, "rho_server": rho_server},
            },
        }
    )


def test_transformer_blocks_are_counted_from_the_profile():
    # llama-2-7b: embeddings, 32 layers, head
    blocks = transformer_blocks_before(ModelCatalog.builtin().get("llama-2-7b"))
    assert blocks[0] == 0 and blocks[1] == 0  # the embeddings are not a transformer block
    assert blocks[11] == 10 and blocks[-2] == 32 and blocks[-1] == 32


def test_a_request_carries_the_quality_of_its_decision():
    trace = simulate(one_device("llama-2-7b", 11, 0.5, 0.5), seed=1).trace
    expected = QUALITY.estimate(
        model="llama-2-7b",
        kept_device=0.5,
        kept_server=0.5,
        device_blocks=10,
        weight_bits_device=16,
        weight_bits_server=16,
    )
    assert expected is not None and expected.value == 14.89  # Wanda's magnitude point
    assert (trace["quality_metric"].astype(str) == expected.metric).all()
    assert (trace["quality_value"] == expected.value).all()
    assert trace["output_distortion"].isna().all()  # the published table has none


def test_a_decision_outside_the_measured_points_keeps_its_metric_with_no_value():
    trace = simulate(one_device("llama-2-7b", 11, 0.8, 0.6), seed=1).trace
    assert (trace["quality_metric"].astype(str) == "wikitext2_perplexity").all()
    assert trace["quality_value"].isna().all()


def test_a_model_without_a_quality_table_leaves_the_columns_empty():
    trace = simulate(one_device("bert-paper", 4, 0.8, 0.6), seed=1).trace
    assert (trace["quality_metric"].astype(str) == "").all()
    assert trace["quality_value"].isna().all() and trace["output_distortion"].isna().all()


def test_the_columns_know_every_metric_before_the_run():
    columns = QualityColumns(QUALITY, ["bert-paper", "llama-2-7b"])
    labels = columns.labels()
    assert labels[0] == "" and set(QUALITY.metrics("llama-2-7b")) <= set(labels)
    code, value, distortion = columns.of(ModelCatalog.builtin().get("bert-paper"), 3, 1.0, 1.0)
    assert code == 0 and math.isnan(value) and math.isnan(distortion)


def test_without_a_quality_model_every_row_is_empty():
    columns = QualityColumns(None, ["llama-2-7b"])
    assert columns.labels() == [""]
    code, value, _ = columns.of(ModelCatalog.builtin().get("llama-2-7b"), 11, 0.5, 0.5)
    assert code == 0 and math.isnan(value)


@pytest.mark.parametrize("model", ["smollm2-135m"])
def test_the_measured_model_has_its_calibrated_quality(model):
    assert model in QUALITY
    trace = simulate(one_device(model, 11, 0.7, 1.0), seed=1).trace
    expected = QUALITY.estimate(
        model=model,
        kept_device=0.7,
        kept_server=1.0,
        device_blocks=10,
        weight_bits_device=16,
        weight_bits_server=16,
    )
    assert expected is not None and expected.in_range
    assert (trace["quality_value"] == expected.value).all()
    assert (trace["output_distortion"] == expected.output_distortion).all()


def test_an_empty_side_may_say_it_keeps_nothing():
    """On the device alone the server side is empty: its ρ̃ (0 here) does not matter."""
    model = ModelCatalog.builtin().get("llama-2-7b")
    columns = QualityColumns(QUALITY, ["llama-2-7b"])
    last = model.num_blocks
    code, value, _ = columns.of(model, last, 0.5, 0.0)
    assert columns.labels()[code] == "wikitext2_perplexity" and value == 14.89
    code, value, _ = columns.of(model, 0, 0.0, 1.0)
    assert value == 5.12
    # a non-empty side that keeps nothing is outside every table
    code, value, _ = columns.of(model, 11, 0.0, 1.0)
    assert columns.labels()[code] == "wikitext2_perplexity" and math.isnan(value)
