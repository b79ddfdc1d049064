"""The example scenarios mutated field by field, as a careless or hostile user would: every
mutation is either valid or refused cleanly, with exit status 2, one line naming the field, no
traceback, in bounded time. Never an internal error.

Mutations of one field at a time: a swap of type (text, list, mapping, bool), a non-finite
number, an absurd number, a negative one, a deletion, and an unknown key beside it. A small
budget runs in the default suite; ``-m slow`` runs a larger one.
"""

from __future__ import annotations

import copy
import math
import signal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coinfer.emulator.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ("paper-single.yaml", "busy-cell.yaml", "multi-cell.yaml", "edge-cloud.yaml")
#: The longest a verdict on one mutated scenario may take, s.
VERDICT_TIMEOUT_S = 30
REPLACEMENTS: list[Any] = [
    "nonsense",
    [],
    {},
    True,
    math.inf,
    -math.inf,
    math.nan,
    1e30,
    -1e30,
    -1,
    0,
    None,
]


def _leaves(data: Any, path: tuple = ()) -> list[tuple]:
    """The paths of every field of ``data`` (mappings by key, lists by index)."""
    found = []
    items = (
        data.items()
        if isinstance(data, dict)
        else enumerate(data)
        if isinstance(data, list)
        else []
    )
    for key, value in items:
        found.append((*path, key))
        found.extend(_leaves(value, (*path, key)))
    return found


SCENARIOS = {
    name: yaml.safe_load((ROOT / "examples/scenarios" / name).read_text(encoding="utf-8"))
    for name in EXAMPLES
}
FIELDS = [(name, path) for name, data in SCENARIOS.items() for path in _leaves(data)]


def _mutated(data: dict, path: tuple, how: str, replacement: Any) -> dict:
    data = copy.deepcopy(data)
    node = data
    for key in path[:-1]:
        node = node[key]
    last = path[-1]
    if how == "delete":
        del node[last]
    elif how == "unknown-key" and isinstance(node, dict):
        node["colour_of_the_sky"] = "blue"
    else:
        node[last] = replacement
    return data


class _TooSlowError(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _TooSlowError


def _verdict(tmp: Path, data: dict, capsys) -> tuple[int, str]:
    scenario = tmp / "fuzzed.yaml"
    scenario.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(VERDICT_TIMEOUT_S)
    try:
        status = main(
            ["validate", str(scenario), "--trace-dir", str(ROOT.parent / "shared/traces")]
        )
    except SystemExit as done:
        status = int(done.code or 0)
    except _TooSlowError:
        pytest.fail(f"no verdict within {VERDICT_TIMEOUT_S} s")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return status, capsys.readouterr().err


def check_mutation(tmp: Path, capsys, field: tuple, how: str, replacement: Any) -> None:
    name, path = field
    data = _mutated(SCENARIOS[name], path, how, replacement)
    status, err = _verdict(tmp, data, capsys)
    assert status in (0, 2), f"{name} {path} {how} {replacement!r}: status {status}: {err}"
    assert "Traceback" not in err
    if status == 2:
        lines = err.rstrip("\n").split("\n")
        assert lines[0].startswith("coinfer: error: "), err
        named = {part.removesuffix("s") for part in path if isinstance(part, str)}
        named.add("colour_of_the_sky")
        assert any(key in err for key in named), (
            f"{name} {path} {how} {replacement!r}: the message names no field of the path: {err}"
        )


MUTATION = st.tuples(
    st.sampled_from(FIELDS),
    st.sampled_from(["replace", "replace", "replace", "delete", "unknown-key"]),
    st.sampled_from(REPLACEMENTS),
)


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(MUTATION)
def test_a_mutated_example_is_valid_or_refused_cleanly(tmp_path, capsys, mutation):
    check_mutation(tmp_path, capsys, *mutation)


@pytest.mark.slow
@settings(
    max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(MUTATION)
def test_many_mutated_examples_are_valid_or_refused_cleanly(tmp_path, capsys, mutation):
    check_mutation(tmp_path, capsys, *mutation)
