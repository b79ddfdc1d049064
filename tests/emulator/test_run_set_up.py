"""A run's set-up: ``simulate()`` and ``coinfer run`` build the deployment and the policy one
time each (building a deployment of 100,000 devices takes a good part of a second) and still
refuse a bad scenario before any file is written; the garbage collector, paused while a run is
set up (and, for a run of many devices, kept off the set-up's objects during the run), is left
as the run found it."""

from __future__ import annotations

import gc
import sys
import weakref
from collections import Counter
from collections.abc import Callable

import pytest

from coinfer.emulator.api import run as api_run
from coinfer.emulator.api.run import simulate
from coinfer.emulator.cli.main import main
from coinfer.emulator.deployment import build
from coinfer.emulator.engine.core import Engine
from coinfer.emulator.errors import InputError
from coinfer.emulator.scenario.schema import load_scenario
from coinfer.policies import registry

PAPER = "examples/scenarios/paper-single.yaml"
EDGE_CLOUD = "examples/scenarios/edge-cloud.yaml"  # a topology


@pytest.fixture(autouse=True)
def repository_root(monkeypatch, request):
    monkeypatch.chdir(request.config.rootpath)


@pytest.fixture
def builds(monkeypatch) -> Counter:
    """Counts calls of ``build_deployment`` and ``make_policy``, under whatever name a coinfer
    module imported them."""
    counts: Counter = Counter()

    def counting(name: str, function: Callable) -> Callable:
        def wrapper(*args, **kwargs):
            counts[name] += 1
            return function(*args, **kwargs)

        return wrapper

    for name, original in (
        ("build_deployment", build.build_deployment),
        ("make_policy", registry.make_policy),
    ):
        wrapper = counting(name, original)
        for module in list(sys.modules.values()):
            if module.__name__.startswith("coinfer") and getattr(module, name, None) is original:
                monkeypatch.setattr(module, name, wrapper)
    return counts


@pytest.mark.parametrize("path", [PAPER, EDGE_CLOUD])
def test_simulate_builds_the_deployment_and_the_policy_once(builds, path, tmp_path):
    """In memory and with a trace written to a directory."""
    scenario = load_scenario(path, ["requests=20"] if path == PAPER else ["duration_s=3"])
    simulate(scenario, seed=3)
    assert builds == {"build_deployment": 1, "make_policy": 1}
    simulate(scenario, seed=3, out_dir=tmp_path)
    assert builds == {"build_deployment": 2, "make_policy": 2}


def test_coinfer_run_builds_the_deployment_and_the_policy_once(builds, tmp_path, capsys):
    assert main(["run", PAPER, "--out", str(tmp_path), "--set", "requests=20"]) == 0
    assert builds == {"build_deployment": 1, "make_policy": 1}


def test_coinfer_run_refuses_a_bad_policy_before_creating_the_output(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", PAPER, "--out", str(out), "--set", "policy.name=oracle"]) == 2
    assert "unknown policy 'oracle'" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("freeze_from_devices", [1, 10**9], ids=["frozen", "not-frozen"])
def test_a_run_leaves_the_garbage_collector_as_it_found_it(monkeypatch, freeze_from_devices):
    """On, with nothing frozen, after a run and after a run refused during its set-up; off if
    it was off; and objects someone else froze stay frozen (whether the run freezes its set-up,
    as runs of many devices do, or not)."""
    monkeypatch.setattr(api_run, "FREEZE_FROM_DEVICES", freeze_from_devices)
    scenario = load_scenario(PAPER, ["requests=5"])
    assert gc.isenabled() and gc.get_freeze_count() == 0
    simulate(scenario)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    with pytest.raises(InputError, match="unknown policy"):
        simulate(load_scenario(PAPER, ["policy.name=oracle"]))
    assert gc.isenabled() and gc.get_freeze_count() == 0
    gc.disable()
    try:
        simulate(scenario)
        assert not gc.isenabled()
    finally:
        gc.enable()
    gc.freeze()  # everything alive now
    try:
        simulate(scenario)
        assert gc.isenabled() and gc.get_freeze_count() > 0  # not unfrozen by the run
    finally:
        gc.unfreeze()


@pytest.mark.parametrize(("devices", "frozen"), [(1, False), (2, True)])
def test_a_run_of_many_devices_runs_with_its_set_up_frozen_and_is_freed_at_once(
    monkeypatch, devices, frozen
):
    """From ``FREEZE_FROM_DEVICES`` devices (here 2) the collector runs during the run but
    skips everything made before it; after the run the engine, which holds reference cycles, is
    freed at once rather than at some later collection."""
    monkeypatch.setattr(api_run, "FREEZE_FROM_DEVICES", 2)
    seen, engines = [], []
    original_run = Engine.run

    def run(self: Engine):
        seen.append((gc.isenabled(), gc.get_freeze_count() > 0))
        engines.append(weakref.ref(self))
        return original_run(self)

    monkeypatch.setattr(Engine, "run", run)
    simulate(load_scenario(PAPER, ["requests=5", f"devices.0.count={devices}"]))
    assert seen == [(True, frozen)]
    assert gc.get_freeze_count() == 0
    if frozen:
        assert engines[0]() is None


def test_the_engines_per_device_state_is_freed_without_the_collector(monkeypatch):
    """``Engine.release`` drops the devices' state once the run is over: reference counting
    frees it, and the full collection that ends a large run has next to nothing left to find
    (without the release it finds the 2,000 devices' objects, held by the engine's cycles)."""
    monkeypatch.setattr(api_run, "FREEZE_FROM_DEVICES", 2)
    scenario = load_scenario(PAPER, ["requests=50", "devices.0.count=2000"])
    found: list[int] = []
    collect = gc.collect

    def counting_collect(*args: int) -> int:
        found.append(collect(*args))
        return found[-1]

    monkeypatch.setattr(api_run.gc, "collect", counting_collect)
    collect()  # what earlier tests left
    simulate(scenario)
    released = found.pop()
    monkeypatch.setattr(Engine, "release", lambda self: None)
    collect()
    simulate(scenario)
    kept = found.pop()
    assert kept > 5 * 2000  # every device's objects (about 9 each), found by the collector
    assert released < 2000, released
