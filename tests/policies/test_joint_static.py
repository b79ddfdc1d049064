"""The joint solver's static parts (``joint_static``): built once per device class, cached.

What depends only on the hardware, the bounds and the kept parameters per split is built once
and shared by every request of that class; the gain, band, budgets and work scale of a request
do not change it. The cache is bounded: when full it starts afresh.
"""

from coinfer.policies.joint_static import StaticCache
from coinfer.policies.problem import Problem
from tests.policies.contexts import HARDWARE, context


def test_requests_of_one_device_class_share_a_static_part():
    cache = StaticCache()
    first = cache.get(Problem.from_context(context()))
    another_request = Problem.from_context(
        context(gain=1e-12, bandwidth_hz=1e6, deadline_s=0.1, energy_budget_j=0.01, work_scale=2)
    )
    assert cache.get(another_request) is first
    assert len(cache) == 1


def test_other_hardware_or_other_bounds_get_their_own():
    cache = StaticCache()
    problem = Problem.from_context(context())
    first = cache.get(problem)
    other_device = Problem.from_context(context(device=HARDWARE.get("phone-soc")))
    fixed_power = problem.pinned(p_lo_w=problem.p_hi_w)
    floored = Problem.from_context(context(), rho_min=0.3)
    parts = [cache.get(p) for p in (other_device, fixed_power, floored)]
    assert len({id(part) for part in [first, *parts]}) == 4
    assert len(cache) == 4


def test_a_full_cache_starts_afresh():
    cache = StaticCache(size=2)
    problem = Problem.from_context(context())
    for power in (0.1, 0.2, 0.3):
        cache.get(problem.pinned(p_hi_w=power))
    assert len(cache) == 1  # the third class found it full
