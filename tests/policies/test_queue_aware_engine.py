"""``joint-queue-aware`` against ``joint`` in the engine: one cell, one FCFS server, rising load.

Runs the example behind docs/queue-aware.md on a small scale (both policies see identical
arrivals: same seed).
"""

import pytest

from examples.queue_aware_comparison import compare


@pytest.fixture(scope="module")
def rows():
    figures = compare([0.5, 3.0], requests=500, seed=1)
    return {(row["rate_per_s"], row["policy"]): row for row in figures}


def test_under_load_it_meets_many_more_deadlines(rows):
    joint, aware = rows[(3.0, "joint")], rows[(3.0, "joint-queue-aware")]
    assert joint["server_utilisation"] > 0.6  # joint's own choice loads the server
    assert aware["deadline_met"] > joint["deadline_met"] + 0.3
    assert aware["latency_p99_s"] < joint["latency_p99_s"]


def test_under_load_it_pays_in_distortion(rows):
    """Where it does not win: it prunes more, so its mean distortion bound is higher."""
    joint, aware = rows[(3.0, "joint")], rows[(3.0, "joint-queue-aware")]
    assert aware["kept_fraction_mean"] < joint["kept_fraction_mean"]
    assert aware["distortion_mean"] > joint["distortion_mean"]


def test_at_light_load_it_meets_more_deadlines_for_a_little_pruning(rows):
    joint, aware = rows[(0.5, "joint")], rows[(0.5, "joint-queue-aware")]
    assert aware["deadline_met"] >= joint["deadline_met"]
    assert aware["kept_fraction_mean"] >= joint["kept_fraction_mean"] - 0.04
