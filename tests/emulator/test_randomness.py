"""Named random streams, and the bulk seeding that makes 100,000 of them cheap.

Every stream is the child ``SeedSequence(root, spawn_key=(crc32(source), index))``. The engine
seeds the streams of all its devices at once (:class:`~coinfer.emulator.randomness.Streams`):
that must change nothing drawn, so each bulk-seeded generator is compared, number for number,
with the one :func:`~coinfer.emulator.randomness.stream` builds, for roots and indices of one
word and of several, and a run's draws are traced back to the named streams.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coinfer.emulator.api.run import simulate
from coinfer.emulator.randomness import (
    SOURCES,
    Streams,
    generate_states,
    seed_sequence,
    stream,
)
from coinfer.emulator.scenario.schema import scenario_from_dict

#: Root seeds of one 32-bit word, of two, and longer than numpy's pool of four words.
ROOTS = [0, 1, 7, 2**32 - 1, 2**32, 2**40 + 5, 2**128 + 3, 2**200 + 12345]
#: Indices of one word (the engine's devices) and of two (seeded one by one).
INDICES = [0, 1, 2, 5, 999, 2**32 - 1, 2**32, 2**33 + 7]


@pytest.mark.parametrize("root", ROOTS)
@pytest.mark.parametrize(("n_words", "dtype"), [(4, np.uint64), (1, np.uint64), (8, np.uint32)])
def test_bulk_states_equal_numpys_seed_sequence(root, n_words, dtype):
    """Row ``i`` of ``generate_states`` is the child seed sequence's ``generate_state``, for
    every source, dtype and word count."""
    for source in SOURCES:
        states = generate_states(root, source, INDICES, n_words, dtype)
        assert states.shape == (len(INDICES), n_words) and states.dtype == np.dtype(dtype)
        for row, index in zip(states, INDICES, strict=True):
            np.testing.assert_array_equal(
                row, seed_sequence(root, source, index).generate_state(n_words, dtype)
            )


@settings(max_examples=50, deadline=None)
@given(
    root=st.integers(min_value=0, max_value=2**160),
    indices=st.lists(st.integers(min_value=0, max_value=2**34), min_size=1, max_size=5),
    source=st.sampled_from(SOURCES),
)
def test_bulk_states_equal_numpys_for_any_root_and_index(root, indices, source):
    """The same for arbitrary roots and indices."""
    states = generate_states(root, source, indices, 4, np.uint64)
    for row, index in zip(states, indices, strict=True):
        expected = seed_sequence(root, source, index).generate_state(4, np.uint64)
        np.testing.assert_array_equal(row, expected)


def test_bulk_states_refuse_what_numpy_refuses():
    """Negative seeds and indices, and word types other than 32 and 64 bits."""
    with pytest.raises(ValueError, match="non-negative"):
        generate_states(-1, "work", [0], 4)
    with pytest.raises(ValueError, match="non-negative"):
        generate_states(1, "work", [-3], 4)
    with pytest.raises(ValueError, match="uint32 or uint64"):
        generate_states(1, "work", [0], 4, np.int64)
    with pytest.raises(ValueError, match="random source"):
        generate_states(1, "weather", [0], 4)


@pytest.mark.parametrize("root", [3, 2**40 + 5])
def test_bulk_seeded_streams_draw_what_named_streams_draw(root):
    """``Streams(root, n).stream(source, i)`` draws the numbers of ``stream(root, source, i)``,
    inside ``0 .. n−1`` and outside it."""
    streams = Streams(root, 1000)
    for source in ("arrivals", "work", "fading"):
        for index in (0, 5, 999, 1000, 2**32):
            np.testing.assert_array_equal(
                streams.stream(source, index).random(20), stream(root, source, index).random(20)
            )


def test_a_bulk_seed_stands_in_for_the_seed_sequence():
    """Its state words, for any length and word type, and its children are those of the real
    child seed sequence."""
    bulk = Streams(11, 10).seed_sequence("fading", 4)
    real = seed_sequence(11, "fading", 4)
    for n_words, dtype in [(2, np.uint64), (4, np.uint64), (5, np.uint32), (8, np.uint32)]:
        np.testing.assert_array_equal(
            bulk.generate_state(n_words, dtype), real.generate_state(n_words, dtype)
        )
    np.testing.assert_array_equal(bulk.generate_state(9), real.generate_state(9))  # beyond bulk
    np.testing.assert_array_equal(bulk.generate_state(6, np.uint64), real.generate_state(6, "u8"))
    for child, expected in zip(bulk.spawn(2), real.spawn(2), strict=True):
        np.testing.assert_array_equal(child.generate_state(4), expected.generate_state(4))


@pytest.mark.parametrize(
    "draw",
    [
        lambda rng, size: rng.exponential(2.0, size),
        lambda rng, size: rng.uniform(0.5, 1.5, size),
        lambda rng, size: rng.lognormal(-0.1, 0.4, size),
        lambda rng, size: rng.random(size),
    ],
    ids=["exponential", "uniform", "lognormal", "random"],
)
def test_numbers_drawn_do_not_depend_on_the_block_sizes(draw):
    """The engine draws 1, 2, 4, … 256 numbers per call; the laws consume their generator one
    number after the other, so the sequence is the one drawn in a single call."""
    sizes = [1, 2, 4, 8, 16, 32, 64, 128, 256, 256, 256]
    rng = stream(5, "work", 1)
    blocks = np.concatenate([draw(rng, size) for size in sizes])
    np.testing.assert_array_equal(blocks, draw(stream(5, "work", 1), sum(sizes)))


def test_a_run_draws_each_devices_arrivals_and_work_from_its_named_stream():
    """Device ``i``'s arrival times are the running sums of ``stream(seed, "arrivals", i)``'s
    exponential gaps and its work scales the draws of ``stream(seed, "work", i)``, past the
    first blocks of draws."""
    rate, mean_work, seed = 20.0, 1.5, 9
    scenario = scenario_from_dict(
        {
            "name": "streams",
            "duration_s": 30.0,
            "devices": [
                {
                    "name": "d",
                    "count": 3,
                    "arrivals": {"process": "poisson", "rate_per_s": rate},
                    "work": {"distribution": "exponential", "mean": mean_work},
                }
            ],
            "policy": {"name": "fixed", "params": {}},
        }
    )
    trace = simulate(scenario, seed=seed).trace.sort_values("request_id")
    for index in range(3):
        rows = trace[trace["device_id"] == f"d-{index}"]
        count = len(rows)
        assert count > 300  # beyond the first blocks
        gaps = stream(seed, "arrivals", index).exponential(1.0 / rate, count)
        np.testing.assert_allclose(rows["t_arrival"].to_numpy(), np.cumsum(gaps), rtol=1e-12)
        work = stream(seed, "work", index).exponential(mean_work, count)
        np.testing.assert_array_equal(rows["work_scale"].to_numpy(), work)


def test_the_engine_docs_name_every_random_source():
    """docs/engine.md's Randomness section lists each stream the engine can draw from."""
    docs = (Path(__file__).parents[2] / "docs" / "engine.md").read_text()
    section = docs.split("## Randomness", 1)[1].split("\n## ", 1)[0]
    missing = [source for source in SOURCES if f"`{source}`" not in section]
    assert not missing
