"""How the suite is split between xdist workers (``tests/scheduling.py``)."""

from pathlib import Path

import pytest

from tests.scheduling import SHARED_FIXTURES, work_unit
from tests.test_docs import SHOWN, as_param

ROOT = Path(__file__).resolve().parents[1]


def test_a_test_is_a_unit_of_its_own():
    nodeid = "tests/emulator/test_cli.py::test_models_lists_the_presets"
    assert work_unit(nodeid) == nodeid
    assert work_unit("tests/test_docs.py::test_shown_python_runs[README.md-from]") == (
        "tests/test_docs.py::test_shown_python_runs[README.md-from]"
    )


@pytest.mark.parametrize("module", SHARED_FIXTURES)
def test_the_tests_of_a_module_with_a_costly_shared_fixture_are_one_unit(module):
    assert (ROOT / module).is_file()
    assert work_unit(f"{module}::test_one") == work_unit(f"{module}::test_two[3]") == module


def test_the_commands_of_one_document_are_one_unit():
    units: dict[str, set[str]] = {}
    for shown in SHOWN:
        nodeid = f"tests/test_docs.py::test_shown_command_runs[{as_param(shown).id}]"
        units.setdefault(shown.doc, set()).add(work_unit(nodeid))
    assert units == {doc: {f"tests/test_docs.py::{doc}"} for doc in units}
