"""Records built by name: ``build`` refuses a missing or unknown field; ``inline_builds`` turns
each ``build`` call into the positional tuple, checked against the declaration on import."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from typing import NamedTuple

import pytest

from coinfer.emulator.records import RecordError, build, field_names, inline_builds
from tests.python_modules import in_python


class Point(NamedTuple):
    x: float
    y: float
    label: str = "origin"


class Row:
    """A declared table in miniature: a record kind whose records are plain tuples."""

    name = "row"
    field_names = ("a", "b", "c")


ROW = Row()


def test_build_takes_every_field_by_name_in_any_order():
    point = build(Point, label="p", y=2.0, x=1.0)
    assert point == Point(1.0, 2.0, "p") and type(point) is Point
    assert build(ROW, c=3, a=1, b=2) == (1, 2, 3)
    assert field_names(Point) == ("x", "y", "label") and field_names(ROW) == ("a", "b", "c")


def test_build_refuses_a_missing_field_even_one_with_a_default():
    with pytest.raises(RecordError, match=r"build\(Point\) must give every field.*missing label"):
        build(Point, x=1.0, y=2.0)


def test_build_refuses_an_unknown_field():
    with pytest.raises(RecordError, match=r"missing c; unknown d"):
        build(ROW, a=1, b=2, d=4)


def test_build_refuses_what_is_not_a_record_kind():
    with pytest.raises(RecordError, match="is not a record kind"):
        build(dict, a=1)


@inline_builds
def shifted(point: Point, dx: float) -> tuple[Point, tuple]:
    return (
        build(Point, y=point.y, label=point.label + "'", x=point.x + dx),
        build(ROW, b=point.y, c=point.label, a=point.x),
    )


class Mover:
    def __init__(self) -> None:
        self.__step = 0.5  # name-mangled: the method is compiled in its class

    @inline_builds
    def move(self, point: Point) -> Point:
        return build(Point, x=point.x + self.__step, y=point.y, label=point.label)


def test_inlined_builds_give_what_the_checked_builds_give():
    point = Point(1.0, 2.0, "p")
    assert (
        shifted(point, 3.0)
        == shifted.__wrapped__(point, 3.0)
        == (
            Point(4.0, 2.0, "p'"),
            (1.0, 2.0, "p"),
        )
    )
    assert type(shifted(point, 3.0)[0]) is Point
    assert Mover().move(point) == Mover.move.__wrapped__(Mover(), point) == Point(1.5, 2.0, "p")


def test_inlined_functions_no_longer_call_build():
    """The rewritten code builds the tuples itself: ``build`` is not among its names."""
    assert "build" not in shifted.__code__.co_names
    assert "build" in shifted.__wrapped__.__code__.co_names
    assert shifted.__name__ == "shifted" and shifted.__qualname__ == "shifted"
    assert Mover.move.__qualname__ == "Mover.move"


def import_source(tmp_path, name: str, source: str):
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    return module


HEADER = """
    from typing import NamedTuple
    from coinfer.emulator.records import build, inline_builds

    class Point(NamedTuple):
        x: float
        y: float
        label: str = "origin"
"""


def test_a_missing_field_fails_the_import_naming_the_line_and_the_field(tmp_path):
    source = (
        HEADER
        + """
    @inline_builds
    def origin():
        return build(Point, x=0.0, y=0.0)
    """
    )
    with pytest.raises(RecordError, match=r"missing_field\.py:12: build\(Point\).*missing label"):
        import_source(tmp_path, "missing_field", source)


def test_an_unknown_field_fails_the_import(tmp_path):
    source = (
        HEADER
        + """
    @inline_builds
    def origin():
        return build(Point, x=0.0, y=0.0, label="o", z=0.0)
    """
    )
    with pytest.raises(RecordError, match=r"unknown z"):
        import_source(tmp_path, "unknown_field", source)


def test_an_inlined_build_needs_a_module_level_kind_and_named_fields(tmp_path):
    source = (
        HEADER
        + """
    @inline_builds
    def origin(values):
        return build(Point, **values)
    """
    )
    with pytest.raises(RecordError, match=r"takes a module-level record kind"):
        import_source(tmp_path, "splat", source)


def test_inlining_a_function_without_build_is_refused(tmp_path):
    source = (
        HEADER
        + """
    @inline_builds
    def origin():
        return Point(0.0, 0.0)
    """
    )
    with pytest.raises(RecordError, match=r"origin calls no build\(\)"):
        import_source(tmp_path, "no_build", source)


def test_errors_in_inlined_functions_point_at_their_source_line(tmp_path):
    source = (
        HEADER
        + """
    @inline_builds
    def ratio(a, b):
        return build(Point, x=a / b, y=0.0, label="r")
    """
    )
    module = import_source(tmp_path, "lines", source)
    with pytest.raises(ZeroDivisionError) as failure:
        module.ratio(1.0, 0.0)
    assert failure.traceback[-1].lineno + 1 == 12  # pytest counts lines from 0


ENGINE_BUILDERS = ("_arrive", "_routed_context", "_context_for", "_record")


def test_the_engine_and_the_fixed_policy_build_their_records_inline():
    """In Python (their compiled twins are inlined at build time: tests/emulator/
    test_compiled.py)."""
    with in_python():
        from coinfer.emulator.engine.core import Engine
        from coinfer.policies.fixed import FixedPolicy

        methods = [getattr(Engine, name) for name in ENGINE_BUILDERS] + [FixedPolicy.decide]
        for method in methods:
            assert "build" not in method.__code__.co_names, method.__qualname__
            assert "build" in method.__wrapped__.__code__.co_names, method.__qualname__


@pytest.mark.parametrize(("example", "duration_s"), [("busy-cell", 12), ("hex-city", 3)])
def test_inlined_and_checked_builds_give_the_same_trace(example, duration_s, monkeypatch):
    """The engine's generated positional rows and contexts equal those built and checked by
    name at run time, with and without a topology (routed contexts, candidate servers); in
    Python, where the two can be swapped."""
    from pathlib import Path

    with in_python():
        from coinfer.emulator.api.run import simulate
        from coinfer.emulator.engine.core import Engine
        from coinfer.emulator.scenario.schema import load_scenario
        from coinfer.policies.fixed import FixedPolicy

        path = Path(__file__).resolve().parents[2] / "examples" / "scenarios" / f"{example}.yaml"
        scenario = load_scenario(path, [f"duration_s={duration_s}"])
        inlined = simulate(scenario, seed=5).trace
        for name in ENGINE_BUILDERS:
            monkeypatch.setattr(Engine, name, getattr(Engine, name).__wrapped__)
        monkeypatch.setattr(FixedPolicy, "decide", FixedPolicy.decide.__wrapped__)
        checked = simulate(scenario, seed=5).trace
        monkeypatch.undo()  # before the modules of the Python copy go
    assert len(inlined) > 100
    assert inlined.equals(checked)
