"""``coinfer traces list | show | fetch``: tables, JSON, and exit status 2 on bad input."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import replace

import pytest

from coinfer.emulator.cli.main import main
from coinfer.traces import registry as registry_module
from coinfer.traces.registry import TraceRegistry
from tests.traces.conftest import ROOT

SYNTHETIC = b"".join(f"{ms}\n".encode() for ms in (1, 1, 2, 4, 4, 4, 5, 8, 10))


def run_cli(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def synthetic_registry(tmp_path, content: bytes = SYNTHETIC, sha256: str | None = None):
    """A registry of one synthetic Mahimahi trace served from a file:// address."""
    origin = tmp_path / "origin" / "link.down"
    origin.parent.mkdir(parents=True, exist_ok=True)
    origin.write_bytes(content)
    catalog = {
        "sources": {
            "synthetic": {
                "title": "synthetic",
                "repository": "example/repo",
                "commit": "0" * 40,
                "license": "CC0-1.0",
                "citation": "none",
            }
        },
        "files": {
            "synthetic/link.down": {
                "source": "synthetic",
                "origin_path": "link.down",
                "sha256": sha256 or hashlib.sha256(content).hexdigest(),
                "bytes": len(content),
            }
        },
        "traces": [
            {
                "name": "synthetic/link",
                "kind": "capacity",
                "file": "synthetic/link.down",
                "reader": "mahimahi",
                "description": "a synthetic link",
            }
        ],
    }
    entry = TraceRegistry.from_catalog(catalog).entries[0]
    served = replace(entry, file=replace(entry.file, url=origin.as_uri()))
    return TraceRegistry((served,))


def test_list_prints_every_trace(capsys):
    status, out, _ = run_cli(capsys, "traces", "list")
    assert status == 0
    lines = out.strip().splitlines()
    assert lines[0].split() == ["name", "kind", "license", "description"]
    registry = TraceRegistry.builtin()
    assert len(lines) == 2 + len(registry)
    verizon = next(line for line in lines if line.startswith("mahimahi/Verizon-LTE-short.down "))
    assert "capacity" in verizon and "GPL-3.0-or-later" in verizon
    status, default_out, _ = run_cli(capsys, "traces")
    assert default_out == out


def test_list_json_has_address_checksum_license_and_citation(capsys):
    status, out, _ = run_cli(capsys, "traces", "list", "--json")
    assert status == 0
    entries = {entry["name"]: entry for entry in json.loads(out)}
    code = entries["azure-2023/code"]
    assert code["kind"] == "arrivals"
    assert code["license"] == "CC-BY-4.0"
    assert "Splitwise" in code["citation"]
    assert code["url"].endswith("/data/AzureLLMInferenceTrace_code.csv")
    assert len(code["sha256"]) == 64


def test_show_reads_from_the_trace_dir_and_flags_a_foreign_file(capsys, tmp_path, clean_env):
    (tmp_path / "mahimahi").mkdir()
    (tmp_path / "mahimahi" / "Verizon-LTE-short.down").write_bytes(SYNTHETIC)
    status, out, _ = run_cli(
        capsys, "traces", "show", "mahimahi/Verizon-LTE-short.down", "--trace-dir", str(tmp_path)
    )
    assert status == 0
    assert "sha256 DIFFERS from the registry" in out
    assert "mean capacity            10.8 Mbit/s" in out  # 9 packets x 12 kbit in 10 ms
    assert "cite: K. Winstein" in out


def test_show_json_uses_the_environment_variable(capsys, tmp_path, clean_env, monkeypatch):
    (tmp_path / "mahimahi").mkdir()
    (tmp_path / "mahimahi" / "TMobile-LTE-short.up").write_bytes(SYNTHETIC)
    monkeypatch.setenv("COINFER_TRACE_DIR", str(tmp_path))
    status, out, _ = run_cli(capsys, "traces", "show", "mahimahi/TMobile-LTE-short.up", "--json")
    assert status == 0
    data = json.loads(out)
    assert data["path"] == str(tmp_path / "mahimahi" / "TMobile-LTE-short.up")
    assert data["sha256_ok"] is False
    assert data["statistics"]["mean_bps"] == pytest.approx(9 * 12_000 / 0.010)
    assert data["statistics"]["duration_s"] == pytest.approx(0.010)


def test_show_real_traces(capsys, shared_dir):
    status, out, _ = run_cli(
        capsys, "traces", "show", "mahimahi/Verizon-LTE-short.down", "--trace-dir", str(shared_dir)
    )
    assert status == 0
    assert "sha256 matches the registry" in out
    assert "mean capacity            5.03 Mbit/s" in out
    status, out, _ = run_cli(
        capsys, "traces", "show", "azure-2023/conv", "--trace-dir", str(shared_dir), "--json"
    )
    stats = json.loads(out)["statistics"]
    assert stats["requests"] == 19_366
    assert stats["input_tokens"]["max"] > 0
    status, out, _ = run_cli(
        capsys,
        "traces",
        "show",
        "ucc-5g/download-static/2020.02.13_13.57.29/snr",
        "--trace-dir",
        str(shared_dir),
    )
    assert status == 0 and "CQI mean" in out


def test_show_a_missing_file_exits_2_saying_where_it_looked(capsys, tmp_path, clean_env):
    status, out, err = run_cli(
        capsys, "traces", "show", "mooncake/conversation", "--trace-dir", str(tmp_path / "none")
    )
    assert status == 2 and out == ""
    assert err.startswith("coinfer: error: trace 'mooncake/conversation': file ")
    assert str(tmp_path / "none" / "mooncake" / "conversation_trace.jsonl") in err
    assert str(clean_env / "mooncake" / "conversation_trace.jsonl") in err
    assert "coinfer traces fetch mooncake/conversation" in err
    assert len(err.strip().splitlines()) == 1


def test_bad_names_and_options_exit_2(capsys):
    status, _, err = run_cli(capsys, "traces", "show", "nope")
    assert status == 2 and "unknown trace 'nope'" in err
    status, _, err = run_cli(capsys, "traces", "fetch", "nope")
    assert status == 2 and "unknown trace 'nope'" in err
    with pytest.raises(SystemExit) as info:
        main(["traces", "show", "azure-2023/code", "--window", "0"])
    assert info.value.code == 2
    assert "expected seconds > 0" in capsys.readouterr().err


def test_fetch_downloads_and_verifies(capsys, tmp_path, monkeypatch):
    registry = synthetic_registry(tmp_path)
    monkeypatch.setattr(TraceRegistry, "builtin", classmethod(lambda cls: registry))
    cache = tmp_path / "cache"
    status, out, _ = run_cli(capsys, "traces", "fetch", "synthetic/link", "--cache-dir", str(cache))
    assert status == 0
    assert out.startswith(f"synthetic/link: downloaded {len(SYNTHETIC)} bytes from file://")
    assert (cache / "synthetic" / "link.down").read_bytes() == SYNTHETIC
    status, out, _ = run_cli(capsys, "traces", "fetch", "synthetic/link", "--cache-dir", str(cache))
    assert status == 0 and "already in the cache" in out
    # The fetched file is found in the cache by `show`.
    monkeypatch.delenv("COINFER_TRACE_DIR", raising=False)
    status, out, _ = run_cli(capsys, "traces", "show", "synthetic/link", "--cache-dir", str(cache))
    assert status == 0 and "sha256 matches the registry" in out


def test_fetch_checksum_mismatch_exits_2(capsys, tmp_path, monkeypatch):
    registry = synthetic_registry(tmp_path, sha256="0" * 64)
    monkeypatch.setattr(TraceRegistry, "builtin", classmethod(lambda cls: registry))
    status, out, err = run_cli(
        capsys, "traces", "fetch", "synthetic/link", "--cache-dir", str(tmp_path / "cache")
    )
    assert status == 2 and out == ""
    assert err.startswith("coinfer: error: checksum mismatch for file://")
    assert not (tmp_path / "cache" / "synthetic" / "link.down").exists()


def test_fetch_of_a_real_entry_from_a_local_mirror_checks_its_checksum(
    capsys, tmp_path, monkeypatch
):
    # Serve the registry's origin addresses from a local directory holding a wrong file.
    monkeypatch.setattr(registry_module, "RAW_GITHUB", (tmp_path / "mirror").as_uri())
    entry = TraceRegistry.builtin().get("mahimahi/Verizon-LTE-short.up")
    mirrored = tmp_path / "mirror" / entry.file.url.split("/mirror/", 1)[1]
    mirrored.parent.mkdir(parents=True)
    mirrored.write_bytes(SYNTHETIC)
    status, _, err = run_cli(
        capsys, "traces", "fetch", entry.name, "--cache-dir", str(tmp_path / "cache")
    )
    assert status == 2
    assert "checksum mismatch" in err and entry.file.sha256 in err


def test_fetch_without_network_exits_2_without_a_traceback(capsys, tmp_path, monkeypatch):
    def offline(url, timeout):
        raise urllib.error.URLError("Network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    status, out, err = run_cli(
        capsys, "traces", "fetch", "azure-2023/code", "--cache-dir", str(tmp_path)
    )
    assert status == 2 and out == ""
    assert err.startswith(
        "coinfer: error: could not download azure-llm-2023/AzureLLMInferenceTrace_code.csv "
        "from https://raw.githubusercontent.com/Azure/AzurePublicDataset/"
    )
    assert "Network is unreachable" in err and "Traceback" not in err


def test_the_command_line_never_prints_a_traceback(tmp_path):
    env_free = {"COINFER_CACHE_DIR": str(tmp_path), "PATH": "", "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "coinfer.emulator.cli.main", "traces", "show", "azure-2023/code"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env_free,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "coinfer traces fetch azure-2023/code" in result.stderr
