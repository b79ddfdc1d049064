"""How the command line reports errors: the library's arguments worded as flags, ``--debug``.

The library names the argument a bad value came through (``override devices.3: ...``); only the
command line knows it was ``--set``. ``coinfer --debug`` adds the traceback, with its causes.
"""

import ast
import re
from pathlib import Path

import pytest

from coinfer.emulator.api.compare import compare_policies
from coinfer.emulator.api.solve import Instance
from coinfer.emulator.cli import main as cli_main
from coinfer.emulator.cli.errors import FLAGS
from coinfer.emulator.cli.main import main
from coinfer.emulator.errors import InputError
from coinfer.emulator.scenario.schema import apply_overrides, load_scenario
from coinfer.emulator.sweeps.executors import ProcessExecutor
from tests.emulator.sweeps.helpers import sweep_data, write_sweep

ROOT = Path(__file__).resolve().parents[2]
PAPER = "examples/scenarios/paper-single.yaml"
#: The library: every package folder but the command line's own.
LIBRARY = [
    path
    for folder in ("emulator", "policies", "topologies", "traces")
    for path in sorted((ROOT / folder).rglob("*.py"))
    if "cli" not in path.relative_to(ROOT).parts
]
FLAG = re.compile(r"(?:^|[\s(`])--[a-z]")


@pytest.fixture(autouse=True)
def repository_root(monkeypatch, request):
    monkeypatch.chdir(request.config.rootpath)


def run_cli(capsys, *argv):
    status = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return status, out, err


def flags_in_errors(source: str) -> list[tuple[int, str]]:
    """(line, text) of every string in a ``raise`` of ``source`` that names a flag."""
    return [
        (part.lineno, part.value)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Raise) and node.exc is not None
        for part in ast.walk(node.exc)
        if isinstance(part, ast.Constant)
        and isinstance(part.value, str)
        and FLAG.search(part.value)
    ]


def test_the_library_phrases_no_error_in_command_line_flags():
    assert LIBRARY, "no library module found"
    found = [
        f"{path.relative_to(ROOT)}:{line}: {text}"
        for path in LIBRARY
        for line, text in flags_in_errors(path.read_text(encoding="utf-8"))
    ]
    assert not found, "\n".join(found)


def test_the_scan_finds_a_flag_in_an_error_message():
    source = 'def f(n):\n    raise InputError(f"--workers: got {n}")\n'
    assert flags_in_errors(source) == [(2, "--workers: got ")]
    assert flags_in_errors('raise InputError("workers: got 0; see coinfer sweep")') == []


def test_an_override_is_worded_as_set_on_the_command_line(capsys):
    with pytest.raises(InputError) as caught:
        apply_overrides({"devices": [{}]}, ["devices.3.count=1"])
    assert str(caught.value) == "override devices.3: got index '3', expected 0..0"
    status, _, err = run_cli(capsys, "validate", PAPER, "--set", "devices.3.count=1")
    assert status == 2
    assert err == "coinfer: error: --set devices.3: got index '3', expected 0..0\n"


def test_a_sweeps_set_is_worded_as_set_too(capsys, tmp_path):
    path = write_sweep(tmp_path, sweep_data())
    status, _, err = run_cli(capsys, "sweep", path, "--dry-run", "--set", "devices.3.count=1")
    assert status == 2
    assert f"sweep {str(path)!r}: --set devices.3: got index '3', expected 0..0" in err


def _solve_setting():
    Instance().with_settings(["device.pue=0.5"])


def _compare_one_policy():
    compare_policies(load_scenario(PAPER), ["fixed"], [0])


def _no_workers():
    ProcessExecutor(workers=0)


@pytest.mark.parametrize(
    ("call", "library", "command_line"),
    [
        (_solve_setting, "setting device.pue=0.5: pue: got 0.5", "--set device.pue=0.5: pue:"),
        (_compare_one_policy, "policies: got ['fixed'], expected at", "--policies: got ['fixed']"),
        (_no_workers, "workers: got 0, expected a positive integer", "--workers: got 0"),
    ],
    ids=["solve", "compare", "executor"],
)
def test_library_errors_name_arguments_and_the_command_line_words_them(call, library, command_line):
    with pytest.raises(InputError) as caught:
        call()
    assert str(caught.value).startswith(library)
    assert caught.value.worded(FLAGS).startswith(command_line)


def test_a_setting_carries_the_path_from_the_top():
    with pytest.raises(InputError) as caught:
        _solve_setting()
    assert caught.value.path == "device.pue" and caught.value.value == 0.5


def test_every_argument_the_library_names_has_a_flag():
    """Each ``argument=`` the library gives an InputError is one the command line words."""
    named = set()
    for path in LIBRARY:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.keyword)
                and node.arg in ("argument", "mentions")
                and isinstance(node.value, ast.Constant | ast.Tuple)
            ):
                values = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
                named.update(v.value for v in values if isinstance(v, ast.Constant))
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "through":
                named.update(a.value for a in node.args if isinstance(a, ast.Constant))
    assert named, "no argument found"
    assert named <= set(FLAGS), f"arguments without a flag: {sorted(named - set(FLAGS))}"


# ---- --debug ----------------------------------------------------------------------------------


@pytest.fixture
def bad_yaml(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("requests: [5\n")
    return path


def test_bad_input_is_its_message_without_a_traceback(capsys, bad_yaml):
    status, _, err = run_cli(capsys, "validate", bad_yaml)
    assert status == 2 and "Traceback" not in err
    assert err.startswith(f"coinfer: error: scenario file {str(bad_yaml)!r} is not valid YAML")


def test_debug_shows_the_traceback_and_its_cause(capsys, bad_yaml):
    status, _, err = run_cli(capsys, "--debug", "validate", bad_yaml)
    assert status == 2
    assert err.startswith("Traceback") and "yaml.parser.ParserError" in err
    cause = err.index("The above exception was the direct cause of the following exception")
    assert cause < err.index("coinfer.emulator.errors.InputError") < err.index("coinfer: error:")


def test_debug_shows_a_plug_ins_own_error(capsys, monkeypatch, tmp_path):
    (tmp_path / "coinfer_test_exploding.py").write_text("raise RuntimeError('boom at import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    argv = ["validate", PAPER, "--set", "policy.name=coinfer_test_exploding:P"]
    status, _, err = run_cli(capsys, "--debug", *argv)
    assert status == 2 and "RuntimeError: boom at import" in err and "Traceback" in err
    status, _, err = run_cli(capsys, *argv)
    assert status == 2 and "Traceback" not in err


def _explode(args):
    return 1 / 0


def test_an_unexpected_error_is_one_line_and_exit_status_1(capsys, monkeypatch):
    monkeypatch.setitem(cli_main.SCENARIO_COMMANDS, "validate", _explode)
    status, _, err = run_cli(capsys, "validate", PAPER)
    assert status == 1 and "Traceback" not in err
    assert err == (
        "coinfer: internal error: ZeroDivisionError: division by zero (run `coinfer --debug "
        "...` for the traceback)\n"
    )


def test_debug_shows_the_traceback_of_an_unexpected_error(capsys, monkeypatch):
    monkeypatch.setitem(cli_main.SCENARIO_COMMANDS, "validate", _explode)
    status, _, err = run_cli(capsys, "--debug", "validate", PAPER)
    assert status == 1 and err.startswith("Traceback") and "in _explode" in err
    assert err.splitlines()[-1] == "coinfer: internal error: ZeroDivisionError: division by zero"
