"""The command line: tables by default, JSON on request, exit status 2 on bad input."""

import json
import shutil
import subprocess

import pytest

from coinfer.emulator import __version__
from coinfer.emulator.cli.main import main


def run_cli(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_version_says_how_many_hot_modules_run_compiled(capsys):
    from coinfer.emulator.compiled import HOT_MODULES, status

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    compiled = list(status().values()).count("compiled")
    expected = f"coinfer {__version__} ({compiled} of {len(HOT_MODULES)} hot modules compiled)"
    assert capsys.readouterr().out.strip() == expected


def test_models_table_lists_every_builtin_with_its_size(capsys):
    status, out, _ = run_cli(capsys, "models")
    assert status == 0
    lines = out.splitlines()
    assert lines[0].split()[:5] == ["name", "family", "parameters", "FLOPs/pass", "blocks"]
    llama = next(line for line in lines if line.startswith("llama-2-7b "))
    assert "6.74 G" in llama and "34" in llama.split()


def test_models_json_is_machine_readable(capsys):
    status, out, _ = run_cli(capsys, "models", "--json")
    assert status == 0
    rows = {row["name"]: row for row in json.loads(out)}
    assert rows["bert-paper"]["params"] == pytest.approx(109.48e6)
    assert rows["bert-paper"]["blocks"] == 12
    assert rows["gpt2"]["kv_cache_bytes_per_token"] == 2 * 12 * 768 * 4


def test_models_show_prints_one_row_per_block(capsys):
    status, out, _ = run_cli(capsys, "models", "show", "bert-paper")
    assert status == 0
    table = out.split("\n\n", 1)[1].splitlines()
    assert len(table) == 2 + 12  # header, rule, 12 blocks
    assert table[2].split()[:2] == ["1", "block.1"]


def test_models_show_json_has_per_split_arrays(capsys):
    status, out, _ = run_cli(capsys, "models", "show", "gpt2", "--seq-len", "64", "--json")
    assert status == 0
    data = json.loads(out)
    assert data["sequence_length"] == 64
    assert len(data["splits"]) == len(data["blocks"]) + 1
    assert data["splits"][-1]["payload_bits"] == 0
    assert data["decode"]["name"] == "gpt2:decode"


def test_models_show_accepts_a_profile_file(capsys, tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("name,params,flops,activation_bits\ninput,0,0,8\nonly,5,10,4\n")
    status, out, _ = run_cli(capsys, "models", "show", str(path), "--json")
    assert status == 0
    assert json.loads(out)["name"] == "mine"


def test_unknown_model_exits_2_listing_known_names(capsys):
    status, out, err = run_cli(capsys, "models", "show", "gpt5")
    assert status == 2
    assert out == ""
    assert err.startswith("coinfer: error: unknown model 'gpt5'; expected one of:")
    assert "llama-3-8b" in err and "Traceback" not in err


def test_size_the_model_does_not_take_exits_2(capsys):
    status, _, err = run_cli(capsys, "models", "show", "resnet-50", "--seq-len", "10")
    assert status == 2
    assert "sequence_length: model 'resnet-50' does not take it (it takes image_size)" in err


def test_bad_flag_value_exits_2_naming_flag_and_value(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["models", "show", "gpt2", "--seq-len", "-3"])
    assert exit_info.value.code == 2
    assert "--seq-len: got -3, expected a positive integer" in capsys.readouterr().err


def test_hardware_table_and_json(capsys):
    status, out, _ = run_cli(capsys, "hardware")
    assert status == 0
    names = [line.split()[0] for line in out.splitlines()[2:]]
    assert {"paper-device", "paper-server", "jetson-orin-nano", "h100"} <= set(names)
    status, out, _ = run_cli(capsys, "hardware", "--json")
    specs = {s["name"]: s for s in json.loads(out)}
    assert specs["paper-server"]["f_max_hz"] == 4e9
    assert specs["paper-device"]["max_tx_power_w"] == 0.5


def test_hardware_show_and_unknown_name(capsys):
    status, out, _ = run_cli(capsys, "hardware", "show", "paper-device", "--json")
    assert status == 0 and json.loads(out)["flops_per_cycle"] == 32
    status, _, err = run_cli(capsys, "hardware", "show", "tpu-v9")
    assert status == 2
    assert "unknown hardware class 'tpu-v9'" in err and "paper-device" in err


def test_bad_hardware_file_exits_2_naming_the_field(capsys, tmp_path):
    path = tmp_path / "hw.yaml"
    path.write_text(
        "- name: broken\n  kind: server\n  description: x\n  f_min_hz: 0\n  f_max_hz: -1\n"
        "  flops_per_cycle: 1\n  power_coeff_w_per_hz3: 1e-28\n  pue: 1\n"
        "  memory_bandwidth_bytes_per_s: 1e9\n  memory_bytes: 1e9\n"
    )
    status, _, err = run_cli(capsys, "hardware", "--hardware-file", str(path))
    assert status == 2
    assert "f_max_hz" in err and "-1" in err


def test_console_script_is_installed_and_exits_2_on_bad_input():
    script = shutil.which("coinfer")
    assert script, "the coinfer console script is not on PATH: pip install -e '.[dev]'"
    result = subprocess.run([script, "models", "show", "nope"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "unknown model 'nope'" in result.stderr


def test_a_reader_leaving_early_is_not_an_error():
    """`coinfer models | head -1`: the pipe closes early; no traceback, exit status 0."""
    import subprocess
    import sys

    listing = subprocess.Popen(
        [sys.executable, "-m", "coinfer.emulator.cli.main", "models"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    listing.stdout.close()  # the reader leaves before the listing is written
    _, err = listing.communicate()
    assert listing.returncode == 0
    assert b"Traceback" not in err
