"""A tiny sweep for the tests: three devices, one cell, one server, Rayleigh fading."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from coinfer.emulator.sweeps.plan import Plan, build_plan
from coinfer.emulator.sweeps.spec import sweep_from_dict

SCENARIO: dict[str, Any] = {
    "name": "tiny",
    "requests": 40,
    "devices": [
        {
            "name": "dev",
            "count": 3,
            "arrivals": {"process": "poisson", "rate_per_s": 2.0},
            "deadline_s": 0.3,
            "energy_budget_j": 0.5,
            "distance_m": {"min_m": 50, "max_m": 400},
        }
    ],
    "cells": [{"id": "ap", "bandwidth_hz": 10.0e6, "sharing": "ps", "server": "edge"}],
    "servers": [{"id": "edge", "workers": 1}],
    "channel": {"fading": {"law": "rayleigh", "coherence_time_s": 0.01}},
    "policy": {"name": "fixed", "params": {"split": 4}},
}

SWEEP: dict[str, Any] = {
    "name": "tiny",
    "scenario": SCENARIO,
    "axes": {"devices.0.arrivals.rate_per_s": [1.0, 4.0]},
    "policies": [{"name": "fixed", "params": {"split": 4}}, "min-latency"],
    "seeds": [1, 2, 3],
}


#: A chat cell for sweeps of generative requests: four phones, an A100 batching continuously.
GENERATIVE_SCENARIO: dict[str, Any] = {
    "name": "chat",
    "requests": 20,
    "slo": {"ttft_s": 0.5, "tpot_s": 0.05},
    "devices": [
        {
            "name": "phone",
            "count": 4,
            "hardware": "jetson-agx-orin",
            "model": "llama-3-8b",
            "arrivals": {"process": "poisson", "rate_per_s": 0.5},
            "tokens": {
                "prompt": {"distribution": "constant", "value": 100},
                "output": {"distribution": "constant", "value": 8},
            },
        }
    ],
    "servers": [{"id": "edge", "hardware": "a100", "discipline": "continuous-batching"}],
}

#: Modes × load over :data:`GENERATIVE_SCENARIO`: 2 loads × 2 policies × 2 seeds.
GENERATIVE_SWEEP: dict[str, Any] = {
    "name": "chat",
    "scenario": GENERATIVE_SCENARIO,
    "axes": {"devices.0.arrivals.rate_per_s": [0.5, 2.0]},
    "policies": ["on-server", {"name": "split", "params": {"layer": 9}}],
    "seeds": [1, 2],
}


def sweep_data(template: dict[str, Any] | None = None, /, **changes: Any) -> dict[str, Any]:
    """A copy of ``template`` (default :data:`SWEEP`) with top-level keys replaced (None removes
    a key)."""
    data = copy.deepcopy(SWEEP if template is None else template)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def plan_of(data: dict[str, Any], base_dir: Path | str = ".") -> Plan:
    """The plan of a sweep mapping."""
    return build_plan(sweep_from_dict(data), base_dir)


def write_sweep(directory: Path, data: dict[str, Any], name: str = "sweep.yaml") -> Path:
    """Write a sweep mapping as a YAML file; return its path."""
    path = directory / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path
