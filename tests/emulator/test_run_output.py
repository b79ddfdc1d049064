"""A run's output is never silently replaced (issue 16, point 3).

``coinfer run`` writes to ``runs/NAME-POLICY-sSEED`` by default, so runs of one scenario with
different policies land in different folders; a folder that holds a run already is refused
before the run (exit 2, one line) unless ``--overwrite``; ``simulate(out_dir=...)`` does the
same unless ``overwrite=True``.
"""

from pathlib import Path

import pytest

from coinfer.emulator.api.run import simulate
from coinfer.emulator.cli.main import main
from coinfer.emulator.cli.run import default_run_dir
from coinfer.emulator.errors import InputError
from coinfer.emulator.scenario.schema import load_scenario

PAPER = Path(__file__).resolve().parents[2] / "examples" / "scenarios" / "paper-single.yaml"
FEW = ["--set", "requests=5"]


def test_the_default_folder_names_scenario_policy_and_seed(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(PAPER), *FEW]) == 0
    assert main(["run", str(PAPER), *FEW, "--set", "policy={name: min-latency}"]) == 0
    runs = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert runs == ["paper-single-fixed-s1", "paper-single-min-latency-s1"]
    own = load_scenario(PAPER, ["policy={name: 'my_pkg.policies:Greedy'}"])
    assert default_run_dir(own, 3) == Path("runs/paper-single-my_pkg.policies_Greedy-s3")


def test_a_second_run_into_the_same_folder_is_refused_unless_overwrite(capsys, tmp_path):
    out = tmp_path / "run"
    assert main(["run", str(PAPER), *FEW, "--out", str(out)]) == 0
    first = (out / "trace.parquet").stat().st_mtime_ns
    capsys.readouterr()
    assert main(["run", str(PAPER), *FEW, "--out", str(out), "--seed", "2"]) == 2
    _, err = capsys.readouterr()
    assert err.count("\n") == 1 and "holds a run already" in err and "--overwrite" in err
    assert (out / "trace.parquet").stat().st_mtime_ns == first  # untouched
    assert main(["run", str(PAPER), *FEW, "--out", str(out), "--seed", "2", "--overwrite"]) == 0
    assert '"seed": 2' in (out / "run.json").read_text()


def test_simulate_refuses_a_folder_with_a_run_unless_overwrite(tmp_path):
    scenario = load_scenario(PAPER, ["requests=3"])
    simulate(scenario, out_dir=tmp_path)
    with pytest.raises(InputError, match="holds a run already") as refused:
        simulate(scenario, out_dir=tmp_path)
    assert refused.value.argument == "out_dir" and "`overwrite`" in str(refused.value)
    simulate(scenario, out_dir=tmp_path, overwrite=True)
    empty = tmp_path / "empty"
    empty.mkdir()
    simulate(scenario, out_dir=empty)  # an empty folder is no run
