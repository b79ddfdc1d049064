"""``coinfer schema [PATH]``: one section of the scenario's fields, wrapped to the terminal."""

import pytest

from coinfer.emulator.cli.main import main


def schema(capsys, monkeypatch, *argv, columns=100):
    monkeypatch.setenv("COLUMNS", str(columns))
    status = main(["schema", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_a_path_shows_that_section_only(capsys, monkeypatch):
    status, out, _ = schema(capsys, monkeypatch, "channel.fading")
    assert status == 0
    fields = [line.split()[0] for line in out.splitlines()[2:] if line and line[0] != " "]
    assert fields and all(f.startswith("channel.fading") for f in fields)
    assert "channel.fading.coherence_time_s" in fields


@pytest.mark.parametrize("columns", [120, 200])
def test_the_meaning_is_wrapped_to_the_terminal(capsys, monkeypatch, columns):
    _, out, _ = schema(capsys, monkeypatch, "devices.arrivals", columns=columns)
    assert max(len(line) for line in out.splitlines()) <= columns
    _, whole, _ = schema(capsys, monkeypatch, columns=columns)
    assert len(whole.splitlines()) > len(out.splitlines())


def test_an_unknown_path_gets_the_closest_field(capsys, monkeypatch):
    status, out, err = schema(capsys, monkeypatch, "devics")
    assert status == 2 and not out
    assert err.strip() == "coinfer: error: schema: no field 'devics'; did you mean 'devices'?"
