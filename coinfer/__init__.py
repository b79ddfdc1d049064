"""coinfer: discrete-event emulator for split large-AI-model inference at the wireless edge.

The one top-level import name. The four package folders of the source tree install beneath it:
:mod:`coinfer.emulator` (reference model, scenario, deployment, engine, trace, API, CLI, sweeps),
:mod:`coinfer.policies`, :mod:`coinfer.topologies` and :mod:`coinfer.traces`. This module
re-exports the public API::

    import coinfer

    result = coinfer.simulate(coinfer.load_scenario("examples/scenarios/busy-cell.yaml"), seed=1)
    print(result.summary.latency_p99_s)

Everything inside uses SI units: seconds, joules, watts, hertz, bits and FLOPs.
"""

from coinfer.emulator import __version__
from coinfer.emulator.api.run import RunResult, simulate
from coinfer.emulator.model.catalog import ModelCatalog
from coinfer.emulator.model.hardware import HardwareCatalog
from coinfer.emulator.scenario.schema import Scenario, load_scenario
from coinfer.policies.base import Decision, Policy, PolicyContext

__all__ = [
    "Decision",
    "HardwareCatalog",
    "ModelCatalog",
    "Policy",
    "PolicyContext",
    "RunResult",
    "Scenario",
    "__version__",
    "load_scenario",
    "simulate",
]
