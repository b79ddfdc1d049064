"""Stable ids: canonical JSON, the same id in every process, spelling-proof, seed-sensitive."""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np

from coinfer.emulator.sweeps.ids import ID_LENGTH, canonical_json, config_id, digest, run_id
from tests.emulator.sweeps.helpers import plan_of, sweep_data

ROOT = Path(__file__).resolve().parents[3]


def test_canonical_json_sorts_keys_and_spells_non_finite_floats():
    text = canonical_json({"b": (1, 2.5), "a": {"z": math.inf, "y": np.float64(0.1)}})
    assert text == '{"a":{"y":0.1,"z":"inf"},"b":[1,2.5]}'
    assert json.loads(canonical_json({"x": -math.inf, "n": math.nan})) == {"n": "nan", "x": "-inf"}


def test_digest_is_hex_of_fixed_length_and_order_free():
    assert len(digest({"a": 1})) == ID_LENGTH
    assert digest({"a": 1, "b": 2}) == digest({"b": 2, "a": 1})
    assert run_id({"a": 1}, 1) != run_id({"a": 1}, 2) != config_id({"a": 1})


def test_ids_are_the_same_in_another_process_with_another_hash_seed():
    plan = plan_of(sweep_data())
    code = (
        "from tests.emulator.sweeps.helpers import plan_of, sweep_data;"
        "print([r.run_id for r in plan_of(sweep_data()).runs])"
    )
    for hash_seed in ("0", "12345"):
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": hash_seed, "PATH": ""},
            cwd=ROOT,
        ).stdout
        assert out.strip() == str([r.run_id for r in plan.runs])


def test_ids_do_not_depend_on_spelling_but_on_every_value_and_the_seed():
    plan = plan_of(sweep_data())
    # an int where the schema wants a float, and a policy parameter spelled at its default
    data = sweep_data(
        axes={"devices.0.arrivals.rate_per_s": [1, 4]},
        policies=[
            {"name": "fixed", "params": {"split": 4, "rho_device": 1}},
            {"name": "min-latency", "params": {"splits": None}},
        ],
    )
    data["scenario"]["cells"][0]["bandwidth_hz"] = 10_000_000  # an int for a float field
    respelled = plan_of(data)
    assert [r.run_id for r in respelled.runs] == [r.run_id for r in plan.runs]
    assert [c.config_id for c in respelled.configurations] == [
        c.config_id for c in plan.configurations
    ]
    changed = sweep_data()
    changed["scenario"]["servers"][0]["workers"] = 2
    other = plan_of(changed)
    assert not {r.run_id for r in other.runs} & {r.run_id for r in plan.runs}
    seeds = plan_of(sweep_data(seeds=[1, 4]))
    assert seeds.runs[0].run_id == plan.runs[0].run_id  # same configuration and seed
    assert seeds.runs[1].run_id not in {r.run_id for r in plan.runs}  # seed 4 is new
    assert seeds.runs[1].config_id == plan.runs[1].config_id
