"""The goodput search on fake probes: a bracket of two grid neighbours around the crossing,
``per_round`` probes per round, the same answer whatever the probes per round when the
attainment is monotone, and a conservative answer when it is not."""

from __future__ import annotations

import math

import pytest

from coinfer.emulator.errors import InputError
from coinfer.emulator.sweeps.bisection import LoadGrid, bisect_load

CROSSING = 3.7  #: where the fake attainment crosses the target
TARGET = 0.9


def monotone(x: float) -> float:
    """A decreasing attainment equal to the target at ``CROSSING``."""
    return 1.0 / (1.0 + (1.0 / TARGET - 1.0) * (x / CROSSING) ** 4)


class Recorder:
    """``evaluate`` for the search: applies ``law`` and keeps every call."""

    def __init__(self, law):
        self.law = law
        self.calls: list[list[float]] = []

    def __call__(self, xs):
        self.calls.append(list(xs))
        return [self.law(x) for x in xs]


@pytest.mark.parametrize("per_round", [1, 2, 3, 5])
@pytest.mark.parametrize(("lo", "hi"), [(None, None), (0.5, None), (None, 20.0), (1.0, 10.0)])
def test_a_monotone_attainment_is_bracketed_by_two_grid_neighbours(per_round, lo, hi):
    record = Recorder(monotone)
    search = bisect_load(record, TARGET, per_round=per_round, tolerance=0.05, lo=lo, hi=hi)
    met, missed = search.bracket
    assert search.status == "found"
    assert met <= CROSSING < missed
    assert search.missed_index == search.met_index + 1
    assert missed == pytest.approx(met * 1.05, rel=1e-9)
    first, *later = record.calls
    assert len(first) == (max(per_round, 2) if lo and hi else per_round)
    assert all(1 <= len(xs) <= per_round for xs in later)
    assert search.rounds == len(record.calls)
    assert sum(map(len, record.calls)) == len(search.probes)


def test_the_answer_does_not_depend_on_the_probes_per_round():
    answers = {
        bisect_load(Recorder(monotone), TARGET, per_round=w, tolerance=0.02).load_factor
        for w in range(1, 7)
    }
    assert len(answers) == 1


def test_more_probes_per_round_take_fewer_rounds():
    rounds = [
        bisect_load(Recorder(monotone), TARGET, per_round=w, tolerance=0.01).rounds
        for w in (1, 3, 7)
    ]
    assert rounds[0] > rounds[1] > rounds[2]


def test_probed_loads_are_on_the_grid_anchored_at_lo():
    search = bisect_load(Recorder(monotone), TARGET, per_round=2, tolerance=0.1, lo=0.7)
    grid = LoadGrid(0.7, 1.1)
    for probe in search.probes:
        assert probe.load_factor == grid.x(probe.index)
        assert probe.load_factor == pytest.approx(0.7 * 1.1**probe.index, rel=1e-11)


def test_without_a_bracket_it_starts_at_powers_of_two_around_one():
    record = Recorder(monotone)
    bisect_load(record, TARGET, per_round=3, tolerance=0.05)
    assert record.calls[0] == pytest.approx([0.5, 1.0, 2.0], rel=0.04)  # 1.05^±14 ≈ 2


def test_a_noisy_attainment_gives_the_largest_met_load_below_the_smallest_miss():
    """Met at 1, missed at about 2 (noise), met again at 3: the answer stays below the miss."""

    def noisy(x: float) -> float:
        if 1.7 < x < 2.3:
            return 0.85  # a dip
        return monotone(x)

    search = bisect_load(Recorder(noisy), TARGET, per_round=3, tolerance=0.05, lo=1.0, hi=3.0)
    met, missed = search.bracket
    assert 1.7 < missed < 2.3 and met < missed
    assert all(p.meets for p in search.probes if p.load_factor < missed)
    assert [p.meets for p in search.probes if p.load_factor > 3] == [True]  # ignored


def test_a_miss_below_an_earlier_met_load_moves_the_bracket_down():
    """A deterministic pseudo-noise around the monotone law: whatever the probes saw, every
    probe below the answer met the target and its grid neighbour above missed it."""

    def jitter(x: float) -> float:
        return monotone(x) + 0.04 * math.sin(997.0 * x)

    for per_round in (1, 2, 4):
        search = bisect_load(Recorder(jitter), TARGET, per_round=per_round, tolerance=0.03)
        assert search.status == "found"
        answer = search.load_factor
        assert all(p.meets for p in search.probes if p.load_factor <= answer)
        above = [p for p in search.probes if p.index == search.met_index + 1]
        assert above and not above[0].meets


def test_met_everywhere_and_missed_everywhere_stop_after_the_doublings():
    met = bisect_load(Recorder(lambda x: 1.0), TARGET, per_round=2, max_doublings=3)
    assert met.status == "met-everywhere" and met.bracket[1] is None
    assert met.load_factor == pytest.approx(2.0**4, rel=0.1)  # 1 and 2, then 3 doublings
    missed = bisect_load(Recorder(lambda x: 0.0), TARGET, per_round=1, max_doublings=3)
    assert missed.status == "missed-everywhere" and missed.load_factor is None
    assert missed.bracket[1] == min(p.load_factor for p in missed.probes)
    assert missed.bracket[1] == pytest.approx(1 / 8, rel=0.1)  # 1, then 3 halvings


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target": 0.0}, "attainment: got 0.0, expected a share in (0, 1]"),
        ({"target": 1.2}, "attainment: got 1.2"),
        ({"tolerance": 0.0}, "tolerance: got 0.0, expected a relative tolerance in (0, 1]"),
        ({"per_round": 0}, "per_round: got 0, expected a positive integer"),
        ({"lo": -1.0}, "lo: got -1.0, expected a load factor > 0"),
        ({"lo": 2.0, "hi": 2.05}, "hi: got 2.05 with lo 2.0, expected hi above lo"),
    ],
)
def test_bad_arguments_are_refused_naming_them(kwargs, message):
    record = Recorder(monotone)
    target = kwargs.pop("target", TARGET)
    with pytest.raises(InputError) as caught:
        bisect_load(record, target, **kwargs)
    assert str(caught.value).startswith(message)
    assert record.calls == []
