"""A group of identical Poisson devices as one merged Poisson process that picks the device.

``n`` independent Poisson processes of rate ``λ`` each are, together, one Poisson process of
rate ``n·λ`` whose every arrival belongs to a device drawn uniformly among the ``n``
(superposition and thinning; exact in distribution, for every device and jointly). A group whose
arrivals say ``merged: true`` runs that way: one SimPy process for the whole group instead of one
per device, so a device that sends nothing costs nothing (no generator frame, no pending
timeout, no random stream, no run-time state), and the event queue holds one arrival per group
instead of one per device.

Randomness: the group's arrivals (times and devices) come from one stream, ``merged-arrivals``
keyed by the group's first device index, drawn in numpy blocks (:func:`block_sizes`); each
device keeps its own ``work`` and ``fading`` streams, consumed by its own requests in order. Two
runs with the same seed see the same arrivals whatever their policy (common random numbers hold),
but the arrival times differ from those of the same group unmerged (per-device ``arrivals``
streams), and a device's arrivals are no longer its own: changing the group's size changes
every device's arrivals.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from coinfer.emulator.compiled import use_compiled
from coinfer.emulator.deployment.spec import DeviceSpec
from coinfer.emulator.engine.draws import block_sizes
from coinfer.emulator.scenario.schema import PoissonArrivals

use_compiled(__name__, __file__)  # its compiled build, if built from this source

#: The stream of a merged group's arrivals (keyed by the group's first device index).
MERGED_STREAM = "merged-arrivals"


def merged_groups(devices: tuple[DeviceSpec, ...] | list[DeviceSpec]) -> list[range]:
    """The runs of consecutive devices of one group whose Poisson arrivals are ``merged``
    (device indices), in order; every other device keeps its own arrival process."""
    groups: list[range] = []
    index, count = 0, len(devices)
    while index < count:
        spec = devices[index]
        if not is_merged(spec):
            index += 1
            continue
        end = index + 1
        while end < count and _same_group(devices[end], spec):
            end += 1
        groups.append(range(index, end))
        index = end
    return groups


def _same_group(spec: DeviceSpec, first: DeviceSpec) -> bool:
    arrivals = spec.arrivals
    return spec.group == first.group and (arrivals is first.arrivals or arrivals == first.arrivals)


def is_merged(spec: DeviceSpec) -> bool:
    """Whether ``spec``'s arrivals come from its group's merged process."""
    arrivals = spec.arrivals
    return isinstance(arrivals, PoissonArrivals) and arrivals.merged and spec.arrival_replay is None


def merged_arrivals(
    spec: DeviceSpec, devices: range, rng: np.random.Generator
) -> Iterator[tuple[float, int]]:
    """``(gap, device index)`` of the merged process of ``devices``, each with the Poisson
    arrivals of ``spec`` (rate ``λ``): exponential gaps of mean ``1 / (n·λ)``, each arrival's
    device uniform among the ``n`` (never ending)."""
    arrivals = spec.arrivals
    assert isinstance(arrivals, PoissonArrivals)
    mean_gap = 1.0 / (arrivals.rate_per_s * len(devices))
    first, count = devices.start, len(devices)
    for size in block_sizes():
        gaps = rng.exponential(mean_gap, size).tolist()
        picks = (rng.integers(0, count, size) + first).tolist()
        yield from zip(gaps, picks, strict=True)
