"""The exact LP in the kept fractions (``joint_lp.solve_lp``): its optimum, status and prices.

At every point of its family the joint solver is left with a linear programme in (ρ, ρ̃): keep
the most parameters ``w_d·ρ + w_s·ρ̃`` within the time and energy left. It reads two things from
the answer: the kept parameters, and, from the budgets' prices λ (per s) and μ (per J), which
way along the family the split's optimum lies. These tests say what each field means: the value
is the LP's optimum (a general LP solver agrees), an infeasible LP says which budget its lowest
fractions miss, the prices are the LP's multipliers, and at a corner they are chosen nearest to
the family's ratio Λ, which makes the corner a KKT point of (P1) when Λ is among them.
"""

import math

import numpy as np
import pytest
from scipy.optimize import linprog

from coinfer.policies.joint_lp import solve_lp

W_D, W_S = 3.0, 2.0  # parameters on the device and on the server


def random_lps(count: int, seed: int):
    """Random LPs: (τ_d, τ_s, ε_d, ε_s, T, E) as plain floats; one in ten has a side that costs
    nothing."""
    rng = np.random.default_rng(seed)
    for _ in range(count):
        tau_d, tau_s, eps_d, eps_s = rng.uniform(0.05, 1.0, 4).tolist()
        if rng.uniform() < 0.1:
            tau_d = eps_d = 0.0
        elif rng.uniform() < 0.1:
            tau_s = eps_s = 0.0
        time_s, energy_j = rng.uniform(0.0, 1.5, 2).tolist()
        yield tau_d, tau_s, eps_d, eps_s, time_s, energy_j


BOXES = [((0.0, 1.0), (0.0, 1.0)), ((0.3, 1.0), (0.3, 0.8))]


@pytest.mark.parametrize(("box_d", "box_s"), BOXES)
def test_the_optimum_is_that_of_a_general_lp_solver(box_d, box_s):
    for tau_d, tau_s, eps_d, eps_s, time_s, energy_j in random_lps(300, seed=1):
        ours = solve_lp(W_D, W_S, tau_d, tau_s, eps_d, eps_s, time_s, energy_j, *box_d, *box_s, 1.0)
        exact = linprog(
            [-W_D, -W_S],
            A_ub=[[tau_d, tau_s], [eps_d, eps_s]],
            b_ub=[time_s, energy_j],
            bounds=[box_d, box_s],
        )
        if not exact.success:
            assert ours.status == "infeasible" and ours.value == -math.inf
            continue
        assert ours.value == pytest.approx(-exact.fun, rel=1e-9, abs=1e-12)
        assert ours.value == pytest.approx(W_D * ours.rho_device + W_S * ours.rho_server)
        # within the boxes, up to rounding (the solver clips what it reports)
        assert box_d[0] - 1e-15 <= ours.rho_device <= box_d[1] + 1e-15
        assert box_s[0] - 1e-15 <= ours.rho_server <= box_s[1] + 1e-15


def test_an_infeasible_lp_says_which_budget_its_lowest_fractions_miss():
    """+1: the time (more speed, a higher Λ, would help); −1: the energy; 0: both."""
    lows = (0.5, 1.0, 0.5, 1.0)  # both kept fractions at least 0.5
    # at the lows the compute takes 1 s and 1 J
    time_missed = solve_lp(W_D, W_S, 1.0, 1.0, 1.0, 1.0, 0.9, 2.0, *lows, 1.0)
    energy_missed = solve_lp(W_D, W_S, 1.0, 1.0, 1.0, 1.0, 2.0, 0.9, *lows, 1.0)
    both_missed = solve_lp(W_D, W_S, 1.0, 1.0, 1.0, 1.0, 0.9, 0.9, *lows, 1.0)
    for answer in (time_missed, energy_missed, both_missed):
        assert answer.status == "infeasible" and answer.value == -math.inf
    assert (time_missed.way, energy_missed.way, both_missed.way) == (1, -1, 0)


def test_with_room_for_everything_both_sides_are_kept_whole_at_no_price():
    answer = solve_lp(W_D, W_S, 0.2, 0.3, 0.1, 0.4, 10.0, 10.0, 0.0, 1.0, 0.0, 1.0, 1.0)
    assert answer.status == "kkt-point"  # nothing binds: the split's optimum
    assert (answer.rho_device, answer.rho_server, answer.value) == (1.0, 1.0, W_D + W_S)
    assert (answer.time_price, answer.energy_price, answer.free) == (0.0, 0.0, "none")


@pytest.mark.parametrize(("box_d", "box_s"), BOXES)
def test_the_prices_are_the_lp_multipliers(box_d, box_s):
    """Non-negative; a priced budget binds; a fraction the budgets set (strictly inside its
    box) is worth exactly what it costs at those prices: ``w = λ·τ + μ·ε``."""
    for tau_d, tau_s, eps_d, eps_s, time_s, energy_j in random_lps(300, seed=2):
        ratio = 0.7
        answer = solve_lp(
            W_D, W_S, tau_d, tau_s, eps_d, eps_s, time_s, energy_j, *box_d, *box_s, ratio
        )
        if answer.status == "infeasible":
            continue
        lam, mu = answer.time_price, answer.energy_price
        assert lam >= 0.0 and mu >= 0.0
        used_t = tau_d * answer.rho_device + tau_s * answer.rho_server
        used_e = eps_d * answer.rho_device + eps_s * answer.rho_server
        if lam > 0.0:
            assert used_t == pytest.approx(time_s, rel=1e-9)
        if mu > 0.0:
            assert used_e == pytest.approx(energy_j, rel=1e-9)
        if answer.free in ("device", "both") and tau_d > 0.0:
            assert pytest.approx(lam * tau_d + mu * eps_d, rel=1e-9) == W_D
        if answer.free in ("server", "both") and tau_s > 0.0:
            assert pytest.approx(lam * tau_s + mu * eps_s, rel=1e-9) == W_S
        if answer.status == "kkt-point" and mu > 0.0:
            assert lam == pytest.approx(ratio * mu, rel=1e-12)  # the family's own ratio


def corner(ratio: float):
    """ρ̃ at its top (0.5) and ρ set by both budgets at once (0.5): a corner of the LP.

    Budgets ρ + ρ̃ ≤ 1 s and ρ + 2·ρ̃ ≤ 1.5 J; worth 1 and 1.5 per unit. The prices with
    ``1 = λ + μ`` (ρ free) that keep ρ̃ at its top are λ ∈ [0.5, 1], i.e. λ/μ ≥ 1.
    """
    return solve_lp(1.0, 1.5, 1.0, 1.0, 1.0, 2.0, 1.0, 1.5, 0.0, 1.0, 0.0, 0.5, ratio)


def test_at_a_corner_the_prices_in_the_ratio_lambda_make_it_a_kkt_point():
    answer = corner(ratio=3.0)
    assert (answer.rho_device, answer.rho_server, answer.free) == (0.5, 0.5, "device")
    assert answer.status == "kkt-point"
    assert (answer.time_price, answer.energy_price) == pytest.approx((0.75, 0.25))


def test_at_a_corner_the_prices_nearest_the_ratio_tell_the_way():
    """Λ = 0.5 is below every valid ratio: the nearest prices (λ = μ = 0.5) price time above
    Λ, so the kept parameters rise with Λ (faster clocks and more power)."""
    answer = corner(ratio=0.5)
    assert answer.status == "optimum" and answer.free == "device"
    assert (answer.time_price, answer.energy_price) == pytest.approx((0.5, 0.5))
    assert answer.time_price - 0.5 * answer.energy_price > 0.0
