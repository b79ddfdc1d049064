"""Step-time models: the roofline's closed forms, the table and the fit, the registry, step energy.

The bridge cases come first: one decode on the roofline equals the closed form written by hand
from Llama-2-7B's config.json numbers, and a compute-bound prefill on the paper's server with the
default (ideal) calibration equals the paper's ``t = N/(f·c)`` and ``e = η·φ·f²·N/c``.
"""

from pathlib import Path
from types import MappingProxyType

import numpy as np
import pytest

from coinfer.emulator.errors import InputError
from coinfer.emulator.model.catalog import ModelCatalog
from coinfer.emulator.model.hardware import HardwareCatalog, HardwareSpec
from coinfer.emulator.model.reference import compute_delay_s, compute_energy_j
from coinfer.emulator.model.step_costs import Batch, SideCosts
from coinfer.emulator.model.step_time import (
    STEP_TIME_MODELS,
    FittedStepTime,
    RooflineStepTime,
    StepTimeModel,
    TableStepTime,
    idle_energy_j,
    load_step_time_table,
    make_step_time_model,
    phase_energy_j,
    roofline_step_time_s,
    step_energy_j,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_TABLE = ROOT / "examples" / "step-times" / "a100-llama-2-7b-linear-vidur.csv"
MODELS = ModelCatalog.builtin()
HARDWARE = HardwareCatalog.builtin()
LLAMA = MODELS.get("llama-2-7b")
WHOLE_LLAMA = SideCosts.for_split(LLAMA, 0, "server")
A100 = HARDWARE.get("a100")
ROOFLINE = make_step_time_model("roofline")


def server(**fields: float) -> HardwareSpec:
    """A 100 TFLOP/s, 1 TB/s server with the given serving fields."""
    return HardwareSpec(
        name="test-server",
        kind="server",
        f_min_hz=0,
        f_max_hz=1e9,
        flops_per_cycle=1e5,
        power_coeff_w_per_hz3=300.0 / 1e27,  # 300 W at 1 GHz
        pue=1.5,
        memory_bandwidth_bytes_per_s=1e12,
        memory_bytes=80e9,
        **fields,
    )


class TestRooflineBridge:
    def test_one_decode_equals_the_closed_form_from_the_config_numbers(self):
        """Llama-2-7B (hidden 4096, 32 layers, intermediate 11008, vocab 32000, fp16), whole
        model on an A100, one decode over 700 cached tokens."""
        d, layers, ffn, vocab, cached = 4096, 32, 11008, 32000, 700
        matrices = 4 * d * d + 3 * d * ffn
        flops = layers * (2 * matrices + 4 * d * (cached + 1)) + 2 * d * vocab
        weight_params = layers * (matrices + 2 * d) + (d + vocab * d) + d  # + 1 embedding row
        kv_bytes = layers * 2 * d * 2 * ((cached + 1) + 1)  # read 701 positions, write 1
        activation_bytes = (layers + 1) * 2 * d * 2 + 2 * vocab * 2
        bytes_moved = 2 * weight_params + kv_bytes + activation_bytes
        expected = max(
            flops / (A100.peak_flops_per_s * A100.mfu_decode),
            bytes_moved / (A100.memory_bandwidth_bytes_per_s * A100.bandwidth_efficiency),
        ) + (A100.step_overhead_s + A100.layer_overhead_s * (layers + 2))
        step = ROOFLINE.breakdown(Batch.decode([cached]), WHOLE_LLAMA, A100)
        assert step.total_s == pytest.approx(expected, rel=1e-12)
        assert step.memory_s > step.compute_s  # a decode of one is memory-bound

    def test_the_decode_step_of_the_profile_is_one_decode_at_the_prompt_length(self):
        """The profile's decode pass (prompt of 512 cached, one new token) has the same FLOPs."""
        prefill, decode = WHOLE_LLAMA.flops_by_phase(Batch.decode([512]).sums())
        assert (prefill, decode) == (0.0, pytest.approx(LLAMA.decode.total_flops, rel=1e-12))

    def test_compute_bound_prefill_on_the_paper_server_is_the_papers_compute_model(self):
        """Ideal calibration (the defaults): T = N/(f_max·c) and E = η·φ·f_max²·N/c exactly."""
        paper_server = HARDWARE.get("paper-server")
        gpt2 = MODELS.get("gpt2", sequence_length=128)
        side = SideCosts.for_split(gpt2, 0, "server")
        step = ROOFLINE.breakdown(Batch.prefill(128), side, paper_server)
        assert step.compute_s > step.memory_s
        f, c = paper_server.f_max_hz, paper_server.flops_per_cycle
        assert step.total_s == pytest.approx(compute_delay_s(gpt2.total_flops, 1.0, f, c), 1e-12)
        energy = step_energy_j(Batch.prefill(128), step.total_s, paper_server)
        paper_energy = compute_energy_j(
            gpt2.total_flops, 1.0, f, c, paper_server.power_coeff_w_per_hz3, paper_server.pue
        )
        assert energy == pytest.approx(paper_energy, rel=1e-12)


class TestRoofline:
    def test_decode_compute_grows_by_four_d_per_layer_per_context_token(self):
        hardware = server()
        near, far = (
            ROOFLINE.breakdown(Batch.decode([c] * 8), WHOLE_LLAMA, hardware).compute_s
            for c in (100, 1100)
        )
        assert far - near == pytest.approx(8 * 32 * 4 * 4096 * 1000 / 1e14, rel=1e-9)

    def test_long_prefill_is_compute_bound_and_linear_plus_a_small_quadratic_term(self):
        """Compute-bound prefill of ℓ tokens is exactly α·ℓ + β·ℓ² + γ (linear layers, attention
        over ℓ positions, the LM head once); at 4096 tokens the quadratic term is under 20 % of
        the linear one for Llama-2-7B, so the time scales about linearly in ℓ."""
        mfu = A100.mfu_prefill
        peak = A100.peak_flops_per_s * mfu
        alpha = WHOLE_LLAMA.flops_per_token / peak
        beta = WHOLE_LLAMA.flops_per_token_per_position / peak
        gamma = WHOLE_LLAMA.flops_per_sequence / peak
        for tokens in (512, 1024, 2048, 4096):
            step = ROOFLINE.breakdown(Batch.prefill(tokens), WHOLE_LLAMA, A100)
            assert step.compute_s > step.memory_s
            expected = alpha * tokens + beta * tokens**2 + gamma + step.overhead_s
            assert step.total_s == pytest.approx(expected, rel=1e-12)
        assert beta * 4096 / alpha < 0.2

    def test_overheads_are_per_step_plus_per_block(self):
        hardware = server(step_overhead_s=1e-3, layer_overhead_s=1e-5)
        step = ROOFLINE.breakdown(Batch.decode([0]), WHOLE_LLAMA, hardware)
        assert step.overhead_s == pytest.approx(1e-3 + 34 * 1e-5)  # embeddings, 32 layers, head
        assert step.total_s == max(step.compute_s, step.memory_s) + step.overhead_s

    def test_params_override_the_hardware_calibration(self):
        batch = Batch.decode([10])
        ideal = make_step_time_model("roofline", {"bandwidth_efficiency": 1.0})
        half = make_step_time_model("roofline", {"bandwidth_efficiency": 0.5})
        assert half.breakdown(batch, WHOLE_LLAMA, A100).memory_s == pytest.approx(
            2 * ideal.breakdown(batch, WHOLE_LLAMA, A100).memory_s, rel=1e-12
        )

    def test_nothing_to_run_takes_no_time(self):
        nothing = SideCosts.for_split(LLAMA, 0, "device")
        assert ROOFLINE.step_time_s(Batch.decode([10]), nothing, A100) == 0.0
        assert ROOFLINE.step_time_s(Batch.concat(), WHOLE_LLAMA, A100) == 0.0

    def test_the_vectorised_formula_agrees_with_the_model_for_many_candidate_steps(self):
        batches = [Batch.decode([500] * b) for b in (1, 16, 256)] + [Batch.prefill(2048)]
        flops = np.array([WHOLE_LLAMA.flops_by_phase(b.sums()) for b in batches])
        traffic = [WHOLE_LLAMA.memory_traffic(b.sums()).total_bytes for b in batches]
        times = roofline_step_time_s(
            flops[:, 0],
            flops[:, 1],
            traffic,
            A100.peak_flops_per_s,
            A100.mfu_prefill,
            A100.mfu_decode,
            A100.memory_bandwidth_bytes_per_s,
            A100.bandwidth_efficiency,
        )
        expected = [ROOFLINE.step_time_s(b, WHOLE_LLAMA, A100) for b in batches]
        np.testing.assert_allclose(times, expected, rtol=1e-12)


class TestRegistry:
    def test_the_built_in_models_are_registered_by_name(self):
        assert set(STEP_TIME_MODELS) == {"roofline", "table", "fitted"}
        assert isinstance(make_step_time_model(), RooflineStepTime)

    def test_every_model_satisfies_the_protocol_and_documents_its_parameters(self):
        assert isinstance(ROOFLINE, StepTimeModel)
        for cls in STEP_TIME_MODELS.values():
            assert cls.summary
            undocumented = [n for n, f in cls.Params.model_fields.items() if not f.description]
            assert not undocumented, (cls.name, undocumented)

    def test_an_unknown_name_lists_the_known_ones(self):
        with pytest.raises(InputError, match=r"unknown step-time model 'vidur'.*fitted, roofline"):
            make_step_time_model("vidur")

    def test_a_bad_parameter_is_refused_naming_the_field(self):
        with pytest.raises(InputError, match="mfu_decode"):
            make_step_time_model("roofline", {"mfu_decode": 1.5})
        with pytest.raises(
            InputError, match=r"prefil_s: unknown field 'prefil_s' \(got 1\.0\); did you mean"
        ):
            make_step_time_model("fitted", {"prefil_s": 1.0})


class TestTable:
    def test_measured_points_are_returned_as_measured(self):
        table = make_step_time_model("table", {"path": str(EXAMPLE_TABLE)})
        assert table.step_time_s(Batch.decode([0] * 8), WHOLE_LLAMA, A100) == 0.00832
        assert table.step_time_s(Batch.prefill(1024), WHOLE_LLAMA, A100) == 0.062688

    def test_between_points_the_time_is_interpolated_linearly(self):
        grid = load_step_time_table(EXAMPLE_TABLE).grid("decode")
        assert grid.time_s(48, 0) == pytest.approx((0.008736 + 0.008896) / 2, rel=1e-12)

    def test_bilinear_interpolation_reproduces_a_plane_and_extrapolates_it(self, tmp_path):
        def plane(tokens, context):
            return 0.002 + 1e-5 * tokens + 2e-7 * context

        rows = [f"decode,{t},{c},{plane(t, c)!r}" for t in (1, 8, 64) for c in (0, 1024, 4096)]
        path = tmp_path / "plane.csv"
        path.write_text("phase,tokens,context_tokens,step_time_s\n" + "\n".join(rows) + "\n")
        grid = load_step_time_table(path).grid("decode")
        for tokens, context in ((5, 300), (40, 2500), (128, 8192)):
            assert grid.time_s(tokens, context) == pytest.approx(plane(tokens, context), 1e-12)

    def test_extrapolation_never_goes_below_zero(self, tmp_path):
        path = tmp_path / "steep.csv"
        path.write_text(
            "phase,tokens,context_tokens,step_time_s\nprefill,100,0,0.01\nprefill,200,0,0.03\n"
        )
        assert load_step_time_table(path).grid("prefill").time_s(10, 0) == 0.0

    def test_a_mixed_step_costs_the_prefill_plus_the_decode_lookup(self):
        table = make_step_time_model("table", {"path": str(EXAMPLE_TABLE)})
        mixed = Batch.concat(Batch.prefill(512), Batch.decode([0] * 16))
        assert table.step_time_s(mixed, WHOLE_LLAMA, A100) == pytest.approx(0.030496 + 0.008416)

    def test_a_table_for_another_model_or_hardware_is_refused(self):
        table = make_step_time_model(
            "table", {"path": str(EXAMPLE_TABLE), "model": "llama-2-7b", "hardware": "a100"}
        )
        assert table.step_time_s(Batch.decode([0]), WHOLE_LLAMA, A100) == 0.008512
        with pytest.raises(ValueError, match="measured on hardware 'a100', got a step on 'h100'"):
            table.step_time_s(Batch.decode([0]), WHOLE_LLAMA, HARDWARE.get("h100"))
        other = SideCosts.for_split(MODELS.get("llama-3-8b"), 0, "server")
        with pytest.raises(ValueError, match="measured for model 'llama-2-7b'"):
            table.step_time_s(Batch.decode([0]), other, A100)

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("phase,tokens,step_time_s\n", "header got"),
            ("phase,tokens,context_tokens,step_time_s\n", "no rows"),
            ("phase,tokens,context_tokens,step_time_s\nwarmup,1,0,0.1\n", "phase got 'warmup'"),
            ("phase,tokens,context_tokens,step_time_s\ndecode,1,0,-0.1\n", "step_time_s got"),
            ("phase,tokens,context_tokens,step_time_s\ndecode,x,0,0.1\n", "tokens got 'x'"),
            (
                "phase,tokens,context_tokens,step_time_s\ndecode,1,0,0.1\ndecode,1,0,0.2\n",
                "appears twice",
            ),
            (
                "phase,tokens,context_tokens,step_time_s\ndecode,1,0,0.1\ndecode,2,64,0.2\n",
                r"missing \(tokens, context_tokens\) \(1, 64\), \(2, 0\)",
            ),
        ],
    )
    def test_bad_tables_are_refused_with_the_row_and_value_named(self, tmp_path, text, message):
        path = tmp_path / "bad.csv"
        path.write_text(text)
        with pytest.raises(InputError, match=message):
            load_step_time_table(path)

    def test_a_missing_table_is_refused_when_the_model_is_built(self, tmp_path):
        with pytest.raises(InputError, match="does not exist"):
            make_step_time_model("table", {"path": str(tmp_path / "none.csv")})

    def test_a_step_of_a_phase_the_table_lacks_is_refused(self, tmp_path):
        path = tmp_path / "decode-only.csv"
        path.write_text("phase,tokens,context_tokens,step_time_s\ndecode,1,0,0.01\n")
        table = TableStepTime.from_params({"path": str(path)})
        with pytest.raises(ValueError, match="no prefill rows"):
            table.step_time_s(Batch.prefill(10), WHOLE_LLAMA, A100)


class TestFitted:
    PARAMS = MappingProxyType(
        {
            "prefill_s": 0.01,
            "prefill_s_per_token": 5e-5,
            "prefill_s_per_token_squared": 1e-9,
            "decode_s": 0.008,
            "decode_s_per_context_token": 2e-8,
            "decode_s_per_sequence": 3e-5,
        }
    )

    def test_prefill_is_a_plus_b_sum_l_plus_c_sum_l_squared(self):
        fitted = FittedStepTime.from_params(self.PARAMS)
        lengths = [100, 300, 1000]
        expected = 0.01 + 5e-5 * sum(lengths) + 1e-9 * sum(ell**2 for ell in lengths)
        step = fitted.step_time_s(Batch.prefill(lengths), WHOLE_LLAMA, A100)
        assert step == pytest.approx(expected, rel=1e-12)

    def test_decode_is_a_plus_b_sum_ctx_plus_c_times_batch(self):
        fitted = FittedStepTime.from_params(self.PARAMS)
        cached = [10, 500, 2000, 4000]
        expected = 0.008 + 2e-8 * sum(c + 1 for c in cached) + 3e-5 * len(cached)
        step = fitted.breakdown(Batch.decode(cached), WHOLE_LLAMA, A100)
        assert step.total_s == pytest.approx(expected, rel=1e-12)
        assert (step.compute_s, step.memory_s) == (None, None)

    def test_a_mixed_step_adds_both_formulas(self):
        fitted = FittedStepTime.from_params(self.PARAMS)
        prefill, decode = Batch.prefill([200]), Batch.decode([100, 100])
        parts = [fitted.step_time_s(b, WHOLE_LLAMA, A100) for b in (prefill, decode)]
        mixed = fitted.step_time_s(Batch.concat(prefill, decode), WHOLE_LLAMA, A100)
        assert mixed == pytest.approx(sum(parts), rel=1e-12)


class TestEnergy:
    def test_step_energy_is_pue_times_phase_power_times_time(self):
        hardware = server(prefill_power_w=280.0, decode_power_w=180.0, idle_power_w=60.0)
        decode, prefill = Batch.decode([1, 2]), Batch.concat(Batch.prefill(9), Batch.decode([3]))
        assert step_energy_j(decode, 0.02, hardware) == pytest.approx(1.5 * 180.0 * 0.02)
        assert step_energy_j(prefill, 0.02, hardware) == pytest.approx(1.5 * 280.0 * 0.02)
        assert idle_energy_j(10.0, hardware) == pytest.approx(1.5 * 60.0 * 10.0)

    def test_without_phase_powers_a_step_draws_the_top_clock_power_and_idling_is_free(self):
        hardware = server()
        assert step_energy_j(Batch.decode([1]), 0.01, hardware) == pytest.approx(1.5 * 300 * 0.01)
        assert idle_energy_j(10.0, hardware) == 0.0

    def test_the_vectorised_form_broadcasts(self):
        energy = phase_energy_j([0.01, 0.02], [300.0, 150.0], 1.5)
        np.testing.assert_allclose(energy, [4.5, 4.5])
