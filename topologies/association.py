"""Association: which access point each device attaches to, among its radio links.

* ``nearest``: the shortest link (a link known only by its gain counts as infinitely long);
* ``strongest``: the largest mean gain (path loss × shadowing).

Ties go to the access point met first in the graph.
"""

from __future__ import annotations

import math

from coinfer.topologies.validate import Topology

RULES = ("nearest", "strongest")


def associate(
    topology: Topology,
    distances_m: dict[tuple[str, str], float],
    gains: dict[tuple[str, str], float],
    rule: str,
) -> dict[str, str]:
    """The access point of every device (device id -> access point id) under ``rule``."""
    if rule not in RULES:
        raise ValueError(f"association: got {rule!r}, expected one of {RULES}")
    order = {ap: i for i, ap in enumerate(topology.access_points)}
    chosen = {}
    for device, links in topology.radio.items():
        if rule == "nearest":

            def key(ap: str, device: str = device) -> tuple[float, int]:
                d = distances_m[(device, ap)]
                return (math.inf if math.isnan(d) else d, order[ap])

        else:

            def key(ap: str, device: str = device) -> tuple[float, int]:
                return (-gains[(device, ap)], order[ap])

        chosen[device] = min(links, key=key)
    return chosen
