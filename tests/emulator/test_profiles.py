"""What a profile says about each split point: q(l), s(l), N(l), Ñ(l), θ(l)."""

import numpy as np
import pytest
from pydantic import ValidationError

from coinfer.emulator.model.profiles import Block, ModelProfile


def three_blocks(**overrides) -> ModelProfile:
    data = dict(
        name="toy",
        family="custom",
        input_bits=1000.0,
        blocks=[
            Block(name="a", params=10, flops=100, activation_bits=800),
            Block(name="b", params=20, flops=200, activation_bits=400),
            Block(name="c", params=30, flops=300, activation_bits=50),
        ],
    )
    data.update(overrides)
    return ModelProfile(**data)


def test_device_side_is_the_prefix_and_server_side_the_rest():
    toy = three_blocks()
    np.testing.assert_array_equal(toy.device_params, [0, 10, 30, 60])
    np.testing.assert_array_equal(toy.server_params, [60, 50, 30, 0])
    np.testing.assert_array_equal(toy.device_flops, [0, 100, 300, 600])
    np.testing.assert_array_equal(toy.server_flops, [600, 500, 300, 0])


def test_payload_is_the_input_then_each_output_and_nothing_when_fully_on_device():
    np.testing.assert_array_equal(three_blocks().payload_bits, [1000, 800, 400, 0])


def test_split_arrays_are_read_only():
    with pytest.raises(ValueError):
        three_blocks().device_params[0] = 5


def test_max_split_keeps_trailing_blocks_on_the_server():
    toy = three_blocks(max_split=2)
    assert list(toy.split_points) == [0, 1, 2]
    with pytest.raises(
        ValueError, match=r"split: got 3 for model 'toy', expected an integer in 0..2"
    ):
        toy.check_split(3)
    assert toy.split_summary(2)["server_flops"] == 300


def test_negative_parameters_are_refused_naming_the_field():
    with pytest.raises(ValidationError, match="params"):
        Block(name="x", params=-1, flops=0, activation_bits=0)


def test_duplicate_block_names_are_refused():
    with pytest.raises(ValidationError, match="duplicate block names: a"):
        three_blocks(blocks=[Block(name="a", params=1, flops=1, activation_bits=1)] * 2)


def test_max_split_beyond_the_blocks_is_refused():
    with pytest.raises(ValidationError, match="max_split 4 exceeds"):
        three_blocks(max_split=4)
