"""Scenarios and small graph files shared by the topology tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from coinfer.emulator.scenario.schema import Scenario, scenario_from_dict

#: Two device classes (BERT as in the paper: a 24.6 kbit payload at split 4, quick runs).
GROUPS = [
    {
        "name": "phone",
        "count": 3,
        "hardware": "paper-device",
        "model": "bert-paper",
        "arrivals": {"process": "poisson", "rate_per_s": 0.5},
        "work": {"distribution": "exponential", "mean": 1.0},
        "deadline_s": 0.5,
    },
    {
        "name": "cam",
        "count": 1,
        "hardware": "jetson-orin-nano",
        "model": "bert-paper",
        "arrivals": {"process": "poisson", "rate_per_s": 1.0},
        "deadline_s": 0.3,
    },
]
#: Two server classes.
SERVERS = [
    {"id": "small", "hardware": "paper-server", "workers": 1},
    {"id": "big", "hardware": "l4", "workers": 2, "discipline": "ps"},
]


def scenario(topology: dict[str, Any], **changes: Any) -> Scenario:
    """A scenario with the two device groups and server classes above and ``topology``; a
    change to None leaves that field out."""
    data: dict[str, Any] = {
        "name": "topo",
        "requests": 400,
        "devices": GROUPS,
        "servers": SERVERS,
        "policy": {"name": "fixed", "params": {"split": 4}},
        "topology": topology,
    }
    data.update(changes)
    return scenario_from_dict({k: v for k, v in data.items() if v is not None})


def write_graph(path: Path, nodes: dict[str, dict], edges: list[tuple[str, str, dict]]) -> Path:
    """A node-link JSON topology file with these nodes and edges."""
    data = {
        "directed": False,
        "multigraph": False,
        "graph": {},
        "nodes": [{"id": node, **attrs} for node, attrs in nodes.items()],
        "edges": [{"source": u, "target": v, **attrs} for u, v, attrs in edges],
    }
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def file_scenario(path: Path, **changes: Any) -> Scenario:
    """A scenario running the topology file ``path`` with one device group."""
    data: dict[str, Any] = {
        "name": "file",
        "requests": 50,
        "devices": [
            {
                "name": "d",
                "arrivals": {"process": "deterministic", "interval_s": 1.0, "random_phase": False},
            }
        ],
        "policy": {"name": "fixed", "params": {"split": 4}},
        "topology": {"file": str(path)},
    }
    topology = changes.pop("topology", {})
    data["topology"].update(topology)
    data.update(changes)
    return scenario_from_dict(data)


#: One device 500 m from an access point; a server behind one wired link (paper hardware).
def line_nodes(**server: Any) -> dict[str, dict]:
    return {
        "d-0": {"kind": "device", "x_m": 500.0, "y_m": 0.0},
        "ap": {"kind": "access_point", "x_m": 0.0, "y_m": 0.0, "sharing": "fdma"},
        "edge": {"kind": "server", "hardware": "paper-server", **server},
    }
