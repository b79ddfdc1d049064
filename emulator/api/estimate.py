"""What a run will cost, estimated from its scenario before anything is built, and the refusal
of a run beyond what this machine can do.

:func:`estimate_run` counts the requests a scenario implies (its ``requests``, or, over
``duration_s``, each device group's mean arrival rate × its device count: Poisson
``rate_per_s``, periodic ``1 / interval_s``; a replayed trace's rate is unknown before it is
read, and a plug-in's unless its parameters have a ``mean_rate_per_s()`` method), the events
the engine will schedule (:data:`EVENTS_PER_REQUEST` per one-pass request; a generative request
adds a few per output token in ``split`` mode, counted at :data:`EVENTS_PER_TOKEN` per token of
its law's mean) and the memory the set-up needs (:data:`BYTES_PER_DEVICE` per device, measured
on the development machine with 100,000 devices). :func:`check_run_size` refuses a run above
``max_events`` events or above the machine's memory, with the estimate in the message; the
command line's ``--force`` skips the check.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from coinfer.emulator.errors import InputError
from coinfer.emulator.scenario.schema import (
    DeterministicArrivals,
    PoissonArrivals,
    Scenario,
)

#: SimPy events per one-pass request (arrival, device compute, upload start and end, fading
#: blocks it spans, server queue and service): an upper figure from the engine's counts.
EVENTS_PER_REQUEST = 12
#: Events per generated token in ``split`` mode, the costliest (docs/generative.md).
EVENTS_PER_TOKEN = 3
#: Memory a device costs while a run is set up and runs, bytes (measured: about 15 KB).
BYTES_PER_DEVICE = 20_000
#: Memory of an empty run (the interpreter, numpy, pandas, pyarrow, simpy), bytes.
BASE_BYTES = 200 * 2**20
#: The default limit on the events of a run (about an hour of engine time here).
MAX_EVENTS = 1e9


@dataclass(frozen=True)
class RunEstimate:
    """What a run will cost (None: not known before its traces are read)."""

    devices: int
    requests: float | None
    events: float | None
    memory_bytes: float


def _mean_rate_per_s(arrivals: object) -> float | None:
    """The mean arrivals per second of one device (None: not known before the run)."""
    if isinstance(arrivals, PoissonArrivals):
        return arrivals.rate_per_s
    if isinstance(arrivals, DeterministicArrivals):
        return 1.0 / arrivals.interval_s
    rate = getattr(arrivals, "mean_rate_per_s", None)
    value = rate() if callable(rate) else None
    return float(value) if isinstance(value, int | float) else None


def _mean_output_tokens(scenario: Scenario, index: int) -> float:
    """The mean output tokens of a request of device group ``index`` (0: one-pass; a
    trace's tokens count as 200, the Azure conversation trace's mean)."""
    tokens = scenario.devices[index].tokens
    if tokens is None:
        return 0.0
    if tokens == "trace":
        return 200.0
    law = tokens.output
    for field in ("mean", "value"):
        value = getattr(law, field, None)
        if isinstance(value, int | float):
            return float(value)
    high, low = getattr(law, "high", None), getattr(law, "low", None)
    if isinstance(high, int | float) and isinstance(low, int | float):
        return (high + low) / 2
    return 200.0


def estimate_run(scenario: Scenario) -> RunEstimate:
    """The requests, events and memory of ``scenario`` (see the module)."""
    devices = sum(group.count for group in scenario.devices)
    if scenario.topology is not None:
        devices = max(devices, 1)  # a topology's classes say how many it places: not counted
    requests: float | None = 0.0
    per_request: list[tuple[float, float]] = []  # (requests, events per request) per group
    for index, group in enumerate(scenario.devices):
        tokens = _mean_output_tokens(scenario, index)
        events = EVENTS_PER_REQUEST + EVENTS_PER_TOKEN * tokens
        if scenario.requests is not None:
            per_request.append((float(scenario.requests), events))
            continue
        rate = _mean_rate_per_s(group.arrivals)
        if rate is None:
            requests = None
            break
        assert scenario.duration_s is not None
        per_request.append((rate * group.count * scenario.duration_s, events))
    events_total: float | None = None
    if requests is not None:
        if scenario.requests is not None:
            requests = float(scenario.requests)
            events_total = requests * max(events for _, events in per_request)
        else:
            requests = sum(count for count, _ in per_request)
            events_total = sum(count * events for count, events in per_request)
    memory = BASE_BYTES + devices * BYTES_PER_DEVICE
    return RunEstimate(devices, requests, events_total, memory)


def machine_memory_bytes() -> float | None:
    """This machine's physical memory, bytes (None where the system does not say)."""
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def check_run_size(scenario: Scenario, max_events: float = MAX_EVENTS) -> RunEstimate:
    """The estimate of ``scenario``; :class:`InputError` if it implies more than
    ``max_events`` events or more memory than this machine has (see the module)."""
    estimate = estimate_run(scenario)
    if estimate.events is not None and estimate.events > max_events:
        raise InputError(
            f"the run implies about {estimate.requests:.3g} requests and {estimate.events:.3g} "
            f"engine events, expected at most {max_events:.3g} events (hours of computing or "
            "more); shorten duration_s or lower the arrival rate, or run it anyway with `force`",
            mentions=("force",),
            expected=f"at most {max_events:.3g} events",
        )
    memory = machine_memory_bytes()
    if memory is not None and estimate.memory_bytes > memory:
        raise InputError(
            f"the run's {estimate.devices:,} devices need about "
            f"{estimate.memory_bytes / 2**30:.1f} GiB, expected at most this machine's "
            f"{memory / 2**30:.1f} GiB; use fewer devices, or run it anyway with `force`",
            mentions=("force",),
            expected="at most the machine's memory",
        )
    return estimate
