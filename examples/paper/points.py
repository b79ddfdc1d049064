"""One point of a paper figure: the policy's decision, solved and then emulated.

Every point is computed twice:

* **solver**: the policy asked directly for one decision in the paper's setting
  (:func:`emulator.solve.solve`: BERT or BART on ``paper-device`` and ``paper-server``, 500 m,
  ``K0 = −30 dB``, ``α = 2.8``, ``B = 5 MHz``, ``N0 = 2e-19 W/Hz``), costed with the reference
  model;
* **engine**: the same policy in the engine in its single device and server mode
  (:func:`single_link_scenario`: one device, one FCFS server, one 5 MHz cell, no shadowing, no
  fading, :data:`REQUESTS` deterministic arrivals 1 s apart, so nothing ever queues).

:func:`evaluate` returns both and whether every engine row equals the solver's prediction
(decision fields exactly, latency, energy and distortion bound to 1e-9 relative). Units: SI
(s, J, W, Hz, bits).
"""

from __future__ import annotations

import math
from typing import Any

from coinfer.emulator.api.run import simulate
from coinfer.emulator.api.solve import Instance, solve
from coinfer.emulator.model.catalog import ModelCatalog
from coinfer.emulator.scenario.schema import Scenario, scenario_from_dict

#: Requests per engine run, 1 s apart (every T0 here is below 0.4 s: nothing queues).
REQUESTS = 2
INTERVAL_S = 1.0
DISTANCE_M = 500.0
BANDWIDTH_HZ = 5e6
NOISE_PSD_W_PER_HZ = 2e-19
#: Relative tolerance of the engine-against-solver comparison.
RTOL = 1e-9
DECISION_FIELDS = (
    "split",
    "rho_device",
    "rho_server",
    "tx_power_w",
    "f_device_hz",
    "f_server_hz",
)


def single_link_scenario(
    model: str, policy: str, params: dict[str, Any], deadline_s: float, energy_budget_j: float
) -> Scenario:
    """The paper's single link as a scenario: one device 500 m from one server, no queueing."""
    return scenario_from_dict(
        {
            "name": "paper-point",
            "seed": 1,
            "requests": REQUESTS,
            "devices": [
                {
                    "name": "phone",
                    "hardware": "paper-device",
                    "model": model,
                    "arrivals": {
                        "process": "deterministic",
                        "interval_s": INTERVAL_S,
                        "random_phase": False,
                    },
                    "deadline_s": deadline_s,
                    "energy_budget_j": energy_budget_j,
                    "distance_m": DISTANCE_M,
                }
            ],
            "cells": [
                {
                    "id": "ap",
                    "bandwidth_hz": BANDWIDTH_HZ,
                    "noise_psd_w_per_hz": NOISE_PSD_W_PER_HZ,
                    "sharing": "fdma",
                    "server": "edge",
                }
            ],
            "servers": [
                {"id": "edge", "hardware": "paper-server", "workers": 1, "discipline": "fcfs"}
            ],
            "channel": {
                "pathloss": {
                    "model": "log-distance",
                    "k0_db": -30.0,
                    "reference_distance_m": 1.0,
                    "exponent": 2.8,
                },
                "shadowing_std_db": 0.0,
                "fading": {"law": "none"},
            },
            "policy": {"name": policy, "params": params},
        }
    )


def solver_point(
    model: str, policy: str, params: dict[str, Any], deadline_s: float, energy_budget_j: float
) -> dict[str, Any]:
    """The policy's decision for the paper's single request and its reference-model cost."""
    profile = ModelCatalog.builtin().get(model)
    instance = Instance(model=profile, deadline_s=deadline_s, energy_budget_j=energy_budget_j)
    solution = solve(instance, policy, params)
    decision, cost = solution.decision, solution.cost
    feasible = bool(decision.feasible)
    nan = math.nan
    return {
        "feasible": feasible,
        "kept_fraction": solution.kept_fraction if feasible else nan,
        "distortion_bound": solution.distortion if feasible else nan,
        "split": int(decision.split),
        "rho_device": float(decision.rho_device),
        "rho_server": float(decision.rho_server),
        "tx_power_w": float(decision.tx_power_w),
        "f_device_hz": float(decision.f_device_hz),
        "f_server_hz": float(decision.f_server_hz),
        "latency_s": float(cost.latency_s) if feasible else nan,
        "energy_j": float(cost.energy_j) if feasible else nan,
        "device_energy_j": float(cost.device_energy_j) if feasible else nan,
    }


def engine_rows(
    model: str, policy: str, params: dict[str, Any], deadline_s: float, energy_budget_j: float
) -> list[dict[str, Any]]:
    """The trace rows of the point's engine run (one per request, in arrival order)."""
    scenario = single_link_scenario(model, policy, params, deadline_s, energy_budget_j)
    trace = simulate(scenario).trace.sort_values("request_id")
    return trace.to_dict("records")


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=RTOL, abs_tol=0.0)


def rows_match(solved: dict[str, Any], rows: list[dict[str, Any]]) -> bool:
    """Whether every engine row is the solver's decision, with its latency, energy and bound."""
    if len(rows) != REQUESTS:
        return False
    for row in rows:
        if not solved["feasible"]:
            if row["status"] != "infeasible" or row["policy_feasible"]:
                return False
            continue
        if row["status"] != "completed" or not row["deadline_met"]:
            return False
        if int(row["split"]) != solved["split"]:
            return False
        if any(not _close(float(row[f]), solved[f]) for f in DECISION_FIELDS[1:]):
            return False
        if row["latency_device_queue_s"] != 0.0 or row["latency_server_queue_s"] != 0.0:
            return False
        pairs = (
            (row["latency_s"], solved["latency_s"]),
            (row["predicted_latency_s"], solved["latency_s"]),
            (row["energy_total_j"], solved["energy_j"]),
            (row["predicted_energy_j"], solved["energy_j"]),
            (row["energy_device_j"], solved["device_energy_j"]),
            (row["distortion_bound"], solved["distortion_bound"]),
        )
        if any(not _close(float(a), float(b)) for a, b in pairs):
            return False
    return True


def evaluate(
    model: str,
    policy: str,
    params: dict[str, Any],
    deadline_s: float,
    energy_budget_j: float,
    engine: bool = True,
) -> dict[str, Any]:
    """One point: the solver's values, plus ``engine_checked``/``engine_match`` when ``engine``."""
    solved = solver_point(model, policy, params, deadline_s, energy_budget_j)
    point = {"deadline_s": deadline_s, "energy_budget_j": energy_budget_j, **solved}
    if engine:
        rows = engine_rows(model, policy, params, deadline_s, energy_budget_j)
        point["engine_checked"] = True
        point["engine_match"] = rows_match(solved, rows)
        point["engine_latency_s"] = float(rows[0]["latency_s"])
        point["engine_energy_j"] = float(rows[0]["energy_total_j"])
        point["engine_status"] = str(rows[0]["status"])
    else:
        point["engine_checked"] = False
        point["engine_match"] = True
    return point
