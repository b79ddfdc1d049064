"""Bit widths and family members as decisions (issue 21): the policies and the bound checks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from coinfer.emulator.api.solve import Instance, context_for, solve
from coinfer.emulator.model.catalog import ModelCatalog
from coinfer.emulator.model.hardware import HardwareCatalog
from coinfer.emulator.model.quantization import weight_bytes
from coinfer.policies.base import PolicyError, check_decision

MODELS = ModelCatalog.builtin()
HARDWARE = HardwareCatalog.builtin()


def instance(model="bert-paper", device="paper-device", server="paper-server", **budgets):
    return Instance(
        model=MODELS.get(model),
        device=HARDWARE.get(device),
        server=HARDWARE.get(server),
        deadline_s=budgets.get("t0", math.inf),
        energy_budget_j=budgets.get("e0", math.inf),
    )


@pytest.mark.parametrize(("t0", "e0"), [(0.24, 0.015), (0.3, 0.02), (0.1, 0.01)])
def test_joint_compact_at_the_models_own_width_decides_as_joint(t0, e0):
    """With ``weight_bits: [0]`` the objective is the kept parameters times 32: the same point."""
    setting = instance(t0=t0, e0=e0)
    joint = solve(setting, "joint", {"channel_step_db": 0})
    compact = solve(setting, "joint-compact", {"channel_step_db": 0, "weight_bits": [0]})
    assert compact.decision.split == joint.decision.split
    for field in ("rho_device", "rho_server", "predicted_latency_s", "predicted_distortion"):
        assert getattr(compact.decision, field) == pytest.approx(
            getattr(joint.decision, field), rel=1e-6
        ), field
    assert compact.bits == (32, 32, 32, 32)


def test_joint_compact_keeps_the_most_bits_within_the_devices_memory():
    """Llama-2-7B on a phone (12 GiB) wholly on the device: at 16 bits only a pruned model fits,
    ρ ≤ 12 GiB / 12.55 GiB; that keeps more bits (15.3 per parameter) than 8 bits unpruned, so
    joint-compact stores 16 bits and prunes to the memory; quantize-only (no pruning) takes 8."""
    setting = instance("llama-2-7b", "phone-soc", "a100", t0=1e4)
    last = setting.model.last_split
    compact = solve(setting, "joint-compact", {"splits": [last], "weight_bits": [16, 8, 4]})
    memory = HARDWARE.get("phone-soc").memory_bytes
    q = float(setting.model.device_params[last])
    assert compact.decision.weight_bits_device == 0  # the model's own, 16 bits
    assert compact.bits.weight_bits_device == 16
    assert weight_bytes(compact.decision.rho_device * q, 16) <= memory
    assert compact.decision.rho_device == pytest.approx(memory * 8 / (q * 16), rel=1e-6)
    only = solve(setting, "quantize-only", {"splits": [last], "weight_bits": [16, 8, 4]})
    assert (only.decision.weight_bits_device, only.decision.rho_device) == (8, 1.0)
    assert only.bits.weight_bits_device == 8


def test_quantize_only_sends_its_payload_at_its_width():
    """Cut at block 4 of the paper's BERT: 24,576 bits at 32 bits per value, 6,144 at 8."""
    setting = instance(t0=0.3, e0=1.0)
    only = solve(setting, "quantize-only", {"splits": [4]})
    assert only.decision.feasible
    assert only.decision.payload_bits_per_value == 8
    assert only.cost.upload_s > 0
    rate = float(only.cost.rate_bps)
    assert float(only.cost.upload_s) == pytest.approx(24_576 / 4 / rate, rel=1e-12)
    assert only.decision.rho_device == only.decision.rho_server == 1.0


def test_distill_only_runs_the_student_when_the_teacher_misses_the_budget():
    """BERT-base wholly on the paper's server takes 42 ms; with T0 = 30 ms only DistilBERT (half
    the layers) makes it, and distill-only runs it; with T0 = 1 s the teacher itself."""
    tight = solve(instance("bert-base", t0=0.03), "distill-only", {"splits": [0]})
    assert tight.decision.model == "distilbert-base" and tight.decision.feasible
    assert tight.cost.latency_s <= 0.03
    assert tight.to_dict()["model"] == "distilbert-base"
    loose = solve(instance("bert-base", t0=1.0), "distill-only", {"splits": [0]})
    assert loose.decision.model == ""
    assert loose.to_dict()["model"] == "bert-base"


# ---- the bound check ----------------------------------------------------------------------------


def checked(setting: Instance, **fields):
    context = context_for(setting)
    decision = solve(setting, "fixed", {"split": 4}).decision._replace(**fields)
    check_decision("test", decision, context)


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"weight_bits_device": 5}, "weight_bits_device=5, expected 0 (the model's own 32 bits)"),
        ({"payload_bits_per_value": 64}, "payload_bits_per_value=64, expected 0"),
        ({"model": "gpt2"}, "model='gpt2', expected '' or a student of 'bert-paper' (none"),
    ],
)
def test_widths_and_models_a_model_does_not_take_are_refused_by_name(fields, said):
    with pytest.raises(PolicyError) as err:
        checked(instance(), **fields)
    assert said in str(err.value)


def test_a_width_the_hardware_lacks_is_refused_naming_the_class():
    setting = instance(device="jetson-orin-nano")
    checked(setting, weight_bits_device=8)  # supported
    with pytest.raises(
        PolicyError,
        match=r"weight_bits_device=6, expected a weight width "
        r"hardware class 'jetson-orin-nano' supports: 16, 8, 4",
    ):
        checked(setting, weight_bits_device=6)
    checked(instance(device="jetson-orin-nano"), weight_bits_server=6)  # the server's: any


def test_a_wider_width_than_the_models_own_is_refused():
    with pytest.raises(
        PolicyError, match=r"weight_bits_server=32, expected 0 \(the model's own 16"
    ):
        checked(instance("llama-2-7b", server="a100"), weight_bits_server=32)


def test_a_student_split_is_checked_against_the_student():
    """DistilBERT has 7 blocks: split 4 is fine, split 10 (fine for BERT-base) is not."""
    setting = instance("bert-base")
    checked(setting, model="distilbert-base")
    with pytest.raises(PolicyError, match=r"split=10, expected an integer in 0\.\.7"):
        checked(setting, model="distilbert-base", split=10)
    assert np.isfinite(solve(setting, "fixed", {"split": 10}).cost.latency_s)


def test_the_quality_objective_quantizes_where_kept_parameters_would_prune():
    """Llama-2-7B wholly on the 12 GiB phone: the paper's objective keeps 16 bits and prunes
    4.4 % by magnitude to fit (Wanda's table: perplexity 5.12 dense, 14.89 at half kept; 5.62
    interpolated here), while 8-bit weights cost 0.4 % (EfficientQAT's table: 5.47 dense, 5.53
    at 4 bits): the quality objective stores 8 bits and prunes nothing."""
    setting = instance("llama-2-7b", "phone-soc", "a100", t0=1e4)
    params = {"splits": [setting.model.last_split], "weight_bits": [16, 8, 4, 3, 2]}
    kept = solve(setting, "joint-compact", params)
    quality = solve(setting, "joint-compact", {**params, "objective": "quality"})
    assert (kept.bits.weight_bits_device, kept.decision.rho_device < 1.0) == (16, True)
    assert (quality.bits.weight_bits_device, quality.decision.rho_device) == (8, 1.0)
    assert quality.distortion > kept.distortion  # the bound prefers the pruned 16 bits


def test_solve_with_bits_prints_the_chosen_model_and_widths(capsys):
    """``--bits`` makes ``joint`` the ``joint-compact`` policy; a width no policy takes exits 2."""
    from coinfer.emulator.cli.main import main

    phone = ["--model", "llama-2-7b", "--device", "phone-soc", "--server", "a100"]
    assert main(["solve", "--bits", "16,8,4", *phone, "--t0", "100", "--split", "34"]) == 0
    out = capsys.readouterr().out
    assert "policy 'joint-compact' on llama-2-7b" in out
    lines = dict(
        line.split(None, 1) for line in out.splitlines() if line.startswith(("weight", "model "))
    )
    assert lines["weight_bits_device"].strip() == "16" and lines["model"].strip() == "llama-2-7b"
    with pytest.raises(SystemExit) as exit_info:
        main(["solve", "--bits", "16,5"])
    assert exit_info.value.code == 2
    assert "--bits: got '16,5', expected widths separated by commas" in capsys.readouterr().err
