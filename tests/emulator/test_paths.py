"""File references in scenarios: every file field is found in the schema and made absolute.

A scenario names its files relative to the file it is written in, whoever reads it: a scenario
file, an inline sweep scenario, the values a sweep assigns. One walker does it for all of them.
"""

from pathlib import Path

import pytest
import yaml

from coinfer.emulator.cli.main import main
from coinfer.emulator.cli.run import _schema_rows
from coinfer.emulator.scenario.paths import (
    EVERY,
    FileField,
    file_fields,
    resolve_files,
)
from coinfer.emulator.scenario.schema import Scenario, load_scenario
from coinfer.emulator.sweeps.executors import SerialExecutor
from coinfer.emulator.sweeps.plan import load_plan
from coinfer.emulator.sweeps.runner import run_sweep
from tests.emulator.replay_fixtures import write_capacity

#: The file fields of the scenario today (a new one is found by its mark; add it here too).
KNOWN = {
    "devices.*.model": "name-or-file",
    "devices.*.arrivals.file": "file",
    "devices.*.link_trace.file": "file",
    "devices.*.work.file": "file",
    "devices.*.tokens.prompt.file": "file",
    "devices.*.tokens.output.file": "file",
    "devices.*.exits.file": "file",
    "devices.*.mobility.file": "file",
    "devices.*.speculative.tokens_per_round.file": "file",
    "hardware_files": "file",
    "model_files": "file",
    "topology.file": "file",
}

CAPACITY_DEVICES = [
    {
        "name": "phones",
        "count": 2,
        "arrivals": {"process": "poisson", "rate_per_s": 2.0},
        "link_trace": {"kind": "capacity", "file": "cap.csv"},
    }
]


def test_the_walker_finds_every_file_field_of_the_scenario():
    assert {field.dotted: field.kind for field in file_fields(Scenario)} == KNOWN


def _plain(path: str) -> str:
    """A field path without list items and union tags: ``devices.link_trace.file``."""
    parts = path.replace(f".{EVERY}", "").split(".")
    return ".".join(part.split("[")[0] for part in parts)


def _looks_like_a_file(name: str, meaning: str) -> bool:
    return name.endswith(("file", "files", "path")) or "relative to the scenario file" in meaning


def test_every_field_that_looks_like_a_file_is_known_to_the_walker():
    """A field named ``...file`` or described as relative to the scenario file needs the mark."""
    rows = list(_schema_rows(Scenario, ""))
    looking = {_plain(path) for path, _, _, meaning in rows if _looks_like_a_file(path, meaning)}
    assert len(looking) >= len(KNOWN)  # the rows of `coinfer schema` are read right
    assert looking <= {_plain(field.dotted) for field in file_fields(Scenario)}


def _place(keys: tuple[str, ...], value):
    """Raw scenario data holding ``value`` at ``keys`` (one item for each list)."""
    if not keys:
        return value
    inner = _place(keys[1:], value)
    return [inner] if keys[0] == EVERY else {keys[0]: inner}


def _read(data, keys: tuple[str, ...]):
    for key in keys:
        data = data[0] if key == EVERY else data[key]
    return data


@pytest.mark.parametrize("field", file_fields(Scenario), ids=lambda field: field.dotted)
def test_each_file_field_is_made_absolute(field: FileField, tmp_path):
    data = _place(field.keys, "sub/x.yaml")
    resolved = resolve_files(data, tmp_path, Scenario)
    expected = str((tmp_path / "sub" / "x.yaml").resolve())
    assert _read(resolved, field.keys) in (expected, [expected])


def test_names_absolute_paths_and_other_values_are_left_alone(tmp_path):
    data = {
        "devices": [
            {"model": "bert-paper", "arrivals": {"process": "trace", "trace": "azure"}},
            {"model": "/opt/tiny.csv", "link_trace": {"kind": "snr", "file": 3}},
        ],
        "hardware_files": ["/etc/hw.yaml", "more/hw.yaml"],
    }
    resolve_files(data, tmp_path, Scenario)
    assert data["devices"][0] == {
        "model": "bert-paper",
        "arrivals": {"process": "trace", "trace": "azure"},
    }
    assert data["devices"][1] == {
        "model": "/opt/tiny.csv",
        "link_trace": {"kind": "snr", "file": 3},
    }
    assert data["hardware_files"] == ["/etc/hw.yaml", str((tmp_path / "more/hw.yaml").resolve())]


@pytest.mark.parametrize(
    ("at", "value", "expected"),
    [
        ("devices.0.link_trace", {"kind": "capacity", "file": "c.csv"}, {"kind": "capacity"}),
        ("devices.0.link_trace.file", "c.csv", None),
        ("hardware_files.1", "c.csv", None),
        ("devices.0.count", "c.csv", "c.csv"),
        ("topology.file.more", "c.csv", "c.csv"),
    ],
)
def test_a_value_assigned_at_a_path_is_resolved_as_that_field(tmp_path, at, value, expected):
    absolute = str((tmp_path / "c.csv").resolve())
    resolved = resolve_files(value, tmp_path, Scenario, at=at)
    if isinstance(expected, dict):
        assert resolved == {**expected, "file": absolute}
    else:
        assert resolved == (absolute if expected is None else expected)


# ---- scenario files and sweeps -----------------------------------------------------------------


@pytest.fixture
def folder(tmp_path):
    """A folder with a capacity trace, and another folder to run from."""
    (tmp_path / "study").mkdir()
    (tmp_path / "elsewhere").mkdir()
    write_capacity(tmp_path / "study" / "cap.csv", [0.0, 1.0], [20e6, 10e6])
    write_capacity(tmp_path / "study" / "cap2.csv", [0.0, 1.0], [5e6, 5e6])
    return tmp_path


def test_a_scenario_files_trace_file_is_relative_to_it(folder, monkeypatch):
    path = folder / "study" / "s.yaml"
    path.write_text(yaml.safe_dump({"requests": 10, "devices": CAPACITY_DEVICES}))
    monkeypatch.chdir(folder / "elsewhere")
    scenario = load_scenario(path)
    assert scenario.devices[0].link_trace.file == str(folder / "study" / "cap.csv")


def test_an_inline_sweep_scenario_finds_its_trace_file_from_another_directory(folder, monkeypatch):
    sweep = {
        "name": "inline",
        "scenario": {"requests": 10, "devices": CAPACITY_DEVICES},
        "axes": {"devices.0.link_trace.file": ["cap.csv", "cap2.csv"]},
        "seeds": [1],
    }
    path = folder / "study" / "sweep.yaml"
    path.write_text(yaml.safe_dump(sweep))
    monkeypatch.chdir(folder / "elsewhere")
    plan = load_plan(path)
    files = [c.scenario.devices[0].link_trace.file for c in plan.configurations]
    assert files == [str(folder / "study" / "cap.csv"), str(folder / "study" / "cap2.csv")]
    outcome = run_sweep(plan, folder / "out", SerialExecutor(), progress=False)
    assert not outcome.failed and outcome.ran == 2


def test_validate_and_sweep_agree_on_where_a_trace_file_is(folder, monkeypatch, capsys):
    scenario = {"requests": 10, "devices": CAPACITY_DEVICES}
    (folder / "study" / "s.yaml").write_text(yaml.safe_dump(scenario))
    sweep = {"name": "same", "scenario": scenario, "seeds": [1]}
    (folder / "study" / "sweep.yaml").write_text(yaml.safe_dump(sweep))
    monkeypatch.chdir(folder / "elsewhere")
    assert main(["validate", str(Path("..") / "study" / "s.yaml")]) == 0
    assert main(["sweep", str(Path("..") / "study" / "sweep.yaml"), "--dry-run"]) == 0
    assert "Traceback" not in capsys.readouterr().err
