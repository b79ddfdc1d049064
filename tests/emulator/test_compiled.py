"""The hot modules' compiled twins: used only when built from the source beside them, and the
same results as Python, bit for bit (coinfer.emulator.compiled, setup.py).

CI sets ``COINFER_EXPECT_COMPILED=1`` (``.ci/run``): there every hot module must run compiled.
Elsewhere (no C compiler, say) the comparisons with Python are skipped when nothing is compiled.
"""

from __future__ import annotations

import ast
import importlib
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

from coinfer.emulator.compiled import (
    HOT_MODULES,
    PURE_PYTHON_VARIABLE,
    SOURCE_HASH_ATTRIBUTE,
    StaleCompiledWarning,
    source_hash,
    status,
    twin_name,
    use_compiled,
)
from tests.python_modules import in_python

ROOT = Path(__file__).resolve().parents[2]
EXPECT_COMPILED = os.environ.get("COINFER_EXPECT_COMPILED") == "1"


def compiled_in_use() -> bool:
    in_use = set(status().values()) == {"compiled"}
    if EXPECT_COMPILED:
        assert in_use, status()
    return in_use


def test_every_hot_module_is_compiled_where_ci_expects_it():
    states = status()
    assert set(states) == set(HOT_MODULES)
    if not EXPECT_COMPILED:
        pytest.skip("COINFER_EXPECT_COMPILED is not set (only CI requires the twins)")
    assert set(states.values()) == {"compiled"}, states


@pytest.mark.parametrize(
    ("example", "overrides"),
    [
        ("busy-cell", ["duration_s=12"]),  # ps uplink, Rayleigh blocks, the fixed policy
        ("hex-city", ["duration_s=3"]),  # a topology: routed contexts, backhaul
        ("paper-single-fading", ["requests=400"]),  # the joint optimiser
    ],
)
def test_compiled_and_python_write_the_same_trace(example, overrides):
    if not compiled_in_use():
        pytest.skip("the hot modules are not compiled here")
    from coinfer.emulator.api.run import simulate
    from coinfer.emulator.scenario.schema import load_scenario

    path = ROOT / "examples" / "scenarios" / f"{example}.yaml"
    compiled = simulate(load_scenario(path, overrides), seed=3).trace
    with in_python():
        from coinfer.emulator.api.run import simulate as simulate_in_python
        from coinfer.emulator.compiled import status as python_status
        from coinfer.emulator.scenario.schema import load_scenario as load_in_python

        assert set(python_status().values()) == {"python"}
        python = simulate_in_python(load_in_python(path, overrides), seed=3).trace
    assert len(compiled) > 100
    assert compiled.equals(python)


def test_merged_arrivals_at_scale_are_the_same_compiled_and_in_python():
    """The workload of benchmarks/versus_simpy.py, 1,000 devices with merged arrivals."""
    if not compiled_in_use():
        pytest.skip("the hot modules are not compiled here")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        scenario = importlib.import_module("versus_simpy").scenario
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    from coinfer.emulator.api.run import simulate
    from coinfer.emulator.scenario.schema import scenario_from_dict

    compiled = simulate(scenario_from_dict(scenario(1000, 3000, merged=True)), seed=2).trace
    with in_python():
        from coinfer.emulator.api.run import simulate as simulate_in_python
        from coinfer.emulator.scenario.schema import scenario_from_dict as from_dict

        python = simulate_in_python(from_dict(scenario(1000, 3000, merged=True)), seed=2).trace
    assert len(compiled) == 3000
    assert compiled.equals(python)


def test_a_compiled_module_goes_by_the_modules_own_name():
    """In messages, reprs and pickles: ``coinfer.policies.base.Policy``, not the twin's name."""
    if not compiled_in_use():
        pytest.skip("the hot modules are not compiled here")
    import pickle

    from coinfer.emulator.engine import core
    from coinfer.policies.base import Decision, Policy

    assert core.__name__ == "coinfer.emulator.engine.core"
    assert core.__file__.endswith(".so") or core.__file__.endswith(".pyd")
    assert Policy.__module__ == "coinfer.policies.base"
    assert core.Engine._arrive.__module__ == "coinfer.emulator.engine.core"
    decision = Decision._make(range(len(Decision._fields)))
    assert pickle.loads(pickle.dumps(decision)) == decision


def test_coinfer_pure_python_keeps_every_hot_module_in_python():
    code = "from coinfer.emulator.compiled import status; print(set(status().values()))"
    environment = {**os.environ, PURE_PYTHON_VARIABLE: "1"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, check=True
    )
    assert done.stdout.strip() == "{'python'}"


def make_package(root: Path, twin: str | None) -> None:
    """A package ``hotpkg`` with a hot module ``hot`` and, unless ``twin`` is None, a twin (a
    Python file here: use_compiled does not care how the twin was built) built from the source
    (``"fresh"``) or from another (``"stale"``)."""
    package = root / "hotpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    source = package / "hot.py"
    source.write_text(
        textwrap.dedent(
            """
            from coinfer.emulator.compiled import use_compiled

            use_compiled(__name__, __file__)
            WHICH = "python"
            """
        )
    )
    if twin is not None:
        built_from = source.read_bytes() if twin == "fresh" else b"an older version"
        text = f'WHICH = "twin"\n{SOURCE_HASH_ATTRIBUTE} = {source_hash(built_from)!r}\n'
        (package / "_compiled_hot.py").write_text(text)


@pytest.fixture
def hot_package(tmp_path, monkeypatch):
    """Import ``hotpkg.hot`` from ``tmp_path``, afresh."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv(PURE_PYTHON_VARIABLE, raising=False)

    def load():
        for name in ("hotpkg", "hotpkg.hot", "hotpkg._compiled_hot"):
            sys.modules.pop(name, None)
        importlib.invalidate_caches()
        return importlib.import_module("hotpkg.hot")

    yield load
    for name in ("hotpkg", "hotpkg.hot", "hotpkg._compiled_hot", "hotpkg._compiled__compiled_hot"):
        sys.modules.pop(name, None)


def test_a_twin_built_from_the_source_takes_the_modules_place(tmp_path, hot_package):
    make_package(tmp_path, twin="fresh")
    module = hot_package()
    assert module.WHICH == "twin"
    assert module is sys.modules[twin_name("hotpkg.hot")] is sys.modules["hotpkg._compiled_hot"]


def test_without_a_twin_the_module_runs_in_python(tmp_path, hot_package):
    make_package(tmp_path, twin=None)
    assert hot_package().WHICH == "python"


def test_a_twin_of_another_source_is_refused_with_a_warning(tmp_path, hot_package):
    make_package(tmp_path, twin="stale")
    with pytest.warns(StaleCompiledWarning, match=r"hotpkg.hot runs in Python.*pip install -e"):
        module = hot_package()
    assert module.WHICH == "python"


def test_a_twin_that_fails_to_import_is_refused_with_a_warning(tmp_path, hot_package):
    make_package(tmp_path, twin=None)
    (tmp_path / "hotpkg" / "_compiled_hot.py").write_text("from hotpkg import gone\n")
    with pytest.warns(StaleCompiledWarning, match=r"fails to import"):
        module = hot_package()
    assert module.WHICH == "python"


def test_coinfer_pure_python_refuses_even_a_fresh_twin(tmp_path, hot_package, monkeypatch):
    make_package(tmp_path, twin="fresh")
    monkeypatch.setenv(PURE_PYTHON_VARIABLE, "1")
    assert hot_package().WHICH == "python"


def test_a_twin_leaves_itself_alone(tmp_path, hot_package):
    """A twin runs use_compiled too (it is built from the same source): it must not look for
    a twin of its own, even where one would match it."""
    make_package(tmp_path, twin="fresh")
    twin = tmp_path / "hotpkg" / "_compiled_hot.py"
    module = hot_package()
    assert module is sys.modules["hotpkg._compiled_hot"]
    deeper = tmp_path / "hotpkg" / "_compiled__compiled_hot.py"  # a twin of the twin
    deeper.write_text(f"{SOURCE_HASH_ATTRIBUTE} = {source_hash(twin.read_bytes())!r}\n")
    importlib.invalidate_caches()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        use_compiled("hotpkg._compiled_hot", str(twin))
    assert sys.modules["hotpkg._compiled_hot"] is module
    assert "hotpkg._compiled__compiled_hot" not in sys.modules


@pytest.fixture(scope="module")
def inlined_sources() -> dict[str, tuple[bytes, str]]:
    """Each hot module's source and what the build compiles of it (one import in Python)."""
    sources = {}
    with in_python():
        from coinfer.emulator.records import inline_source  # the Python copy's, as its kinds

        for name in HOT_MODULES:
            module = importlib.import_module(name)
            path = Path(module.__file__)
            source = path.read_bytes()
            sources[name] = (source, inline_source(source, vars(module), str(path)))
    return sources


@pytest.mark.parametrize("name", HOT_MODULES)
def test_the_build_inlines_each_hot_module_on_its_own_lines(name, inlined_sources):
    """What setup.py compiles: the module's source, line for line, with no ``build()`` call
    left in a function that was decorated with ``@inline_builds``, and no decorator."""
    source, inlined = inlined_sources[name]
    assert inlined.count("\n") == source.count(b"\n")
    decorated = {
        (node.name, node.lineno)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef)
        and any(getattr(d, "id", None) == "inline_builds" for d in node.decorator_list)
    }
    inlined_tree = ast.parse(inlined)
    for node in ast.walk(inlined_tree):
        if isinstance(node, ast.FunctionDef) and (node.name, node.lineno) in decorated:
            decorated.remove((node.name, node.lineno))
            assert not node.decorator_list
            callees = {
                c.func.id
                for c in ast.walk(node)
                if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)
            }
            assert "build" not in callees, f"{name}: {node.name} still calls build()"
    assert not decorated  # every decorated function was found, on its own line
