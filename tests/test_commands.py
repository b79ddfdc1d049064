"""``tests/commands.py`` runs a ``coinfer`` line as the console script would: same exit status,
same output, in the command's own directory, with the command's own environment."""

import subprocess

import pytest

from tests.commands import Commands, coinfer_script


@pytest.fixture(scope="module")
def commands(tmp_path_factory):
    commands = Commands(tmp_path_factory.mktemp("commands"))
    yield commands
    commands.close()


def console_script(command: str, cwd) -> subprocess.CompletedProcess:
    argv = [str(coinfer_script()), *command.split()[1:]]
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True)


@pytest.mark.parametrize(
    "command",
    [
        "coinfer models show bert-paper --json",  # prints, exit status 0
        "coinfer run no-such-scenario.yaml",  # one error line, exit status 2
    ],
)
def test_a_command_does_what_the_console_script_does(commands, command, tmp_path):
    forked, real = commands.run(command, cwd=tmp_path), console_script(command, tmp_path)
    assert (forked.returncode, forked.stdout, forked.stderr) == (
        real.returncode,
        real.stdout,
        real.stderr,
    )


def test_a_command_runs_in_its_directory(commands, tmp_path):
    (tmp_path / "mine.csv").write_text(
        "name,params,flops,activation_bits\ninput,0,0,64\nall,1000,2000,64\n", encoding="utf-8"
    )
    result = commands.run("coinfer models show mine.csv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "1 blocks" in result.stdout


def test_a_command_has_the_environment_of_its_caller(commands, tmp_path, monkeypatch):
    monkeypatch.setenv("COINFER_TRACE_DIR", str(tmp_path / "traces"))
    monkeypatch.setenv("COINFER_CACHE_DIR", str(tmp_path / "cache"))
    result = commands.run("coinfer traces show mahimahi/Verizon-LTE-short.down", cwd=tmp_path)
    assert result.returncode == 2
    assert f"$COINFER_TRACE_DIR {tmp_path / 'traces'}" in result.stderr
