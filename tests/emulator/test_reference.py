"""The reference model pinned against numbers computed by hand and the paper's own figures."""

import math

import numpy as np
import pytest

from coinfer.emulator.model import reference as ref
from coinfer.emulator.units import linear_to_db

PAPER_N0_W_PER_HZ = 2e-19
PAPER_BANDWIDTH_HZ = 5e6
PAPER_P_MAX_W = 0.5


class TestPaperLink:
    """Section 7 of the model document: K0 = −30 dB, α = 2.8, d = 500 m, B = 5 MHz."""

    def test_gain_at_500_m_is_2_77e_minus_11(self):
        assert float(ref.log_distance_gain(500.0)) == pytest.approx(2.77e-11, rel=2e-3)

    def test_snr_at_p_max_is_11_4_db(self):
        gain = ref.log_distance_gain(500.0)
        snr = ref.snr_linear(PAPER_P_MAX_W, gain, PAPER_BANDWIDTH_HZ, PAPER_N0_W_PER_HZ)
        assert float(linear_to_db(snr)) == pytest.approx(11.4, abs=0.05)

    def test_rate_at_p_max_is_19_5_mbit_per_s(self):
        gain = ref.log_distance_gain(500.0)
        rate = ref.uplink_rate_bps(PAPER_P_MAX_W, gain, PAPER_BANDWIDTH_HZ, PAPER_N0_W_PER_HZ)
        assert float(rate) == pytest.approx(19.5e6, abs=0.05e6)

    def test_hand_computed_gain_and_rate(self):
        # 1e-3 · 500^-2.8 = exp(-17.400903)·1e-3 = 2.77271e-11; SNR 13.8636; 5e6·log2(14.8636)
        gain = float(ref.log_distance_gain(500.0))
        assert gain == pytest.approx(2.77271e-11, rel=1e-5)
        rate = float(ref.uplink_rate_bps(0.5, gain, 5e6, 2e-19))
        assert rate == pytest.approx(19.4686e6, rel=1e-4)


class TestUpload:
    def test_delay_and_energy_are_payload_over_rate(self):
        assert float(ref.upload_delay_s(24_576, 1e6)) == pytest.approx(0.024576)
        assert float(ref.upload_energy_j(0.5, 24_576, 1e6)) == pytest.approx(0.012288)

    def test_nothing_to_upload_costs_nothing_even_at_zero_power(self):
        rate = ref.uplink_rate_bps(0.0, 1e-11, 5e6, 2e-19)
        assert float(rate) == 0.0
        assert float(ref.upload_delay_s(0.0, rate)) == 0.0
        assert float(ref.upload_energy_j(0.0, 0.0, rate)) == 0.0

    def test_a_payload_over_a_dead_link_takes_forever(self):
        assert math.isinf(float(ref.upload_delay_s(1.0, 0.0)))

    def test_rate_grows_with_power_and_saturates_with_bandwidth(self):
        powers = np.linspace(0.01, 0.5, 50)
        rates = ref.uplink_rate_bps(powers, 2.77e-11, 5e6, 2e-19)
        assert np.all(np.diff(rates) > 0)
        # infinite-bandwidth limit: g·p/(N0·ln 2)
        wide = ref.uplink_rate_bps(0.5, 2.77e-11, 1e12, 2e-19)
        assert float(wide) == pytest.approx(0.5 * 2.77e-11 / (2e-19 * math.log(2)), rel=1e-4)


class TestCompute:
    def test_one_second_of_device_work_by_hand(self):
        # 3.2e10 FLOPs at 32 FLOPs/cycle = 1e9 cycles; at 1 GHz that is 1 s.
        assert float(ref.compute_delay_s(3.2e10, 1.0, 1e9, 32)) == pytest.approx(1.0)
        # energy η·φ·f²·cycles = 1 · 5e-29 · 1e18 · 1e9 = 0.05 J, i.e. 50 mW for 1 s
        assert float(ref.compute_energy_j(3.2e10, 1.0, 1e9, 32, 5e-29, 1.0)) == pytest.approx(0.05)
        assert float(ref.compute_power_w(1e9, 5e-29, 1.0)) == pytest.approx(0.05)

    def test_pruning_scales_delay_and_energy_linearly(self):
        full = ref.compute_energy_j(1e12, 1.0, 2e9, 128, 1e-28, 2.0)
        half = ref.compute_energy_j(1e12, 0.5, 2e9, 128, 1e-28, 2.0)
        assert float(half) == pytest.approx(float(full) / 2)
        assert float(ref.compute_delay_s(1e12, 0.25, 2e9, 128)) == pytest.approx(
            1e12 / 4 / 2e9 / 128
        )

    def test_server_energy_includes_pue(self):
        # PUE 2, φ̃ = 1e-28, f̃ = 4 GHz, c̃ = 128: 2·1e-28·1.6e19/128 = 2.5e-11 J per FLOP
        assert float(ref.compute_energy_j(1.0, 1.0, 4e9, 128, 1e-28, 2.0)) == pytest.approx(2.5e-11)

    def test_nothing_to_compute_at_zero_clock_takes_no_time(self):
        assert float(ref.compute_delay_s(0.0, 1.0, 0.0, 32)) == 0.0


class TestCoInferenceCost:
    def cost(self, **overrides):
        args = dict(
            device_flops=3.2e10,
            server_flops=5.12e11,
            payload_bits=24_576,
            rho_device=1.0,
            rho_server=1.0,
            tx_power_w=0.5,
            f_device_hz=1e9,
            f_server_hz=4e9,
            gain=2.77e-11,
            bandwidth_hz=5e6,
            noise_psd_w_per_hz=2e-19,
            device_flops_per_cycle=32,
            device_power_coeff=5e-29,
            device_pue=1.0,
            server_flops_per_cycle=128,
            server_power_coeff=1e-28,
            server_pue=2.0,
        )
        args.update(overrides)
        return ref.co_inference_cost(**args)

    def test_components_add_up_to_totals(self):
        c = self.cost()
        assert float(c.latency_s) == pytest.approx(
            float(c.device_compute_s + c.upload_s + c.server_compute_s)
        )
        assert float(c.energy_j) == pytest.approx(float(c.device_energy_j + c.server_compute_j))
        assert float(c.device_energy_j) == pytest.approx(float(c.device_compute_j + c.upload_j))

    def test_hand_computed_breakdown(self):
        c = self.cost()
        assert float(c.device_compute_s) == pytest.approx(1.0)
        assert float(c.server_compute_s) == pytest.approx(1.0)  # 5.12e11/(128·4e9)
        assert float(c.server_compute_j) == pytest.approx(5.12e11 * 2.5e-11)  # 12.8 J
        expected_rate = 5e6 * math.log2(1 + 2.77e-11 * 0.5 / (5e6 * 2e-19))
        assert float(c.upload_s) == pytest.approx(24_576 / expected_rate)
        assert float(c.upload_j) == pytest.approx(0.5 * 24_576 / expected_rate)

    def test_vectorises_over_decisions(self):
        c = self.cost(rho_device=np.array([0.25, 0.5, 1.0]), tx_power_w=np.array([0.1, 0.2, 0.5]))
        assert c.latency_s.shape == (3,)
        assert np.all(np.diff(c.device_compute_s) > 0)


class TestDistortion:
    N = 1e8

    def test_exact_and_large_n_forms_agree_to_four_digits_at_1e8(self):
        kept = np.linspace(0.3, 1.0, 8) * self.N
        exact = ref.distortion_bound(kept, self.N)
        approx = ref.distortion_bound_large_n(kept, self.N)
        np.testing.assert_allclose(exact, approx, rtol=1e-4)

    def test_large_n_form_by_hand(self):
        # sqrt(1e8/(2π)) · 2^(−2.7 − 32·0.5) = 3989.423 · 2^(−18.7) = 3989.423 · 2.348224e-6
        assert float(ref.distortion_bound_large_n(0.5 * self.N, self.N)) == pytest.approx(
            9.36796e-3, rel=1e-5
        )

    def test_exact_form_by_hand_at_small_n(self):
        # n = 4: (4/sqrt(πe)) · 2^(−(2·32 − 4·(−2.7))/4) · (Γ(2)/(2·Γ(4)))^(1/4)
        n, kept = 4.0, 2.0
        by_hand = (
            n
            / math.sqrt(math.pi * math.e)
            * 2 ** (-(kept * 32 - n * -2.7) / n)
            * (math.gamma(2) / (2 * math.gamma(4))) ** (1 / n)
        )
        assert float(ref.distortion_bound(kept, n)) == pytest.approx(by_hand, rel=1e-12)

    def test_decreases_strictly_with_kept_parameters(self):
        kept = np.linspace(0.0, 1.0, 101) * self.N
        assert np.all(np.diff(ref.distortion_bound(kept, self.N)) < 0)

    def test_depends_on_decisions_only_through_kept_parameters(self):
        q, s = 4e7, 6e7
        a = ref.kept_parameters(1.0, 0.5, q, s)  # 7e7
        b = ref.kept_parameters(0.25, 1.0, q, s)  # 7e7
        assert float(a) == float(b)
        assert float(ref.distortion_bound(a, q + s)) == float(ref.distortion_bound(b, q + s))

    def test_default_entropy_is_a_laplace_fit_with_std_0_04(self):
        scale = 0.04 / math.sqrt(2)  # Laplace scale λ = σ/√2
        assert float(ref.laplace_entropy_bits_per_param(scale)) == pytest.approx(-2.70, abs=5e-3)


class TestPathLoss3gpp:
    """TR 38.901 Table 7.4.1-1 and 7.4.2-1, at 3.5 GHz with the default heights."""

    def test_umi_los_before_breakpoint_by_hand(self):
        # d3D = 100.3606 m, d'BP = 210.2 m: 32.4 + 21·log10(100.3606) + 20·log10(3.5)
        pl = ref.pathloss_38901_db("umi", True, 100.0, 3.5e9, h_ut_m=1.5)
        assert float(pl) == pytest.approx(85.3142, abs=2e-3)

    def test_umi_nlos_by_hand(self):
        # 35.3·log10(100.3606) + 22.4 + 21.3·log10(3.5)
        pl = ref.pathloss_38901_db("umi", False, 100.0, 3.5e9)
        assert float(pl) == pytest.approx(104.6438, abs=2e-3)

    def test_uma_los_after_breakpoint_by_hand(self):
        # d'BP = 4·24·0.5·3.5e9/c = 560.4 m < 1000 m: second slope
        pl = ref.pathloss_38901_db("uma", True, 1000.0, 3.5e9)
        assert float(pl) == pytest.approx(109.406, abs=5e-3)

    def test_nlos_is_never_below_los(self):
        d = np.geomspace(10, 5000, 200)
        for scenario in ("umi", "uma"):
            los = ref.pathloss_38901_db(scenario, True, d)
            nlos = ref.pathloss_38901_db(scenario, False, d)
            assert np.all(nlos >= los)
            assert np.all(np.diff(los) > 0) and np.all(np.diff(nlos) > 0)

    def test_los_probability_by_hand(self):
        assert float(ref.los_probability_38901("umi", 100.0)) == pytest.approx(0.230985, abs=1e-6)
        assert float(ref.los_probability_38901("uma", 100.0)) == pytest.approx(0.347671, abs=1e-6)
        assert float(ref.los_probability_38901("umi", 10.0)) == 1.0

    def test_tall_uma_terminals_see_line_of_sight_more_often(self):
        low = ref.los_probability_38901("uma", 200.0, h_ut_m=1.5)
        high = ref.los_probability_38901("uma", 200.0, h_ut_m=22.5)
        assert float(high) > float(low)

    def test_mean_gain_lies_between_nlos_and_los(self):
        d = np.array([50.0, 200.0, 800.0])
        mean = ref.mean_gain_38901("umi", d)
        g_los = ref.gain_from_pathloss_db(ref.pathloss_38901_db("umi", True, d))
        g_nlos = ref.gain_from_pathloss_db(ref.pathloss_38901_db("umi", False, d))
        assert np.all((g_nlos <= mean) & (mean <= g_los))

    def test_unknown_scenario_is_refused_by_name(self):
        with pytest.raises(ValueError, match="scenario: got 'rma'"):
            ref.pathloss_38901_db("rma", True, 100.0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("flops", "rho", "f_hz"), [(4.4e10, 0.7, 1e9), (1.2e9, 1.0, 3.3e8), (0.0, 0.5, 1e9)]
)
def test_float_fast_paths_equal_the_public_formulas(flops, rho, f_hz):
    args = (flops, rho, f_hz, 1.0, 1e-28, 1.2)
    delay_s, energy_j = ref.compute_cost(*args)
    assert ref.compute_cost_float(*args) == pytest.approx((delay_s, energy_j), rel=1e-15)
    assert ref.compute_delay_s(flops, rho, f_hz, 1.0) == pytest.approx(delay_s, rel=1e-15)
    rate = ref.uplink_rate_bps(0.3, 2.77e-11, 5e6, 2e-19)
    assert ref.shannon_rate_bps(0.3, 2.77e-11, 5e6, 2e-19) == pytest.approx(rate, rel=1e-15)
