"""The candidate servers a policy sees, and the least-loaded rule."""

from coinfer.emulator.engine.routing import CandidateServer, ServerChooser, least_loaded
from coinfer.emulator.model.hardware import HardwareCatalog
from coinfer.policies.fixed import FixedPolicy
from tests.topologies.routing_policies import LastServer

L4 = HardwareCatalog.builtin().get("l4")


def candidate(id, workers=1, waiting=0, serving=0, en_route=0, latency=0.0, s_per_bit=0.0):
    return CandidateServer(
        id, "edge", L4, workers, "fcfs", waiting, serving, 0.0, en_route, latency, s_per_bit, 0, 0.0
    )


def test_load_is_requests_per_worker_counting_those_on_their_way():
    assert candidate("a", workers=4, waiting=2, serving=4, en_route=2).load == 2.0


def test_least_loaded_picks_the_fewest_per_worker_ties_to_the_first():
    assert least_loaded([candidate("own", serving=1), candidate("b", workers=4, serving=3)]) == 1
    assert least_loaded([candidate("own"), candidate("b")]) == 0
    assert least_loaded([candidate("own", en_route=1), candidate("b")]) == 1


def test_backhaul_estimate_is_latency_plus_bits_per_bandwidth():
    assert candidate("a", latency=0.01, s_per_bit=1e-9).backhaul_s(2e6) == 0.012


def test_a_policy_chooses_servers_when_it_has_choose_server():
    assert issubclass(LastServer, ServerChooser)
    assert not issubclass(FixedPolicy, ServerChooser)
